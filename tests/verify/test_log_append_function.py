"""The first append of a transaction on PostgreSQL is one statement (migration 0018, issue 19):
the client sends the event's canonical bytes around ``prev`` and ``seq`` and the function joins
them under the lock. These tests pin the split to RFC 8785 for any event, and show that what
the function stores is the event, leaf and nodes the client's own path would have stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from storage.catalog.session import Catalog
from storage.records import Event
from verify.audit.replay import replay_log
from verify.custody import CustodyLog
from verify.log.events import EventType, canonical, canonical_parts, encode_data, event_leaf
from verify.log.merkle import MemoryTree, root
from verify.problems import Problems

_text = st.text(st.characters(codec="utf-8"), max_size=30)
_json: Any = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)
_trap = {"prev": "0" * 64, "seq": 0, "time": "x"}  # the split's own marker, inside data


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(_text, _json, max_size=5) | st.just({"inner": _trap}) | st.just(_trap),
    actor=_text,
    dock=_text,
    item=st.none() | st.integers(0, 2**31 - 1),
    seq=st.integers(0, 2**53 - 1),  # RFC 8785: integers up to 2^53 - 1,
    prev=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_the_parts_around_prev_and_seq_rebuild_the_canonical_bytes_of_any_event(
    data: dict[str, Any], actor: str, dock: str, item: int | None, seq: int, prev: str
) -> None:
    ev = Event(
        seq=seq,
        time="2026-12-06T20:00:00.000000Z",
        type="viewed",
        item=item,
        actor=actor,
        dock=dock,
        data=encode_data(data),
        prev=prev,
    )
    head, middle, tail = canonical_parts(ev)
    assert head + prev.encode() + middle + str(seq).encode() + tail == canonical(ev)


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def pg_catalog(pg_admin: str) -> Iterator[Catalog]:
    from support.pg import fresh_database

    with fresh_database(pg_admin) as url:
        cat = Catalog.open(url)
        yield cat
        cat.close()


AWKWARD: tuple[dict[str, Any], ...] = (
    {"n": 1},
    {"path": "DCIM/视频_001.MP4", "note": 'quote " backslash \\ tab \t nul \u0000 end'},
    {"inner": _trap},
    _trap,
    {"big": 2**53 - 1, "neg": -7, "list": [None, True, False, "é", {"b": 1, "a": 2}]},
    {},
)


@pytest.mark.postgres
def test_the_function_stores_the_event_leaf_and_nodes_the_client_would(
    pg_catalog: Catalog,
) -> None:
    """Single and batched transactions with awkward data: each transaction's first append goes
    through the function (it returns the event), every stored leaf is the client's
    ``event_leaf`` of the stored event, and the stored root equals a memory tree's."""
    log = CustodyLog(dock="dock-函数", clock=_Clock())
    with pg_catalog.write() as txn:  # a new catalog has no head row: the client's path
        first = log.append(txn, type=EventType.VIEWED, actor="user:t", data={"first": 1})
    assert first.seq == 0
    used = 0
    for round_, per_txn in enumerate((1, 1, 3, 1, 2, 7, 1, 1, 16, 1, 5, 1)):
        with pg_catalog.write() as txn:
            for k in range(per_txn):
                data = {**AWKWARD[(round_ + k) % len(AWKWARD)], "r": round_, "k": k}
                if k == 0:
                    assert txn.log.appends_in_one_statement()
                ev = log.append(txn, type=EventType.VIEWED, actor="user:t", data=data)
                if k == 0:
                    used += 1
                    assert not txn.log.appends_in_one_statement()
                    assert ev.prev != "" and ev.seq >= 1
    assert used == 12
    with pg_catalog.read() as txn:
        head = txn.log.head()
        events = list(txn.log.events())
        assert [e.seq for e in events] == list(range(head.size))
        memory = MemoryTree()
        prev = "0" * 64
        for e in events:
            assert e.prev == prev
            leaf = event_leaf(e)
            assert txn.log.read_node(0, e.seq) == leaf
            memory.append_leaf_hash(leaf)
            prev = leaf.hex()
        assert head.last_leaf == prev
        assert root(head.size, txn.log.read_node) == memory.root()
        problems = Problems()
        replay_log(txn, problems, sizes={head.size})
        assert [p.code for p in problems.listed()] == []
    assert json.loads(events[-1].data)["r"] == 11


@pytest.mark.postgres
def test_a_head_without_its_frontier_is_appended_to_from_the_stored_nodes(
    pg_catalog: Catalog,
) -> None:
    """The function reads the frontier from the stored nodes when the head has none (a
    catalog from before it), for an append that returns its event and for events appended
    at commit alike."""
    log = CustodyLog(dock="dock-test")
    for n in range(5):
        with pg_catalog.write() as txn:
            log.append_at_commit(txn, type=EventType.VIEWED, actor="user:t", data={"n": n})
    for n in (5, 6):
        with pg_catalog.engine.begin() as conn:
            conn.execute(text("UPDATE log_head SET frontier = NULL"))
        with pg_catalog.write() as txn:
            if n == 5:
                assert log.append(txn, type=EventType.VIEWED, actor="u", data={"n": n}).seq == 5
            else:
                log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": n})
    _replays_clean(pg_catalog, 7)


