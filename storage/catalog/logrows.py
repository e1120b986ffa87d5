"""Rows of the custody log: events, stored Merkle subtree hashes, the head that serialises appends.

The arithmetic (canonical form, hashes, proofs) lives in ``verify``; this module only reads and
writes rows inside the caller's transaction.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, TextClause, and_, func, insert, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from storage import records as r
from storage.catalog.models import CheckpointRow, CustodyEventRow, DockRow, LogHeadRow, LogNodeRow

GENESIS = "0" * 64
ONE_STATEMENT_ROWS = 1000
"""Events + nodes written in one statement at most (8 parameters an event: 8,000)."""
F = TypeVar("F", bound=Callable[..., Any])


def _flushed(method: F) -> F:
    """A read of log rows sees every append of this transaction: written out first."""

    @functools.wraps(method)
    def wrapper(self: LogRows, *args: Any, **kwargs: Any) -> Any:
        self.flush()
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


_LOCK_HEAD = (
    select(LogHeadRow.size, LogHeadRow.last_leaf, LogHeadRow.frontier)
    .where(LogHeadRow.id == 1)
    .with_for_update()
)
"""The head row with its frontier, locked: built once, not once per write transaction."""
_SET_HEAD = update(LogHeadRow).where(LogHeadRow.id == 1)
"""Moves the head (parameters size, last_leaf, frontier): built once, its values bound."""


class LogRows:
    """Log rows of one transaction. Once the head is locked, the head and the nodes written in
    this transaction are also kept in memory, so a batch of appends costs no re-reads."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self._head: r.LogHead | None = None
        self._nodes: dict[tuple[int, int], bytes] = {}
        # the frontier of the locked head's tree, by (level, idx): what appends read
        self._frontier: dict[tuple[int, int], bytes] = {}
        # appends of this transaction, written in one statement per table by flush()
        self._new_events: list[dict[str, Any]] = []
        self._new_nodes: list[dict[str, Any]] = []
        self._head_dirty = False
        # appends waiting for the commit (append_at_commit), in order
        self._at_commit: list[tuple[r.Event, Parts, Callable[[r.Event], object]]] = []

    def lock_head(self) -> r.LogHead:
        """Take the append lock (row lock on PostgreSQL; the write transaction on SQLite).

        The same statement reads the tree's frontier kept in the head row, so appends read
        no node while they hold the lock; a frontier that does not belong to this head (none
        yet, or a head rewritten by anything but an append) is read from the nodes instead."""
        if self._head is not None:
            return self._head
        conn = self.s.connection()
        row = conn.execute(_LOCK_HEAD).first()
        if row is None:
            # Writers starting on a new catalog race to create the head row: the loser's
            # INSERT waits for the winner's commit, fails, and then locks the winner's row.
            try:
                with self.s.begin_nested():
                    head = {"id": 1, "size": 0, "last_leaf": GENESIS}
                    self.s.connection().execute(insert(LogHeadRow), [head])  # in the SAVEPOINT
            except IntegrityError:
                pass
            row = conn.execute(_LOCK_HEAD).one()
        self._head = r.LogHead(size=row.size, last_leaf=row.last_leaf)
        hashes = unpack_frontier(row.frontier, row.size, row.last_leaf)
        if hashes is None:
            self._frontier = self._read_frontier(row.size)
        else:
            self._frontier = dict(zip(frontier_positions(row.size), hashes, strict=True))
        return self._head

    def appends_in_one_statement(self) -> bool:
        """Whether appends may go through ``append_in_one_statement``: PostgreSQL, and this
        transaction has not taken the lock yet."""
        return self._head is None and self.s.get_bind().dialect.name == "postgresql"

    def append_in_one_statement(self, events: Sequence[tuple[r.Event, Parts]]) -> r.Event:
        """PostgreSQL, before this transaction holds the lock: take it, chain, store the
        events, their leaves and the nodes they complete and move the head, in one statement
        (the ``evidock_log_append`` function of migration 0018). Each event without its
        ``seq`` and ``prev``, with its canonical bytes around them (``canonical_parts``).
        Returns the first event as appended (its ``seq`` and ``prev``)."""
        assert events and self._head is None, "appends in one statement: first, and some"
        conn = self.s.connection()
        self.s.flush()  # the rows the events refer to (their items) go first
        row = conn.execute(_APPEND_FUNCTION[len(events) > 1], _function_params(events)).one()
        first, prev, frontier = int(row[0]), str(row[1]), bytes(row[2])
        size = first + len(events)
        last_leaf = frontier[8:40].hex()
        self._head = r.LogHead(size=size, last_leaf=last_leaf)
        hashes = unpack_frontier(frontier, size, last_leaf)
        assert hashes is not None, "the append function left a frontier of another head"
        self._frontier = dict(zip(frontier_positions(size), hashes, strict=True))
        return replace(events[0][0], seq=first, prev=prev)

    def append_at_commit(
        self, ev: r.Event, parts: Parts, append_here: Callable[[r.Event], object]
    ) -> None:
        """Append ``ev`` (without its ``seq`` and ``prev``) when this transaction commits, or
        when anything reads the log before that: on PostgreSQL in one statement sent with the
        COMMIT (the lock is then held for the time the server takes for both), else by
        ``append_here`` (the client's append, under the lock), in the order they came."""
        self._at_commit.append((ev, parts, append_here))

    @property
    def waiting(self) -> int:
        """How many events wait for the commit (``append_at_commit``)."""
        return len(self._at_commit)

    def append_waiting(self) -> None:
        """The events waiting for the commit, appended now (something reads the log, or an
        append that returns its event comes after them)."""
        waiting, self._at_commit = self._at_commit, []
        if not waiting:
            return
        if self.appends_in_one_statement():
            self.append_in_one_statement([(ev, parts) for ev, parts, _ in waiting])
            return
        for ev, _, append_here in waiting:
            append_here(ev)

    def flush_and_commit(self) -> None:
        """At the end of a write transaction: when only events waiting for the commit are left
        to write and this is PostgreSQL, send their statement and the COMMIT together (the
        session's own commit then finds nothing to do); else ``flush()``."""
        if not self._at_commit or not self.appends_in_one_statement() or self._new_events:
            self.flush()
            return
        waiting, self._at_commit = self._at_commit, []
        self.s.flush()  # the rows the events refer to (their items) go first
        raw = self.s.connection().connection.driver_connection
        assert raw is not None
        params = _function_params([(ev, parts) for ev, parts, _ in waiting])
        statement = _APPEND_FUNCTION_DRIVER[len(waiting) > 1]
        try:
            with raw.pipeline():
                raw.execute(statement, params)
                raw.commit()
        except psycopg.Error as e:  # as SQLAlchemy would have raised it
            raise DBAPIError.instance(
                statement, params, e, psycopg.Error, hide_parameters=True
            ) from e

    def _read_frontier(self, size: int) -> dict[tuple[int, int], bytes]:
        """The stored frontier nodes of the tree of ``size`` leaves (those missing are left
        out: an append that needs one fails in ``read_node`` as before)."""
        positions = frontier_positions(size)
        if not positions:
            return {}
        q = select(LogNodeRow.level, LogNodeRow.idx, LogNodeRow.hash).where(
            or_(*(and_(LogNodeRow.level == lv, LogNodeRow.idx == ix) for lv, ix in positions))
        )
        return {(int(lv), int(ix)): bytes(h) for lv, ix, h in self.s.connection().execute(q)}

    def sibling(self, level: int, idx: int) -> bytes:
        """A node an append of this transaction needs (see ``lock_head``): from memory when
        the frontier or this transaction has it, else read."""
        known = self._nodes.get((level, idx)) or self._frontier.get((level, idx))
        return known if known is not None else self.read_node(level, idx)

    def _new_frontier(self) -> bytes | None:
        """The frontier of the head this transaction leaves, packed; None when one of its
        nodes is unknown here (the next append reads them)."""
        assert self._head is not None
        hashes = []
        for pos in frontier_positions(self._head.size):
            h = self._nodes.get(pos) or self._frontier.get(pos)
            if h is None:
                return None
            hashes.append(h)
        return pack_frontier(self._head.size, self._head.last_leaf, hashes)

    def head(self) -> r.LogHead:
        self.append_waiting()
        if self._head is not None:
            return self._head
        q = select(LogHeadRow.size, LogHeadRow.last_leaf).where(LogHeadRow.id == 1)
        row = self.s.connection().execute(q).first()
        if row is None:
            return r.LogHead(size=0, last_leaf=GENESIS)
        return r.LogHead(size=row.size, last_leaf=row.last_leaf)

    def set_head(self, head: r.LogHead) -> None:
        assert self._head is not None, "lock_head() first"
        self._head = head
        self._head_dirty = True

    def flush(self) -> None:
        """Write the appends of this transaction: the events, the new tree nodes and the head,
        one statement each (the catalog calls it before every commit, reads call it first).
        Events waiting for the commit are appended first."""
        self.append_waiting()
        if not (self._new_events or self._new_nodes or self._head_dirty):
            return
        self.s.flush()  # rows the events refer to (items) go first
        conn = self.s.connection()
        if self._head_dirty and self._head is not None and self._one_statement(conn):
            # PostgreSQL: events, nodes and head in one statement, one round trip under the
            # append lock instead of three (issue 19: the lock is held until COMMIT)
            params: dict[str, Any] = {
                "size": self._head.size,
                "last_leaf": self._head.last_leaf,
                "frontier": self._new_frontier(),
            }
            for i, ev in enumerate(self._new_events):
                params.update({f"e{i}_{k}": v for k, v in ev.items()})
            for i, node in enumerate(self._new_nodes):
                params.update({f"n{i}_{k}": v for k, v in node.items()})
            conn.execute(_append_statement(len(self._new_events), len(self._new_nodes)), params)
            self._new_events, self._new_nodes, self._head_dirty = [], [], False
            return
        if self._new_events:
            conn.execute(insert(CustodyEventRow), self._new_events)
            self._new_events = []
        if self._new_nodes:
            conn.execute(insert(LogNodeRow), self._new_nodes)
            self._new_nodes = []
        if self._head_dirty and self._head is not None:
            head = {"size": self._head.size, "last_leaf": self._head.last_leaf}
            conn.execute(_SET_HEAD, {**head, "frontier": self._new_frontier()})
        self._head_dirty = False

    def _one_statement(self, conn: Connection) -> bool:
        """Whether this flush fits one statement: PostgreSQL (data-modifying CTEs; SQLite
        has none) and few enough rows to stay far below its 65,535 bind parameters."""
        rows = len(self._new_events) + len(self._new_nodes)
        return conn.dialect.name == "postgresql" and rows <= ONE_STATEMENT_ROWS

    def read_node(self, level: int, idx: int) -> bytes:
        cached = self._nodes.get((level, idx))
        if cached is not None:
            return cached
        h = (
            self.s.connection()
            .execute(
                select(LogNodeRow.hash).where(LogNodeRow.level == level, LogNodeRow.idx == idx)
            )
            .scalar()
        )
        if h is None:
            raise KeyError(f"log node ({level}, {idx}) is missing")
        return bytes(h)

    def put_nodes(self, nodes: Iterable[tuple[int, int, bytes]]) -> None:
        triples = list(nodes)
        if triples:
            self._new_nodes.extend({"level": lv, "idx": ix, "hash": h} for lv, ix, h in triples)
            self._nodes.update({(lv, ix): h for lv, ix, h in triples})

    def insert_event(self, ev: r.Event) -> None:
        self._new_events.append(
            {
                "seq": ev.seq,
                "time": ev.time,
                "type": ev.type,
                "item_id": ev.item,
                "actor": ev.actor,
                "dock": ev.dock,
                "data": ev.data,
                "prev": ev.prev,
            }
        )

    @_flushed
    def events_for_item(self, item_id: int) -> list[r.Event]:
        q = select(CustodyEventRow).where(CustodyEventRow.item_id == item_id)
        return [_event(e) for e in self.s.scalars(q.order_by(CustodyEventRow.seq))]

    @_flushed
    def events(self, *, start: int = 0, batch: int = 5000) -> Iterator[r.Event]:
        """Every event in sequence order, read in batches (flat memory over a long log)."""
        after = start - 1
        while True:
            rows = self.s.scalars(
                select(CustodyEventRow)
                .where(CustodyEventRow.seq > after)
                .order_by(CustodyEventRow.seq)
                .limit(batch)
            ).all()
            if not rows:
                return
            for row in rows:
                yield _event(row)
            after = rows[-1].seq

    @_flushed
    def item_events_typed(
        self, types: Collection[str], item_ids: Collection[int] | None = None
    ) -> list[r.Event]:
        """Events of the given types about the given items (None: about any item), in
        sequence order."""
        q = select(CustodyEventRow).where(CustodyEventRow.type.in_(list(types)))
        if item_ids is not None:
            q = q.where(CustodyEventRow.item_id.in_(list(item_ids)))
        return [_event(e) for e in self.s.scalars(q.order_by(CustodyEventRow.seq))]

    @_flushed
    def events_of_type(self, type: str) -> list[r.Event]:
        """Every event of one type, in sequence order (few: key rotations)."""
        q = select(CustodyEventRow).where(CustodyEventRow.type == type)
        return [_event(e) for e in self.s.scalars(q.order_by(CustodyEventRow.seq))]

    @_flushed
    def events_typed(self, types: Collection[str], *, containing: str) -> list[r.Event]:
        """Events of the given types whose data text contains ``containing`` (a prefilter:
        the caller checks the parsed data), in sequence order."""
        q = select(CustodyEventRow).where(
            CustodyEventRow.type.in_(list(types)),
            CustodyEventRow.data.contains(containing, autoescape=True),
        )
        return [_event(e) for e in self.s.scalars(q.order_by(CustodyEventRow.seq))]

    @_flushed
    def event_count(self) -> int:
        return int(self.s.scalar(select(func.count()).select_from(CustodyEventRow)) or 0)

    # -- checkpoints ------------------------------------------------------------------------
    @_flushed
    def add_checkpoint(
        self, *, dock_id: int, size: int, root: str, note: str, now: datetime
    ) -> int:
        row = CheckpointRow(dock_id=dock_id, size=size, root=root, note=note, created_at=now)
        self.s.add(row)
        self.s.flush()
        return row.id

    @_flushed
    def checkpoint_sizes(self, dock_id: int) -> set[int]:
        """Sizes this dock has signed (no note texts loaded)."""
        q = select(CheckpointRow.size).where(CheckpointRow.dock_id == dock_id)
        return set(self.s.scalars(q))

    @_flushed
    def checkpoints(self) -> list[r.Checkpoint]:
        q = (
            select(CheckpointRow, DockRow.name)
            .join(DockRow, DockRow.id == CheckpointRow.dock_id)
            .order_by(CheckpointRow.size, CheckpointRow.id)
        )
        return [
            r.Checkpoint(
                id=cp.id,
                dock_name=name,
                size=cp.size,
                root=cp.root,
                note=cp.note,
                created_at=cp.created_at,
            )
            for cp, name in self.s.execute(q)
        ]

    # -- bulk reads for audits --------------------------------------------------------------
    @_flushed
    def event_range(self, start: int, end: int) -> list[r.Event]:
        """Events with ``start <= seq < end`` in sequence order, read as plain columns (an
        audit reads the whole log in such windows; no ORM objects are built)."""
        return [r.event_of(cols) for cols in self.event_columns(start, end)]

    @_flushed
    def event_columns(self, start: int, end: int) -> list[r.EventColumns]:
        """``event_range`` as the columns of each event (``r.EventColumns``), read straight
        from the database driver: a replay of the whole log reads a million of them, and
        the ORM's rows and a record per event were a third of its time (issue 19)."""
        return self._driver_rows(_EVENT_RANGE_SQL, (start, end))

    @_flushed
    def events_outside(self, size: int, *, limit: int = 1000) -> list[r.Event]:
        """Events whose ``seq`` lies outside ``[0, size)``: none exist in an intact log."""
        q = (
            select(*_EVENT_COLUMNS)
            .where(or_(CustodyEventRow.seq < 0, CustodyEventRow.seq >= size))
            .order_by(CustodyEventRow.seq)
            .limit(limit)
        )
        return [_event_from_columns(row) for row in self.s.execute(q)]

    @_flushed
    def item_events(
        self, first: int, last: int | None, *, limit: int | None = None
    ) -> list[r.Event]:
        """Events of items ``first <= item <= last`` (no upper bound when ``last`` is None),
        ordered by item, then sequence; at most ``limit`` of them."""
        q = select(*_EVENT_COLUMNS).where(CustodyEventRow.item_id >= first)
        if last is not None:
            q = q.where(CustodyEventRow.item_id <= last)
        q = q.order_by(CustodyEventRow.item_id, CustodyEventRow.seq).limit(limit)
        return [_event_from_columns(row) for row in self.s.execute(q)]

    @_flushed
    def nodes_in(self, level: int, start: int, end: int) -> dict[int, bytes]:
        """Stored hashes of the nodes ``(level, idx)`` with ``start <= idx < end``, by idx."""
        found: dict[int, bytes] = dict(self._driver_rows(_NODES_IN_SQL, (level, start, end)))
        if all(type(h) is bytes for h in found.values()):
            return found
        return {idx: _blob(h) for idx, h in found.items()}  # an edited row's text, as bytes

    def _driver_rows(self, sql: str, params: tuple[int, ...]) -> list[Any]:
        """Rows of ``sql`` (``?`` placeholders) as the driver's tuples, in this transaction:
        for the reads of every row of the log (no SQLAlchemy row or conversion per row; the
        columns read this way need none on SQLite or psycopg: integers, text, bytes)."""
        conn = self.s.connection()
        if conn.dialect.paramstyle != "qmark":
            sql = sql.replace("?", "%s")
        raw = conn.connection.driver_connection
        assert raw is not None
        cur = raw.cursor()
        try:
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    @_flushed
    def node_counts(self) -> dict[int, int]:
        """How many nodes are stored at each level."""
        q = select(LogNodeRow.level, func.count()).group_by(LogNodeRow.level)
        return {int(level): int(n) for level, n in self.s.execute(q)}


