"""The replay in worker processes finds what the replay in one process finds, in the same order,
and recomputes the same roots: on a clean log and on every kind of tampering."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

import i18n
from ingest.context import Context
from tests.verify.tamper import Sql, events, write_event
from verify.audit.replay import Parallel, Replay, replay_log
from verify.log.events import EventType, encode_data
from verify.problems import Problem, Problems

SIZE = 77  # events after the fixture: chunks of 8 leave a partial last chunk


@pytest.fixture
def long_log(ingested: Context) -> Context:
    """The ingested catalog with appended events up to ``SIZE``, in several transactions."""
    with ingested.catalog.read() as txn:
        size = txn.log.head().size
    while size < SIZE:
        with ingested.catalog.write() as txn:
            for _ in range(min(10, SIZE - size)):
                data = {"n": size, "how": "ü\U0001f600"}
                ingested.custody.append(
                    txn, type=EventType.VIEWED, actor="user:test", item=size % 4 + 1, data=data
                )
                size += 1
    return ingested


def _replay(ctx: Context, parallel: Parallel | None) -> tuple[Replay, tuple[Problem, ...]]:
    sizes = {0, 1, 5, 8, 13, 16, 31, 32, 33, 40, 64, 70, SIZE, SIZE + 5}
    problems = Problems()
    seen: list[int] = []
    with ctx.catalog.read() as txn:
        result = replay_log(txn, problems, sizes=sizes, batch=7, parallel=parallel,
                            observe=lambda ev: seen.append(ev.seq))  # fmt: skip
    assert seen == sorted(seen) and len(seen) == result.events
    return result, problems.listed()


def _assert_same(ctx: Context, *, chunk_log2: int = 3) -> tuple[Problem, ...]:
    serial = _replay(ctx, None)
    par = Parallel(catalog_url=ctx.settings.catalog_url, workers=2, chunk_log2=chunk_log2,
                   min_events=0)  # fmt: skip
    assert par.applies(SIZE)
    assert _replay(ctx, par) == serial
    return serial[1]


def _edit(ctx: Context, sql: Sql, seq: int, change: Callable[[dict[str, object]], str]) -> None:
    ev = events(ctx, seq, seq + 1)[0]
    write_event(sql, dataclasses.replace(ev, data=change(json.loads(ev.data))))


def test_a_clean_log_gives_the_same_roots_in_workers(long_log: Context) -> None:
    """Nothing found either way, and every requested root is the same."""
    assert _assert_same(long_log) == ()
    assert _assert_same(long_log, chunk_log2=0) == ()
    assert _assert_same(long_log, chunk_log2=5) == ()


TAMPERING: dict[str, Callable[[Context, Sql], object]] = {
    "edited data": lambda c, s: _edit(c, s, 24, lambda d: encode_data(d | {"n": -1})),
    "edited data at a chunk start": lambda c, s: _edit(c, s, 32, lambda d: encode_data({})),
    "data not canonical": lambda c, s: _edit(c, s, 40, lambda d: json.dumps(d, indent=1)),
    "data not JSON": lambda c, s: _edit(c, s, 47, lambda d: "{not json"),
    "data beyond I-JSON": lambda c, s: _edit(c, s, 48, lambda d: '{"n":9007199254740993}'),
    "run of deleted events over a chunk edge": lambda c, s: s(
        "DELETE FROM custody_event WHERE seq BETWEEN 21 AND 34"
    ),
    "inserted event": lambda c, s: (
        s("UPDATE custody_event SET seq = seq + 1000 WHERE seq >= 30"),
        s("UPDATE custody_event SET seq = seq - 999 WHERE seq >= 1000"),
    ),
    "deleted leaf": lambda c, s: s("DELETE FROM log_node WHERE level = 0 AND idx = 39"),
    "deleted node above a chunk": lambda c, s: s(
        "DELETE FROM log_node WHERE level = 4 AND idx = 1"
    ),
    "changed node above a chunk": lambda c, s: s(
        "UPDATE log_node SET hash = :h WHERE level = 5 AND idx = 0", h=bytes(32)
    ),
    "changed node inside a chunk": lambda c, s: s(
        "UPDATE log_node SET hash = :h WHERE level = 2 AND idx = 9", h=bytes(32)
    ),
    "broken chain at a chunk start": lambda c, s: s(
        "UPDATE custody_event SET prev = :p WHERE seq = 48", p="f" * 64
    ),
    "event beyond the head": lambda c, s: s("UPDATE log_head SET size = size - 9"),
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_tampering_is_reported_the_same_in_workers(long_log: Context, sql: Sql, how: str) -> None:
    """The same problems, in the same order, with the same runs, and the same roots (data
    written in another JSON form is no tampering: its canonical form is what was logged)."""
    TAMPERING[how](long_log, sql)
    assert (_assert_same(long_log) == ()) == (how == "data not canonical")


def test_workers_that_cannot_start_leave_the_replay_to_this_process(long_log: Context) -> None:
    """A worker that cannot open the catalog breaks the pool: the replay still completes."""
    broken = Parallel(catalog_url="sqlite:////nonexistent-evidock/catalog.db", workers=2,
                      chunk_log2=3, min_events=0)  # fmt: skip
    assert _replay(long_log, broken) == _replay(long_log, None)


def test_workers_report_in_the_readers_language(long_log: Context, sql: Sql) -> None:
    """A spawned worker starts in English: it is given the reader's language, so a run of
    problems over chunk edges reads as one Chinese run, as the replay in one process gives it."""
    TAMPERING["run of deleted events over a chunk edge"](long_log, sql)
    with i18n.speaking("zh"):
        problems = _assert_same(long_log)
    (run,) = [p for p in problems if p.code == "event-missing"]
    assert run.subject.startswith("事件 #21..#34 均在日志中缺失（共 14 个事件")
    assert run.expected == "序号为 21 的事件"
