"""One pass over positions of the custody log: the checks of each event and stored node.

``LogPass`` walks windows of sequence numbers in order. For each position of the tree: the
event must be there, its ``prev`` must be the leaf hash of the event before, its leaf must be
the leaf stored when it was appended, and every stored subtree hash it completes must be the
hash of its two stored children. The leaves feed a ``StreamingRoot`` whose root is captured at
every size a checkpoint names. ``verify.audit.replay`` runs one pass over the whole log;
``verify.audit.chunks`` runs one per chunk in worker processes and merges them in order.

Speed: events whose data is already canonical (every event written by ``CustodyLog``) are
assembled directly and hashed (``fast_leaf``); when that hash equals the leaf stored at append
time the bytes are the canonical ones (SHA-256 does not collide). Any other event goes through
``verify.log.events.event_leaf``, the definition.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from i18n import _
from storage.catalog.logrows import GENESIS
from storage.catalog.session import Transaction
from storage.records import Event, EventColumns, event_of
from verify.log.events import event_leaf
from verify.log.merkle import StreamingRoot, leaf_hash, node_hash
from verify.problems import Problem

_quote: Callable[[str], str] = json.encoder.encode_basestring
_TEMPLATE = '{"actor":%s,"data":%s,"dock":%s,"item":%s,"prev":%s,"seq":%d,"time":%s,"type":%s}'


class Sink(Protocol):
    """Where a pass reports: ``verify.problems.Problems``, or a chunk's recorder."""

    def add(self, problem: Problem) -> None: ...

    def add_event(
        self, code: str, seq: int, *, what: str, expected: str, found: str, item: int | None
    ) -> None: ...


def fast_leaf(ev: Event) -> bytes | None:
    """The leaf hash of ``ev`` if its ``data`` text is canonical; only a hint (see module)."""
    return fast_leaf_of((ev.seq, ev.time, ev.type, ev.item, ev.actor, ev.dock, ev.data, ev.prev))


