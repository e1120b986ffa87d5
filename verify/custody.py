"""Appending to the custody log inside the caller's catalog transaction.

Each append takes the log's lock (the head row), chains ``prev`` to the last leaf, and stores the
Merkle subtree hashes that the new leaf completes: O(log n) work, never a whole-tree pass. The
lock is held until COMMIT, so everything that does not need the head is done before taking it,
and the siblings the new leaf needs come with the lock (the head row keeps the tree's frontier).
On PostgreSQL a transaction's first append is one statement (``LogRows.append_first``): the
lock is then held for that statement and the COMMIT only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from storage.catalog.session import Transaction
from storage.records import Event, LogHead
from verify.log.events import (
    EVENT_TYPES,
    JSON,
    EventType,
    canonical_parts,
    encode_data,
    event_leaf,
    format_time,
)
from verify.log.merkle import nodes_to_add

logger = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CustodyLog:
    """Writes events for one dock; ``clock`` is a seam for tests."""

    def __init__(self, *, dock: str, clock: Callable[[], datetime] = _utcnow) -> None:
        self.dock = dock
        self.clock = clock

    def append(
        self,
        txn: Transaction,
        *,
        type: EventType,
        actor: str,
        data: Mapping[str, JSON],
        item: int | None = None,
    ) -> Event:
        if type not in EVENT_TYPES:  # a str passed where the type checker was not asked
            raise ValueError(f"unknown custody event type {type!r}")
        encoded = encode_data(data)  # before the lock: only what needs the head is under it
        ev = Event(
            seq=0,  # seq and prev: from the head, under the lock
            time=format_time(self.clock()),
            type=EventType(type).value,  # a plain str in the record and the log
            item=item,
            actor=actor,
            dock=self.dock,
            data=encoded,
            prev="",
        )
        if txn.log.appends_in_one_statement():
            # PostgreSQL, the transaction's first append: lock, chain, hash and store in one
            # statement, so the lock is held for that statement and the COMMIT (issue 19)
            appended = txn.log.append_first(ev, canonical_parts(ev))
            if appended is not None:
                logger.debug("custody event seq=%d type=%s item=%s", appended.seq, type, item)
                return appended
        head = txn.log.lock_head()
        ev = replace(ev, seq=head.size, prev=head.last_leaf)
        leaf = event_leaf(ev)
        txn.log.insert_event(ev)
        txn.log.put_nodes(nodes_to_add(head.size, leaf, txn.log.sibling))
        txn.log.set_head(LogHead(size=head.size + 1, last_leaf=leaf.hex()))
        logger.debug("custody event seq=%d type=%s item=%s", ev.seq, type, item)
        return ev
