"""The custody log: append rate, proof sizes and times, and the cost of verifying a whole log.

Appends go through ``CustodyLog.append`` exactly as ingest makes them (lock the head, chain
``prev``, hash the leaf, store the completed Merkle nodes, move the head), one transaction per
event and in batches of 100. The baseline is a bare INSERT of the very same event rows (read
back from the appended log) into a fresh catalog with the same transaction pattern, so the
ratio is the price of chaining and tree nodes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785

from bench.common import Options, fmt_rate, fmt_s, note, ratio, scratch, table
from storage.catalog.session import Catalog
from storage.records import Event
from verify.custody import CustodyLog
from verify.log import merkle
from verify.log.events import (
    EventType,
    canonical,
    encode_data,
    event_leaf,
    event_object,
    format_time,
)

BATCH = 100
PROOFS = 100
SEED = 20261126
START = 1_795_000_000  # a fixed epoch second for synthetic event times


# -- synthetic events --------------------------------------------------------------------------
def event_data(i: int) -> dict[str, Any]:
    """The data of an 'acquired' event as the pipeline writes it."""
    return {
        "sha256": hashlib.sha256(i.to_bytes(8, "big")).hexdigest(),
        "size": 50_000_000 + i,
        "device": "BENCH-CAM-1",
        "session": 1 + i // 50,
        "path": f"DCIM/100MEDIA/REC_{i:06d}.MP4",
        "source_mtime_ns": str((START + i) * 1_000_000_000),
        "officer": "B-1042",
        "recorded_start": "2026-11-26T01:30:00+00:00",
        "recorded_end": "2026-11-26T01:33:00+00:00",
        "time_source": "container",
        "flags": [],
        "probe_errors": [],
    }


def synthetic_events(n: int) -> list[Event]:
    out = []
    for i in range(n):
        out.append(
            Event(
                seq=i,
                time=format_time(datetime.fromtimestamp(START + i / 10, UTC)),
                type=EventType.ACQUIRED,
                item=i + 1,
                actor="user:bench",
                dock="bench-dock",
                data=encode_data(event_data(i)),
                prev=hashlib.sha256(i.to_bytes(8, "little")).hexdigest(),
            )
        )
    return out


# -- catalogs ----------------------------------------------------------------------------------
Opener = Callable[[str], contextlib.AbstractContextManager[Catalog]]


def sqlite_opener(folder: Path) -> Opener:
    @contextlib.contextmanager
    def open_(name: str) -> Iterator[Catalog]:
        cat = Catalog.open(f"sqlite:///{folder / name}.db")
        try:
            yield cat
        finally:
            cat.close()

    return open_


def pg_opener(admin_url: str) -> Opener:
    from support.pg import fresh_database

    @contextlib.contextmanager
    def open_(_name: str) -> Iterator[Catalog]:
        with fresh_database(admin_url) as url:
            cat = Catalog.open(url)
            try:
                yield cat
            finally:
                cat.close()

    return open_


def append(cat: Catalog, datas: Sequence[dict[str, Any]], batch: int) -> float:
    log = CustodyLog(dock="bench-dock")
    t0 = time.perf_counter()
    for start in range(0, len(datas), batch):
        with cat.write() as txn:
            for i in range(start, min(start + batch, len(datas))):
                log.append(
                    txn, type=EventType.ACQUIRED, actor="user:bench", item=i + 1, data=datas[i]
                )
    return time.perf_counter() - t0


def bare_insert(cat: Catalog, events: Sequence[Event], batch: int) -> float:
    t0 = time.perf_counter()
    for start in range(0, len(events), batch):
        with cat.write() as txn:
            for ev in events[start : start + batch]:
                txn.log.insert_event(ev)
    return time.perf_counter() - t0


def read_only_transactions(cat: Catalog, count: int) -> float:
    """The fixed price of a write transaction that writes nothing: connect, BEGIN IMMEDIATE,
    one SELECT of the log head, COMMIT."""
    t0 = time.perf_counter()
    for _ in range(count):
        with cat.write() as txn:
            txn.log.head()
    return time.perf_counter() - t0


def raw_sqlite_insert(db: Path, events: Sequence[Event]) -> float:
    """The same rows through one kept sqlite3 connection with the catalog's PRAGMAs, one
    transaction per row: what a transaction costs without a new connection each time."""
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        sql = (
            "INSERT INTO custody_event (seq, time, type, item_id, actor, dock, data, prev) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        t0 = time.perf_counter()
        for ev in events:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                sql, (ev.seq, ev.time, ev.type, ev.item, ev.actor, ev.dock, ev.data, ev.prev)
            )
            conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        conn.close()


def read_events(cat: Catalog) -> list[Event]:
    with cat.read() as txn:
        return list(txn.log.events())


def check_log(cat: Catalog, n: int) -> float:
    """Replay the log from the catalog (read, canonical form, leaf, chain, root) against the
    stored tree; returns the seconds it took."""
    t0 = time.perf_counter()
    stream = merkle.StreamingRoot()
    prev = "0" * 64
    with cat.read() as txn:
        for ev in txn.log.events():
            assert ev.prev == prev, f"chain broken at {ev.seq}"
            leaf = event_leaf(ev)
            stream.push(leaf)
            prev = leaf.hex()
        seconds = time.perf_counter() - t0
        assert stream.size == n == txn.log.head().size, f"log holds {stream.size}, wanted {n}"
        assert stream.root() == merkle.root(n, txn.log.read_node), "stored tree differs"
    return seconds


def append_rates(
    opener: Opener, label: str, runs: Sequence[tuple[int, int]]
) -> list[dict[str, Any]]:
    rows = []
    for n, batch in runs:
        mode = f"{batch} event{'s' if batch > 1 else ''}/txn"
        datas = [event_data(i) for i in range(n)]
        with opener(f"{label}-{batch}-log") as cat:
            evi = append(cat, datas, batch)
            events = read_events(cat)
            replay = check_log(cat, n) if label == "sqlite" and batch > 1 else None
        with opener(f"{label}-{batch}-bare") as cat:
            bare = bare_insert(cat, events, batch)
            floor = read_only_transactions(cat, n // batch)
        raw = None
        if label == "sqlite" and batch == 1:
            with opener(f"{label}-raw") as cat:
                raw = raw_sqlite_insert(Path(str(cat.engine.url.database)), events)
        rows.append(
            {
                "backend": label,
                "mode": mode,
                "events": n,
                "append_per_s": n / evi,
                "bare_insert_per_s": n / bare,
                "ratio_append_bare": ratio(n / evi, n / bare),
                "extra_us_per_append": (evi - bare) / n * 1e6,
                "nowrite_txn_per_s": (n // batch) / floor,
                "replay_per_s": n / replay if replay else None,
                "raw_sqlite_kept_connection_per_s": n / raw if raw else None,
            }
        )
        note(f"{label} {mode}: {n / evi:.0f} appends/s, bare INSERT {n / bare:.0f} rows/s")
    return rows


# -- proofs ------------------------------------------------------------------------------------
def proof_stats(read: merkle.NodeReader, size: int, rng: random.Random) -> dict[str, Any]:
    """Inclusion and consistency proofs at ``size``: hashes, bytes, time; all verified."""
    k = min(PROOFS, size - 1)
    indices = rng.sample(range(size), k)
    olds = [rng.randrange(1, size) for _ in range(k)]
    calls = read.calls if isinstance(read, CountingReader) else 0
    t0 = time.perf_counter()
    inc = [merkle.inclusion_proof(i, size, read) for i in indices]
    t_inc = (time.perf_counter() - t0) / k
    t0 = time.perf_counter()
    con = [merkle.consistency_proof(o, size, read) for o in olds]
    t_con = (time.perf_counter() - t0) / k
    if isinstance(read, CountingReader):
        calls = read.calls - calls
    top = merkle.root(size, read)
    for i, proof in zip(indices, inc, strict=True):
        assert merkle.verify_inclusion(read(0, i), i, size, proof, top), f"bad proof for {i}"
    for o, proof in zip(olds[:10], con[:10], strict=True):
        old_root = merkle.root(o, read)
        assert merkle.verify_consistency(o, size, old_root, top, proof), f"bad proof {o}"
    return {
        "size": size,
        "log2": size.bit_length() - (1 if size & (size - 1) == 0 else 0),
        "inclusion_hashes_max": max(len(p) for p in inc),
        "inclusion_hashes_mean": sum(len(p) for p in inc) / k,
        "inclusion_s": t_inc,
        "consistency_hashes_max": max(len(p) for p in con),
        "consistency_hashes_mean": sum(len(p) for p in con) / k,
        "consistency_s": t_con,
        "reads_per_proof": calls / (2 * k) if calls else None,
    }


class CountingReader:
    def __init__(self, read: merkle.NodeReader) -> None:
        self.read_ = read
        self.calls = 0

    def __call__(self, level: int, index: int) -> bytes:
        self.calls += 1
        return self.read_(level, index)


def catalog_proofs(cat: Catalog, sizes: Sequence[int], rng: random.Random) -> list[dict[str, Any]]:
    out = []
    with cat.read() as txn:
        for size in sizes:
            reader = CountingReader(txn.log.read_node)
            stats = proof_stats(reader, size, rng)
            stats["store"] = "catalog read_node"
            out.append(stats)
    return out


# -- whole-log verification costs --------------------------------------------------------------
def leaf_costs(n: int) -> dict[str, float]:
    events = synthetic_events(n)
    t0 = time.perf_counter()
    leaves = [event_leaf(ev) for ev in events]
    t_leaf = time.perf_counter() - t0
    t0 = time.perf_counter()
    objs = [event_object(ev) for ev in events]
    t_obj = time.perf_counter() - t0
    t0 = time.perf_counter()
    texts = [rfc8785.dumps(o) for o in objs]
    t_jcs = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        merkle.leaf_hash(t)
    t_hash = time.perf_counter() - t0
    t0 = time.perf_counter()
    for o in objs:
        json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    t_std = time.perf_counter() - t0
    assert texts[0] == canonical(events[0]) and merkle.leaf_hash(texts[-1]) == leaves[-1]
    return {
        "events": n,
        "event_leaf_per_s": n / t_leaf,
        "event_object_s": t_obj / n,
        "rfc8785_s": t_jcs / n,
        "leaf_hash_s": t_hash / n,
        "stdlib_json_s": t_std / n,
        "projected_1e6_s": 1e6 * t_leaf / n,
    }


def tree_costs(n: int, rng: random.Random) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    leaves = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    t0 = time.perf_counter()
    stream = merkle.StreamingRoot()
    for leaf in leaves:
        stream.push(leaf)
    streamed = stream.root()
    t_stream = time.perf_counter() - t0
    t0 = time.perf_counter()
    tree = merkle.MemoryTree()
    for leaf in leaves:
        tree.append_leaf_hash(leaf)
    t_build = time.perf_counter() - t0
    assert tree.root() == streamed, "StreamingRoot and MemoryTree disagree"
    proofs = []
    for size in (1000, n):
        stats = proof_stats(tree.read, size, rng)
        stats["store"] = "MemoryTree"
        proofs.append(stats)
    costs = {
        "leaves": n,
        "streaming_root_s": t_stream,
        "streaming_root_per_s": n / t_stream,
        "memory_tree_build_s": t_build,
        "memory_tree_build_per_s": n / t_build,
    }
    return costs, proofs


# -- the part ----------------------------------------------------------------------------------
def run(opts: Options) -> dict[str, Any]:
    each = 200 if opts.quick else 2000
    batched_sqlite = 2000 if opts.quick else 20_000
    tree_n = 100_000 if opts.quick else 1_000_000
    leaf_n = 2000 if opts.quick else 20_000
    rng = random.Random(SEED)
    appends: list[dict[str, Any]] = []
    proofs: list[dict[str, Any]] = []
    pg_note = ""
    with scratch(opts, "log") as tmp:
        sqlite = sqlite_opener(tmp)
        appends += append_rates(sqlite, "sqlite", [(each, 1), (batched_sqlite, BATCH)])
        with sqlite(f"sqlite-{BATCH}-log") as cat:
            sizes = [s for s in (1000, 10_000) if s <= batched_sqlite]
            proofs += catalog_proofs(cat, sizes, rng)
    try:
        from support.pg import server_url

        env_url = os.environ.get("EVIDOCK_TEST_DATABASE_URL")
        with server_url(env_url) as (admin, srv):
            pg_note = "throwaway server, fsync=off" if srv else "EVIDOCK_TEST_DATABASE_URL"
            appends += append_rates(pg_opener(admin), "postgresql", [(each, 1), (each, BATCH)])
    except Exception as e:  # noqa: BLE001 - a missing server is reported, not fatal
        pg_note = f"skipped: {type(e).__name__}: {e}"
        note(f"PostgreSQL {pg_note}")
    costs, tree_proofs = tree_costs(tree_n, rng)
    proofs = tree_proofs[:1] + proofs + tree_proofs[1:]
    leaf = leaf_costs(leaf_n)

    rows = [
        [a["backend"], a["mode"], a["events"], f"{a['append_per_s']:.0f}",
         f"{a['bare_insert_per_s']:.0f}", f"{a['ratio_append_bare']:.2f}x",
         fmt_s(a["extra_us_per_append"] / 1e6), f"{a['nowrite_txn_per_s']:.0f}"]
        for a in appends
    ]  # fmt: skip
    for a in appends:
        if a.get("raw_sqlite_kept_connection_per_s"):
            rows.append(
                ["sqlite (raw sqlite3, one kept connection)", a["mode"], a["events"], "-",
                 f"{a['raw_sqlite_kept_connection_per_s']:.0f}", "", "", ""]
            )  # fmt: skip
    print(
        table(
            "log: appends (CustodyLog.append) vs bare INSERT of the same rows"
            + (f"; PostgreSQL: {pg_note}" if pg_note else ""),
            [
                "backend",
                "transactions",
                "events",
                "appends/s",
                "bare rows/s",
                "append/bare",
                "extra per append",
                "no-write txn/s",
            ],
            rows,
        )
    )
    prow = [
        [p["store"], p["size"], p["log2"],
         f"{p['inclusion_hashes_max']} ({p['inclusion_hashes_max'] * 32} B)",
         fmt_s(p["inclusion_s"]),
         f"{p['consistency_hashes_max']} ({p['consistency_hashes_max'] * 32} B)",
         fmt_s(p["consistency_s"]),
         f"{p['reads_per_proof']:.1f}" if p["reads_per_proof"] else "-"]
        for p in proofs
    ]  # fmt: skip
    print(
        table(
            f"log: proofs (max over {PROOFS} random leaves / old sizes; all verified)",
            [
                "node store",
                "size n",
                "ceil log2 n",
                "inclusion hashes",
                "time",
                "consistency hashes",
                "time",
                "reads/proof",
            ],
            prow,
        )
    )
    replay = next((a["replay_per_s"] for a in appends if a.get("replay_per_s")), None)
    vrow = [
        [f"StreamingRoot over {tree_n:,} leaf hashes", fmt_s(costs["streaming_root_s"]),
         fmt_rate(costs["streaming_root_per_s"], "leaves")],
        [f"MemoryTree build of {tree_n:,} leaf hashes", fmt_s(costs["memory_tree_build_s"]),
         fmt_rate(costs["memory_tree_build_per_s"], "leaves")],
        [f"event_leaf over {leaf_n:,} synthetic events", fmt_s(leaf_n / leaf["event_leaf_per_s"]),
         fmt_rate(leaf["event_leaf_per_s"], "events")],
        ["  per event: event_object (json.loads of data)", fmt_s(leaf["event_object_s"]), ""],
        ["  per event: rfc8785.dumps", fmt_s(leaf["rfc8785_s"]), ""],
        ["  per event: leaf_hash (SHA-256)", fmt_s(leaf["leaf_hash_s"]), ""],
        ["  (for scale: stdlib json.dumps sorted, not RFC 8785)", fmt_s(leaf["stdlib_json_s"]),
         ""],
        ["projected event_leaf time for 1,000,000 events", fmt_s(leaf["projected_1e6_s"]), ""],
    ]  # fmt: skip
    if replay:
        vrow.append(
            [
                "replay from SQLite (read + event_leaf + chain + root)",
                fmt_s(1e6 / replay) + " per 1e6",
                fmt_rate(replay, "events"),
            ]
        )
    print(table("log: whole-log verification costs", ["measure", "time", "rate"], vrow))
    return {
        "appends": appends,
        "postgresql": pg_note,
        "proofs": proofs,
        "tree": costs,
        "event_leaf": leaf,
    }
