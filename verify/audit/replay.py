"""Replay of the whole custody log: hash chain, leaf hashes, stored tree, roots at given sizes.

One pass over the events in windows of ``batch`` sequence numbers (flat memory). For each
position of the tree: the event must be there, its ``prev`` must be the leaf hash of the event
before, its leaf must be the leaf stored when it was appended, and every stored subtree hash
it completes must be the hash of its two stored children. The leaves feed a ``StreamingRoot``
whose root is captured at every size a checkpoint names.

Speed: canonicalising an event with ``rfc8785`` costs ~25 us. Events whose data is already
canonical (every event written by ``CustodyLog``) are assembled directly and hashed; when that
hash equals the leaf stored at append time the bytes are the canonical ones (SHA-256 does not
collide). Any other event goes through ``verify.log.events.event_leaf``, the definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from storage.catalog.logrows import GENESIS
from storage.catalog.session import Transaction
from storage.records import Event
from verify.log.events import event_leaf
from verify.log.merkle import StreamingRoot, leaf_hash, node_hash, root
from verify.problems import Problem, Problems

_quote: Callable[[str], str] = json.encoder.encode_basestring
_TEMPLATE = '{"actor":%s,"data":%s,"dock":%s,"item":%s,"prev":%s,"seq":%d,"time":%s,"type":%s}'


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    head_size: int
    events: int
    roots: Mapping[int, bytes]
    """Recomputed roots of the log as stored, at each requested size it reached."""


def fast_leaf(ev: Event) -> bytes | None:
    """The leaf hash of ``ev`` if its ``data`` text is canonical; only a hint (see module)."""
    item = "null" if ev.item is None else str(ev.item)
    text = _TEMPLATE % (
        _quote(ev.actor),
        ev.data,
        _quote(ev.dock),
        item,
        _quote(ev.prev),
        ev.seq,
        _quote(ev.time),
        _quote(ev.type),
    )
    try:
        return leaf_hash(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _exact_leaf(ev: Event, problems: Problems) -> bytes | None:
    try:
        return event_leaf(ev)
    except (ValueError, TypeError) as e:  # JSONDecodeError and rfc8785 errors are ValueErrors
        problems.add_event(
            "event-not-canonical",
            ev.seq,
            what="cannot be serialised canonically",
            expected="an RFC 8785 serialisable event",
            found=f"{type(e).__name__}: {e}",
            item=ev.item,
        )
        return None


def completed_ranges(start: int, end: int) -> list[tuple[int, int, int]]:
    """``(level, first, stop)``: node indices that leaves ``start..end-1`` complete, per level.

    Node ``(L, i)`` is completed by leaf ``(i + 1) * 2**L - 1``.
    """
    out = []
    level = 0
    while (1 << level) <= end:
        first = ((start + (1 << level)) >> level) - 1
        stop = end >> level
        if first < stop:
            out.append((level, first, stop))
        level += 1
    return out


class _Pass:
    def __init__(
        self,
        txn: Transaction,
        problems: Problems,
        sizes: Collection[int],
        observe: Callable[[Event], None] | None = None,
    ) -> None:
        self.txn = txn
        self.observe = observe
        self.problems = problems
        self.sizes = frozenset(sizes)
        self.stream = StreamingRoot()
        self.roots: dict[int, bytes] = {0: self.stream.root()} if 0 in self.sizes else {}
        self.prev_hex = GENESIS
        self.prev_seq = -1
        self.last_hex: str | None = None
        self.left: dict[int, bytes | None] = {}  # stored left sibling waiting at each level
        self.events = 0

    def window(self, start: int, end: int) -> None:
        stored = {
            level: self.txn.log.nodes_in(level, first, stop)
            for level, first, stop in completed_ranges(start, end)
        }
        by_seq = {ev.seq: ev for ev in self.txn.log.event_range(start, end)}
        for pos in range(start, end):
            stored_leaf = self._stored_tree(pos, stored)
            ev = by_seq.get(pos)
            if ev is None:
                self.problems.add_event(
                    "event-missing",
                    pos,
                    what="is missing from the log",
                    expected=f"an event with seq {pos}",
                    found="no event",
                    item=None,
                )
                continue
            self._event(ev, stored_leaf)

    def _event(self, ev: Event, stored_leaf: bytes | None) -> None:
        leaf = fast_leaf(ev)
        if leaf is None or leaf != stored_leaf:
            leaf = _exact_leaf(ev, self.problems)
            if leaf is not None and stored_leaf is not None and leaf != stored_leaf:
                self.problems.add_event(
                    "event-leaf-mismatch",
                    ev.seq,
                    what="differs from the event that was appended",
                    expected=f"leaf hash {stored_leaf.hex()} (stored at append)",
                    found=f"leaf hash {leaf.hex()} ({ev.type}, item {ev.item})",
                    item=ev.item,
                )
        if self.prev_seq == ev.seq - 1 and ev.prev != self.prev_hex:
            self.problems.add(
                Problem(
                    code="chain-broken",
                    subject=f"event #{ev.seq} does not chain to the event before it",
                    expected=f"prev {self.prev_hex}",
                    found=f"prev {ev.prev}",
                    item=ev.item,
                    seq=ev.seq,
                    last_seq=ev.seq,
                )
            )
        if leaf is None:  # unserialisable: keep positions aligned with a hash of the row
            leaf = leaf_hash(repr(ev).encode("utf-8", "backslashreplace"))
        self.prev_hex = self.last_hex = leaf.hex()
        self.prev_seq = ev.seq
        self.events += 1
        if self.observe is not None:
            self.observe(ev)
        self.stream.push(leaf)
        if self.stream.size in self.sizes:
            self.roots[self.stream.size] = self.stream.root()

    def _stored_tree(self, pos: int, stored: Mapping[int, Mapping[int, bytes]]) -> bytes | None:
        """Check the stored nodes that leaf ``pos`` completes; returns the stored leaf."""
        leaf = stored[0].get(pos)
        if leaf is None:
            self._node_problem("log-node-missing", 0, pos, "a stored leaf hash", "none")
        current, level, idx = leaf, 0, pos
        while idx & 1:
            left = self.left.get(level)
            level, idx = level + 1, idx >> 1
            parent = stored[level].get(idx)
            if parent is None:
                self._node_problem("log-node-missing", level, idx, "a stored node", "none")
            elif left is not None and current is not None and node_hash(left, current) != parent:
                self._node_problem(
                    "log-node-mismatch",
                    level,
                    idx,
                    f"{node_hash(left, current).hex()} (hash of its stored children)",
                    parent.hex(),
                )
            current = parent
        self.left[level] = current
        return leaf

    def _node_problem(self, code: str, level: int, idx: int, expected: str, found: str) -> None:
        self.problems.add(
            Problem(
                code=code,
                subject=f"stored tree node (level {level}, index {idx})",
                expected=expected,
                found=found,
            )
        )


def replay_log(
    txn: Transaction,
    problems: Problems,
    *,
    sizes: Collection[int],
    batch: int = 20_000,
    observe: Callable[[Event], None] | None = None,
) -> Replay:
    """Replay every event of the log in ``txn``; see the module doc. ``observe`` sees each
    event in sequence order (the projection of ``verify.audit.facts`` folds them)."""
    head = txn.log.head()
    p = _Pass(txn, problems, sizes, observe)
    for start in range(0, head.size, batch):
        p.window(start, min(start + batch, head.size))
    for ev in txn.log.events_outside(head.size):
        problems.add(
            Problem(
                code="event-outside-log",
                subject=f"event #{ev.seq} ({ev.type}) lies outside the log",
                expected=f"seq between 0 and {head.size - 1} (the log head)",
                found=f"seq {ev.seq}",
                item=ev.item,
                seq=ev.seq,
                last_seq=ev.seq,
            )
        )
    if p.prev_seq == head.size - 1 and p.last_hex is not None and p.last_hex != head.last_leaf:
        problems.add(
            Problem(
                code="log-head-mismatch",
                subject="the log head's last leaf",
                expected=f"{p.last_hex} (leaf of event #{head.size - 1})",
                found=head.last_leaf,
            )
        )
    _check_beyond_head(txn, problems, head.size)
    if p.stream.size == head.size and "log-node-missing" not in problems.codes():
        stored_root = root(head.size, txn.log.read_node)
        if stored_root != p.stream.root():
            problems.add(
                Problem(
                    code="log-root-mismatch",
                    subject=f"root of the stored tree at the head (size {head.size})",
                    expected=f"{p.stream.root().hex()} (recomputed from the events)",
                    found=stored_root.hex(),
                )
            )
    return Replay(head_size=head.size, events=p.events, roots=p.roots)


def _check_beyond_head(txn: Transaction, problems: Problems, size: int) -> None:
    for level, count in sorted(txn.log.node_counts().items()):
        expected = size >> level
        if count > expected:
            problems.add(
                Problem(
                    code="log-node-beyond-head",
                    subject=f"stored tree nodes at level {level}",
                    expected=f"{expected} node(s) for a log of {size} events",
                    found=f"{count} (nodes of events that are no longer in the log)",
                )
            )