def frontier_positions(size: int) -> list[tuple[int, int]]:
    """``(level, idx)`` of the perfect subtrees that make up a tree of ``size`` leaves,
    largest first: one per 1-bit of ``size``."""
    return [
        (level, (size >> level) - 1)
        for level in reversed(range(size.bit_length()))
        if size >> level & 1
    ]


def pack_frontier(size: int, last_leaf: str, hashes: list[bytes]) -> bytes:
    """The head row's ``frontier``: size and last leaf of the tree it belongs to, then its
    subtree hashes (``frontier_positions`` order)."""
    return size.to_bytes(8, "big") + bytes.fromhex(last_leaf) + b"".join(hashes)


def unpack_frontier(blob: bytes | None, size: int, last_leaf: str) -> list[bytes] | None:
    """The subtree hashes of a packed frontier, or None unless it belongs to exactly this
    head (written by an append that left this size and this last leaf)."""
    if blob is None:
        return None
    blob = bytes(blob)
    count = size.bit_count()
    if (
        len(blob) != 40 + 32 * count
        or blob[:8] != size.to_bytes(8, "big")
        or blob[8:40].hex() != last_leaf
    ):
        return None
    return [blob[40 + 32 * i : 72 + 32 * i] for i in range(count)]


Parts = tuple[bytes, bytes, bytes]
"""An event's canonical bytes around ``prev`` and ``seq`` (``events.canonical_parts``)."""

