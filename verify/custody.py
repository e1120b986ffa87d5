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
        """Append an event now and return it with its ``seq``, for a caller that refers to
        it; else ``append_at_commit`` holds the log's lock for less time (PostgreSQL)."""
        ev = self._event(type=type, actor=actor, data=data, item=item)
        txn.log.append_waiting()  # events appended at commit before this one go first
        if txn.log.appends_in_one_statement():
            # PostgreSQL, the transaction's first append: lock, chain, hash and store in one
            # statement, so the lock is held for that statement and the COMMIT (issue 19)
            appended = txn.log.append_in_one_statement([(ev, canonical_parts(ev))])
        else:
            appended = self._append_here(txn, ev)
        logger.debug("custody event seq=%d type=%s item=%s", appended.seq, type, item)
        return appended

    def append_at_commit(
        self,
        txn: Transaction,
        *,
        type: EventType,
        actor: str,
        data: Mapping[str, JSON],
        item: int | None = None,
    ) -> None:
        """Append an event when ``txn`` commits (or when something reads the log before
        that), in the order of the calls; the same event as ``append``'s, with the time of
        this call. On PostgreSQL its statement goes with the COMMIT, so the log's lock is
        held only for the server's time for both (issue 19): for the appends of an ingest
        and of the workers, whose callers need no ``seq`` back."""
        ev = self._event(type=type, actor=actor, data=data, item=item)
        txn.log.append_at_commit(ev, canonical_parts(ev), lambda e: self._append_here(txn, e))

    def _event(
        self, *, type: EventType, actor: str, data: Mapping[str, JSON], item: int | None
    ) -> Event:
        """The event without ``seq`` and ``prev`` (the head gives them, under the lock)."""
        if type not in EVENT_TYPES:  # a str passed where the type checker was not asked
            raise ValueError(f"unknown custody event type {type!r}")
        return Event(
            seq=0,
            time=format_time(self.clock()),
            type=EventType(type).value,  # a plain str in the record and the log
            item=item,
            actor=actor,
            dock=self.dock,
            data=encode_data(data),
            prev="",
        )

    @staticmethod
    def _append_here(txn: Transaction, ev: Event) -> Event:
        """The client's append: lock (or hold) the head, chain, and keep the event and the
        nodes its leaf completes for the transaction's flush."""
        head = txn.log.lock_head()
        ev = replace(ev, seq=head.size, prev=head.last_leaf)
        leaf = event_leaf(ev)
        txn.log.insert_event(ev)
        txn.log.put_nodes(nodes_to_add(head.size, leaf, txn.log.sibling))
        txn.log.set_head(LogHead(size=head.size + 1, last_leaf=leaf.hex()))
        return ev
