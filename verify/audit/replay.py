"""Replay of the whole custody log: hash chain, leaf hashes, stored tree, roots at given sizes.

One pass over the events in windows of ``batch`` sequence numbers (flat memory), with the
checks of ``verify.audit.logpass``; on a large log with ``parallel``, chunks of it in worker
processes (``verify.audit.chunks``), with the same findings in the same order. Then the
checks of the log as a whole: events outside it, its head, nodes beyond it, its root.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from i18n import _, n_
from storage.catalog.session import Transaction
from storage.records import Event
from verify.audit.chunks import Parallel, cores, replay_in_workers
from verify.audit.logpass import LogPass, completed_ranges, fast_leaf
from verify.log.merkle import root
from verify.problems import Problem, Problems

__all__ = ["Parallel", "Replay", "completed_ranges", "cores", "fast_leaf", "replay_log"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Replay:
    head_size: int
    events: int
    roots: Mapping[int, bytes]
    """Recomputed roots of the log as stored, at each requested size it reached."""


def replay_log(
    txn: Transaction,
    problems: Problems,
    *,
    sizes: Collection[int],
    batch: int = 20_000,
    observe: Callable[[Event], None] | None = None,
    parallel: Parallel | None = None,
) -> Replay:
    """Replay every event of the log in ``txn``; see the module doc. ``observe`` sees each
    event in sequence order (the projection of ``verify.audit.facts`` folds them)."""
    head = txn.log.head()
    p = LogPass(txn, problems, sizes, observe)
    if parallel is not None and parallel.applies(head.size):
        replay_in_workers(p, head.size, parallel, batch=batch)
    else:
        for start in range(0, head.size, batch):
            p.window(start, min(start + batch, head.size))
    for ev in txn.log.events_outside(head.size):
        problems.add(
            Problem(
                code="event-outside-log",
                subject=_("event #{seq} ({type}) lies outside the log").format(
                    seq=ev.seq, type=ev.type
                ),
                expected=_("seq between 0 and {last} (the log head)").format(last=head.size - 1),
                found=_("seq {seq}").format(seq=ev.seq),
                item=ev.item,
                seq=ev.seq,
                last_seq=ev.seq,
            )
        )
    if p.prev_seq == head.size - 1 and p.last_hex is not None and p.last_hex != head.last_leaf:
        problems.add(
            Problem(
                code="log-head-mismatch",
                subject=_("the log head's last leaf"),
                expected=_("{hash} (leaf of event #{seq})").format(
                    hash=p.last_hex, seq=head.size - 1
                ),
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
                    subject=_("root of the stored tree at the head (size {size})").format(
                        size=head.size
                    ),
                    expected=_("{hash} (recomputed from the events)").format(
                        hash=p.stream.root().hex()
                    ),
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
                    subject=_("stored tree nodes at level {level}").format(level=level),
                    expected=n_(
                        "{n} node for a log of {size} events",
                        "{n} nodes for a log of {size} events",
                        expected,
                    ).format(n=expected, size=size),
                    found=_("{n} (nodes of events that are no longer in the log)").format(n=count),
                )
            )