def fast_leaf_of(cols: EventColumns) -> bytes | None:
    """``fast_leaf`` of an event's columns (``storage.records.EventColumns``)."""
    seq, time, type_, item, actor, dock, data, prev = cols
    text = _TEMPLATE % (
        _quote(actor),
        data,
        _quote(dock),
        "null" if item is None else str(item),
        _quote(prev),
        seq,
        _quote(time),
        _quote(type_),
    )
    try:
        return leaf_hash(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None


def _exact_leaf(ev: Event, problems: Sink) -> bytes | None:
    try:
        return event_leaf(ev)
    except (ValueError, TypeError) as e:  # JSONDecodeError and rfc8785 errors are ValueErrors
        problems.add_event(
            "event-not-canonical",
            ev.seq,
            what=_("cannot be serialised canonically"),
            expected=_("an RFC 8785 serialisable event"),
            found=f"{type(e).__name__}: {e}",
            item=ev.item,
        )
        return None


def chain_broken(ev: Event, prev_hex: str) -> Problem:
    return Problem(
        code="chain-broken",
        subject=_("event #{seq} does not chain to the event before it").format(seq=ev.seq),
        expected=_("prev {hash}").format(hash=prev_hex),
        found=_("prev {hash}").format(hash=ev.prev),
        item=ev.item,
        seq=ev.seq,
        last_seq=ev.seq,
    )


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


Stored = Mapping[int, Mapping[int, bytes]]


class LogPass:
    """The state of a replay from the start of the log (``verify.audit.chunks`` subclasses it
    for a pass that starts in the middle and stops climbing the tree at a given level)."""

    top: int | None = None
    """The highest tree level this pass climbs to (None: the root)."""

    def __init__(
        self,
        txn: Transaction,
        problems: Sink,
        sizes: Collection[int],
        observe: Callable[[Event], None] | None = None,
    ) -> None:
        self.txn = txn
        self.observe = observe
        self.problems = problems
        self.sizes = frozenset(sizes)
        self.stream = StreamingRoot()
        self.roots: dict[int, bytes] = {0: self.stream.root()} if 0 in self.sizes else {}
        self.prev_hex: str | None = GENESIS  # None: not known to this pass (a chunk's start)
        self.prev_seq = -1
        self.last_hex: str | None = None
        self.left: dict[int, bytes | None] = {}  # stored left sibling waiting at each level
        self.events = 0

    def window(self, start: int, end: int) -> None:
        stored = {
            level: self.txn.log.nodes_in(level, first, stop)
            for level, first, stop in completed_ranges(start, end)
        }
        by_seq = {cols[0]: cols for cols in self.txn.log.event_columns(start, end)}
        for pos in range(start, end):
            stored_leaf = self._stored_tree(pos, stored)
            cols = by_seq.get(pos)
            if cols is None:
                self.problems.add_event(
                    "event-missing",
                    pos,
                    what=_("is missing from the log"),
                    expected=_("an event with seq {seq}").format(seq=pos),
                    found=_("no event"),
                    item=None,
                )
                continue
            self._event(cols, stored_leaf)

    def _event(self, cols: EventColumns, stored_leaf: bytes | None) -> bytes:
        """The checks of one event (its columns; an ``Event`` is built only to report it or
        hand it on); returns its leaf hash."""
        ev: Event | None = None
        seq = cols[0]
        leaf = fast_leaf_of(cols)
        if leaf is None or leaf != stored_leaf:
            ev = event_of(cols)
            leaf = _exact_leaf(ev, self.problems)
            if leaf is not None and stored_leaf is not None and leaf != stored_leaf:
                self.problems.add_event(
                    "event-leaf-mismatch",
                    ev.seq,
                    what=_("differs from the event that was appended"),
                    expected=_("leaf hash {hash} (stored at append)").format(
                        hash=stored_leaf.hex()
                    ),
                    found=_("leaf hash {hash} ({type}, item {item})").format(
                        hash=leaf.hex(), type=ev.type, item=ev.item
                    ),
                    item=ev.item,
                )
        if self.prev_seq == seq - 1:
            if self.prev_hex is None:
                self.chain_unknown(event_of(cols))
            elif cols[7] != self.prev_hex:  # prev
                self.problems.add(chain_broken(event_of(cols), self.prev_hex))
        if leaf is None:  # unserialisable: keep positions aligned with a hash of the row
            leaf = leaf_hash(repr(ev or event_of(cols)).encode("utf-8", "backslashreplace"))
        self.prev_hex = self.last_hex = leaf.hex()
        self.prev_seq = seq
        self.events += 1
        if self.observe is not None:
            self.observe(ev or event_of(cols))
        self.stream.push(leaf)
        if self.stream.size in self.sizes:
            self.roots[self.stream.size] = self.stream.root()
        return leaf

    def chain_unknown(self, ev: Event) -> None:
        """The event before ``ev`` lies before this pass: only a chunk pass gets here."""
        raise AssertionError(f"event #{ev.seq}: the leaf before it is unknown")

    def reached_top(self, level: int, idx: int, current: bytes | None) -> None:
        """The climb from a leaf stopped at ``self.top``: only a chunk pass gets here."""
        raise AssertionError(f"node ({level}, {idx}) lies above this pass")

    def _stored_tree(self, pos: int, stored: Stored) -> bytes | None:
        """Check the stored nodes that leaf ``pos`` completes; returns the stored leaf."""
        leaf = stored[0].get(pos)
        if leaf is None:
            self._node_problem("log-node-missing", 0, pos, _("a stored leaf hash"), _("none"))
        self.climb(0, pos, leaf, stored)
        return leaf

    def climb(self, level: int, idx: int, current: bytes | None, stored: Stored) -> None:
        """From stored node ``(level, idx)`` (hash ``current``) up through every parent it
        completes: each must be stored and be the hash of its two stored children."""
        while idx & 1:
            if level == self.top:
                self.reached_top(level, idx, current)
                return
            left = self.left.get(level)
            level, idx = level + 1, idx >> 1
            parent = stored[level].get(idx)
            if parent is None:
                self._node_problem("log-node-missing", level, idx, _("a stored node"), _("none"))
            elif left is not None and current is not None and node_hash(left, current) != parent:
                self._node_problem(
                    "log-node-mismatch",
                    level,
                    idx,
                    _("{hash} (hash of its stored children)").format(
                        hash=node_hash(left, current).hex()
                    ),
                    parent.hex(),
                )
            current = parent
        if level == self.top:
            self.reached_top(level, idx, current)
            return
        self.left[level] = current

    def _node_problem(self, code: str, level: int, idx: int, expected: str, found: str) -> None:
        self.problems.add(
            Problem(
                code=code,
                subject=_("stored tree node (level {level}, index {index})").format(
                    level=level, index=idx
                ),
                expected=expected,
                found=found,
            )
        )
