"""Appends that read the tree's frontier from the head row (issue 19): the same log and tree
as reading the nodes, a head rewritten behind the log's back is appended to from the stored
nodes, and concurrent writers on PostgreSQL still leave one chain without gaps or forks."""

from __future__ import annotations

import json
import multiprocessing as mp
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from storage.catalog.logrows import frontier_positions, unpack_frontier
from storage.catalog.session import Catalog
from verify.audit.replay import replay_log
from verify.custody import CustodyLog
from verify.log.events import EventType, event_leaf
from verify.log.merkle import MemoryTree, root
from verify.problems import Problems


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def _append(cat: Catalog, log: CustodyLog, n: int, *, start: int = 0, per_txn: int = 1) -> None:
    done = 0
    while done < n:
        with cat.write() as txn:
            for k in range(min(per_txn, n - done)):
                log.append(
                    txn, type=EventType.VIEWED, actor="user:test", data={"n": start + done + k}
                )
        done += per_txn


def _sql(cat: Catalog, statement: str, **params: Any) -> list[Any]:
    with cat.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def _replays_clean(cat: Catalog) -> bytes:
    """The log replays without a problem; returns the root recomputed from its events, after
    checking that it equals the stored tree's and a memory tree's of the same leaves."""
    with cat.read() as txn:
        head = txn.log.head()
        problems = Problems()
        replay = replay_log(txn, problems, sizes={head.size})
        assert [p.code for p in problems.listed()] == []
        memory = MemoryTree()
        for ev in txn.log.events():
            memory.append_leaf_hash(event_leaf(ev))
        stored = root(head.size, txn.log.read_node)
    assert replay.roots[head.size] == stored == memory.root()
    return stored


def _frontier_matches_the_nodes(cat: Catalog) -> None:
    with cat.read() as txn:
        head = txn.log.head()
        ((blob,),) = txn.s.connection().execute(text("SELECT frontier FROM log_head")).all()
        hashes = unpack_frontier(blob, head.size, head.last_leaf)
        assert hashes == [txn.log.read_node(lv, ix) for lv, ix in frontier_positions(head.size)]


def test_appends_in_any_transaction_size_leave_the_tree_that_reading_the_nodes_would(
    catalog: Catalog,
) -> None:
    """Single and batched appends, across every tree size up to 70: a clean replay, the
    stored root equals a memory tree's, and the head's frontier equals the stored nodes."""
    log = CustodyLog(dock="dock-test")
    n = 0
    for per_txn in (1, 1, 1, 2, 3, 1, 5, 8, 1, 16, 1, 1, 30):
        _append(catalog, log, per_txn, start=n, per_txn=per_txn)
        n += per_txn
        _frontier_matches_the_nodes(catalog)
    assert n == 71
    _replays_clean(catalog)


def test_a_head_rewritten_without_its_frontier_is_appended_to_from_the_stored_nodes(
    catalog: Catalog,
) -> None:
    """A head row without a frontier (a catalog migrated from before it) or with the
    frontier of another head (a tail cut off, as a restore does) is never trusted: the next
    append reads the nodes, and the log it leaves replays clean."""
    log = CustodyLog(dock="dock-test")
    _append(catalog, log, 13)
    _sql(catalog, "UPDATE log_head SET frontier = NULL")
    _append(catalog, log, 6, start=13)
    _frontier_matches_the_nodes(catalog)
    _replays_clean(catalog)
    # cut the tail back to 7 events: the head's frontier is still the one of 19
    with catalog.read() as txn:
        last = event_leaf(next(txn.log.events(start=6))).hex()
    _sql(catalog, "DELETE FROM custody_event WHERE seq >= 7")
    for level in range(8):
        _sql(catalog, "DELETE FROM log_node WHERE level = :l AND idx >= :i", l=level, i=7 >> level)
    _sql(catalog, "UPDATE log_head SET size = 7, last_leaf = :leaf", leaf=last)
    _append(catalog, log, 9, start=7)
    _frontier_matches_the_nodes(catalog)
    _replays_clean(catalog)


def test_a_forged_frontier_makes_the_next_append_leave_a_tree_replay_rejects(
    catalog: Catalog,
) -> None:
    """The frontier is a copy of stored nodes, not a way around them: hashes forged in it
    end up in the tree the next append writes, and replay names the node."""
    log = CustodyLog(dock="dock-test")
    _append(catalog, log, 12)  # 12 = 8 + 4: the frontier holds (3, 0) and (2, 2)
    ((blob,),) = _sql(catalog, "SELECT frontier FROM log_head")
    forged = bytes(blob)[:40] + bytes(64)
    _sql(catalog, "UPDATE log_head SET frontier = :f", f=forged)
    _append(catalog, log, 4, start=12)  # leaf 15 completes (3, 1) from the forged (2, 2)
    with catalog.read() as txn:
        problems = Problems()
        replay_log(txn, problems, sizes={16})
    assert "log-node-mismatch" in {p.code for p in problems.listed()}


def _writer(url: str, writer: int, count: int) -> None:  # pragma: no cover - child process
    cat = Catalog(url)
    log = CustodyLog(dock=f"w{writer}")
    for n in range(count):
        with cat.write() as txn:
            log.append(txn, type=EventType.VIEWED, actor="user:test", data={"w": writer, "n": n})
    cat.close()


@pytest.mark.postgres
def test_concurrent_writers_on_postgresql_leave_one_chain_without_gaps_or_forks(
    pg_admin: str,
) -> None:
    """Four processes appending single events at once onto a new catalog: every event once,
    each writer's in its own order, one chain and one tree that replay clean."""
    from support.pg import fresh_database

    with fresh_database(pg_admin) as url:
        Catalog.open(url).close()
        spawn = mp.get_context("spawn")
        procs = [spawn.Process(target=_writer, args=(url, w, 40)) for w in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=300)
            assert p.exitcode == 0
        cat = Catalog(url)
        try:
            _replays_clean(cat)
            _frontier_matches_the_nodes(cat)
            seen: dict[int, list[int]] = {w: [] for w in range(4)}
            with cat.read() as txn:
                for ev in txn.log.events():
                    data = json.loads(ev.data)
                    seen[data["w"]].append(data["n"])
            assert seen == {w: list(range(40)) for w in range(4)}
        finally:
            cat.close()