_FUNCTION_ARGS = (
    ("time", "text"), ("type", "text"), ("item", "integer"), ("actor", "text"),
    ("dock", "text"), ("data", "text"), ("head", "bytea"), ("middle", "bytea"),
    ("tail", "bytea"),
)  # fmt: skip


def _function_call(*, array: bool, driver: bool) -> str:
    """``evidock_log_append`` for one event (scalars) or many (one array per column), with
    SQLAlchemy's placeholders or psycopg's (sent straight to the driver with the COMMIT)."""
    args = ", ".join(
        f"CAST({f'%({name})s' if driver else f':{name}'} AS {kind}{'[]' if array else ''})"
        for name, kind in _FUNCTION_ARGS
    )
    return f"SELECT o_first, o_prev, o_frontier FROM evidock_log_append({args})"


_APPEND_FUNCTION = {
    array: text(_function_call(array=array, driver=False)) for array in (False, True)
}
_APPEND_FUNCTION_DRIVER = {
    array: _function_call(array=array, driver=True) for array in (False, True)
}


def _function_params(events: Sequence[tuple[r.Event, Parts]]) -> dict[str, Any]:
    """The arguments of ``evidock_log_append``: one event's values, or one array per column
    (see ``_function_call``: ``array=len(events) > 1``)."""
    if len(events) == 1:
        ((ev, (head, middle, tail)),) = events
        return {"time": ev.time, "type": ev.type, "item": ev.item, "actor": ev.actor,
                "dock": ev.dock, "data": ev.data, "head": head, "middle": middle,
                "tail": tail}  # fmt: skip
    return {
        "time": [ev.time for ev, _ in events],
        "type": [ev.type for ev, _ in events],
        "item": [ev.item for ev, _ in events],
        "actor": [ev.actor for ev, _ in events],
        "dock": [ev.dock for ev, _ in events],
        "data": [ev.data for ev, _ in events],
        "head": [parts[0] for _, parts in events],
        "middle": [parts[1] for _, parts in events],
        "tail": [parts[2] for _, parts in events],
    }