@pytest.mark.postgres
def test_a_missing_node_fails_the_whole_transaction_sent_with_its_commit(
    pg_catalog: Catalog,
) -> None:
    """Events appended at commit go with the COMMIT in one round trip; when their statement
    fails (a node the frontier needs is gone and the head has no frontier), nothing of the
    transaction is committed, not even what was written before it, and the error is
    SQLAlchemy's, as for any statement."""
    from sqlalchemy.exc import DBAPIError

    log = CustodyLog(dock="dock-test")
    with pg_catalog.write() as txn:
        for n in range(3):
            log.append_at_commit(txn, type=EventType.VIEWED, actor="user:t", data={"n": n})
    with pg_catalog.engine.begin() as conn:
        conn.execute(text("UPDATE log_head SET frontier = NULL"))
        conn.execute(text("DELETE FROM log_node WHERE level = 1 AND idx = 0"))
    with pytest.raises(DBAPIError, match="log node"), pg_catalog.write() as txn:
        txn.add_officer(badge="B-1", name="李", unit="U", certificate_no="C", now=_Clock()())
        log.append_at_commit(txn, type=EventType.VIEWED, actor="user:t", data={"n": 3})
    with pg_catalog.read() as txn:
        assert txn.officers() == []
        assert txn.log.head().size == 3


def test_events_appended_at_commit_keep_their_order_with_those_appended_now(
    catalog_url: str,
) -> None:
    """Appended at commit, then now, then at commit again: the log holds them in the order
    of the calls, a read of the log inside the transaction sees the waiting ones, and a
    transaction that fails appends none of them. SQLite and PostgreSQL."""
    cat = Catalog.open(catalog_url)
    try:
        log = CustodyLog(dock="dock-test", clock=_Clock())
        with cat.write() as txn:
            log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": 0})
            log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": 1})
            now = log.append(txn, type=EventType.VIEWED, actor="u", data={"n": 2})
            assert now.seq == 2
            log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": 3})
            assert txn.log.head().size == 4  # a read appends what waits first
            log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": 4})
        with pytest.raises(RuntimeError), cat.write() as txn:
            log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": 99})
            raise RuntimeError("the caller fails before the commit")
        for n in (5, 6):
            with cat.write() as txn:
                log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": n})
        with cat.read() as txn:
            events = list(txn.log.events())
        assert [json.loads(e.data)["n"] for e in events] == list(range(7))
        assert [e.time for e in events] == sorted(e.time for e in events)
        _replays_clean(cat, 7)
    finally:
        cat.close()


def _replays_clean(cat: Catalog, size: int) -> None:
    with cat.read() as txn:
        head = txn.log.head()
        assert head.size == size
        problems = Problems()
        replay = replay_log(txn, problems, sizes={size})
        assert [p.code for p in problems.listed()] == []
        memory = MemoryTree()
        for ev in txn.log.events():
            memory.append_leaf_hash(event_leaf(ev))
        assert replay.roots[size] == root(size, txn.log.read_node) == memory.root()


@pytest.mark.postgres
def test_a_connection_lost_at_the_commit_sent_with_the_events_is_a_catalog_outage(
    pg_catalog: Catalog,
) -> None:
    """The server goes away between the transaction's work and its COMMIT (sent with the
    events): the caller gets the catalog's own outage error (no driver error, no traceback
    for a user), nothing of the transaction is in the log, and the next write works."""
    from storage.errors import CatalogUnavailable

    log = CustodyLog(dock="dock-test")
    with pg_catalog.write() as txn:
        log.append_at_commit(txn, type=EventType.VIEWED, actor="user:t", data={"n": 0})
    with pytest.raises(CatalogUnavailable), pg_catalog.write() as txn:
        (pid,) = txn.s.connection().execute(text("SELECT pg_backend_pid()")).one()
        log.append_at_commit(txn, type=EventType.VIEWED, actor="user:t", data={"n": 1})
        with pg_catalog.engine.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pg_catalog.write() as txn:
        log.append_at_commit(txn, type=EventType.VIEWED, actor="user:t", data={"n": 2})
    with pg_catalog.read() as txn:
        assert [json.loads(e.data)["n"] for e in txn.log.events()] == [0, 2]
    _replays_clean(pg_catalog, 2)


def test_an_event_appended_at_commit_in_a_read_transaction_is_a_loud_error(
    catalog_url: str,
) -> None:
    """A read transaction never commits: an event waiting there would be lost without a
    word, so the transaction's end says so (a programming error, not a user's)."""
    cat = Catalog.open(catalog_url)
    try:
        log = CustodyLog(dock="dock-test")
        with pytest.raises(AssertionError, match="read transaction"), cat.read() as txn:
            log.append_at_commit(txn, type=EventType.VIEWED, actor="u", data={"n": 0})
        with cat.read() as txn:
            assert txn.log.head().size == 0
    finally:
        cat.close()