_EVENT_KEYS = ("seq", "time", "type", "item_id", "actor", "dock", "data", "prev")
_NODE_KEYS = ("level", "idx", "hash")


@functools.lru_cache(maxsize=256)
def _append_statement(events: int, nodes: int) -> TextClause:
    """One PostgreSQL statement that inserts ``events`` events and ``nodes`` tree nodes and
    moves the head (parameters ``e<i>_<column>``, ``n<i>_<column>``, ``size``, ``last_leaf``,
    ``frontier``).
    Plain text, kept per shape: SQLAlchemy does not cache multi-row INSERTs in CTEs, and
    compiling one costs more than the rest of an append."""

    def rows(prefix: str, n: int, keys: tuple[str, ...]) -> str:
        return ", ".join("(" + ", ".join(f":{prefix}{i}_{k}" for k in keys) + ")" for i in range(n))

    ctes = []
    if events:
        cols = ", ".join(_EVENT_KEYS)
        ctes.append(
            f"ev AS (INSERT INTO custody_event ({cols}) VALUES {rows('e', events, _EVENT_KEYS)})"
        )
    if nodes:
        cols = ", ".join(_NODE_KEYS)
        ctes.append(f"nd AS (INSERT INTO log_node ({cols}) VALUES {rows('n', nodes, _NODE_KEYS)})")
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    head = "UPDATE log_head SET size = :size, last_leaf = :last_leaf, frontier = :frontier"
    return text(with_ + head + " WHERE id = 1")


def _event(row: CustodyEventRow) -> r.Event:
    return r.Event(
        seq=row.seq,
        time=row.time,
        type=row.type,
        item=row.item_id,
        actor=row.actor,
        dock=row.dock,
        data=row.data,
        prev=row.prev,
    )


_EVENT_COLUMNS = (
    CustodyEventRow.seq,
    CustodyEventRow.time,
    CustodyEventRow.type,
    CustodyEventRow.item_id,
    CustodyEventRow.actor,
    CustodyEventRow.dock,
    CustodyEventRow.data,
    CustodyEventRow.prev,
)


def _blob(value: object) -> bytes:
    """A node hash as bytes, also when a hand-edited SQLite row holds another type."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8", "backslashreplace")


_EVENT_RANGE_SQL = (
    "SELECT seq, time, type, item_id, actor, dock, data, prev FROM custody_event"
    " WHERE seq >= ? AND seq < ? ORDER BY seq"
)  # the columns of _EVENT_COLUMNS, in r.EventColumns order
_NODES_IN_SQL = "SELECT idx, hash FROM log_node WHERE level = ? AND idx >= ? AND idx < ?"


def _event_from_columns(row: Row[int, str, str, int | None, str, str, str, str]) -> r.Event:
    seq, time, type_, item, actor, dock, data, prev = row
    return r.Event(
        seq=seq, time=time, type=type_, item=item, actor=actor, dock=dock, data=data, prev=prev
    )
