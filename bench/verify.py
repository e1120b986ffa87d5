"""Full-log verification at 10^4, 10^5 and 10^6 events (10^3..10^5 with --quick).

Setup (not timed) writes a synthetic custody log straight into a SQLite catalog, with the
same rows CustodyLog.append writes (events, stored subtree nodes, head). Timed: the log
replay of ``evidock verify --quick`` (chain, leaves, nodes, root) and inclusion-proof
generation from the catalog. The ratio of interest is seconds per event between sizes:
verification must stay linear.

Issue 19: at N events (``--size N``, default 10^5) the replay as before (one process) against
the replay in worker processes (one per core, ``verify.audit.chunks``), as a ratio; and the
canonical JSON of the events by ``rfc8785`` against the fast encoder (``verify.log.jcs``).

Issue 14: the same replay again with the facts projection folded in and compared with the
catalog (``verify.audit.facts``), as a ratio to the bare replay (target <= 1.5x). Every
synthetic event but the first (the camera's ``device_registered``) is an ``acquired`` event
carrying an item's facts, so each one is parsed by the fold: the worst case. The catalog holds
the matching item rows (one per three events), so the comparison compares every field of
every item. ``--size N`` runs other sizes (e.g. just 1,000,000).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from bench.common import Options, fmt_s, scratch, settings_for, table
from ingest.context import open_context
from storage.catalog.models import CustodyEventRow, ItemRow, LogHeadRow, LogNodeRow
from storage.catalog.session import Transaction
from storage.records import Event
from verify.audit.facts import Projection, Scope, catalog_facts, compare
from verify.audit.replay import Parallel, cores, replay_log
from verify.log.events import (
    canonical_object,
    data_time,
    encode_data,
    event_leaf,
    event_object,
    reference_canonical,
)
from verify.log.merkle import inclusion_proof, nodes_to_add, root, verify_inclusion
from verify.problems import Problems

SERIAL = "BWC-BENCH"
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _facts(item: int) -> dict[str, Any]:
    """The facts of a synthetic item, as its events and its row both hold them."""
    end = T0 + timedelta(seconds=30 * item)
    return {"officer": None, "recorded_start": end - timedelta(minutes=5), "recorded_end": end,
            "time_source": "container", "state": "stored",
            "durable_at": end + timedelta(hours=2)}  # fmt: skip


def _event(seq: int, prev: str) -> Event:
    time_ = f"2026-11-27T00:{seq // 60 % 60:02d}:{seq % 60:02d}.000000Z"
    if seq == 0:
        data = {"serial": SERIAL, "kind": "body-camera", "vendor": "", "model": "",
                "registered": True}  # fmt: skip
        return Event(seq=0, time=time_, type="device_registered", item=None, actor="user:bench",
                     dock="bench-dock", data=encode_data(data), prev=prev)  # fmt: skip
    item = (seq - 1) // 3 + 1
    facts = {k: data_time(v) if isinstance(v, datetime) else v for k, v in _facts(item).items()}
    return Event(seq=seq, time=time_, type="acquired", item=item, actor="dock:bench",
                 dock="bench-dock", data=encode_data({"sha256": f"{seq:064x}", "size": seq,
                                                      **facts}), prev=prev)  # fmt: skip


def _items(ctx: Any, n: int) -> None:
    """The catalog rows of the items the log acquired, agreeing with it."""
    with ctx.catalog.write() as txn:
        dev = txn.add_device(serial=SERIAL, kind="body-camera", vendor="", model="", profile="",
                             registered=True, now=T0)  # fmt: skip
        session = txn.open_session(dock_id=ctx.dock.id, device_id=dev.id, source="/bench",
                                   now=T0)  # fmt: skip
    batch: list[dict[str, Any]] = []
    last = (n - 2) // 3 + 1
    for i in range(1, last + 1):
        f = _facts(i)
        batch.append({
            "id": i, "sha256": f"{i:064x}", "size": 1000, "device_id": dev.id,
            "officer_id": None, "session_id": session, "original_path": f"DCIM/{i}.MP4".encode(),
            "original_path_display": f"DCIM/{i}.MP4", "source_mtime_ns": 0,
            "acquired_at": f["durable_at"], "confidentiality": "none", "flags": "",
            "probe_errors": "", **{k: v for k, v in f.items() if k != "officer"},
        })  # fmt: skip
        if len(batch) >= 20_000 or i == last:
            with ctx.catalog.write() as txn:
                txn.s.execute(insert(ItemRow), batch)
            batch = []


def _build(ctx: Any, n: int) -> None:
    _items(ctx, n)
    nodes: dict[tuple[int, int], bytes] = {}
    prev = "0" * 64
    batch_ev: list[dict[str, Any]] = []
    batch_nodes: list[dict[str, Any]] = []
    with ctx.catalog.write() as txn:
        conn = txn.s
        for seq in range(n):
            ev = _event(seq, prev)
            leaf = event_leaf(ev)
            for lv, ix, h in nodes_to_add(seq, leaf, lambda lv, ix: nodes[(lv, ix)]):
                nodes[(lv, ix)] = h
                batch_nodes.append({"level": lv, "idx": ix, "hash": h})
            batch_ev.append(
                {"seq": ev.seq, "time": ev.time, "type": ev.type, "item_id": ev.item,
                 "actor": ev.actor, "dock": ev.dock, "data": ev.data, "prev": ev.prev}
            )  # fmt: skip
            prev = leaf.hex()
            if len(batch_ev) >= 20_000:
                conn.execute(insert(CustodyEventRow), batch_ev)
                conn.execute(insert(LogNodeRow), batch_nodes)
                batch_ev, batch_nodes = [], []
        if batch_ev:
            conn.execute(insert(CustodyEventRow), batch_ev)
            conn.execute(insert(LogNodeRow), batch_nodes)
        conn.merge(LogHeadRow(id=1, size=n, last_leaf=prev))


COMPARE_AT = 100_000


def _compare(ctx: Any, n: int) -> dict[str, Any]:
    """The replay as before (one process) vs in worker processes; JCS by both encoders."""
    workers = cores()
    with ctx.catalog.read() as txn:
        t0 = time.perf_counter()
        serial = replay_log(txn, Problems(), sizes=(n,))
        serial_s = time.perf_counter() - t0
        par = Parallel(catalog_url=ctx.catalog.url, workers=workers)
        t0 = time.perf_counter()
        problems = Problems()
        parallel = replay_log(txn, problems, sizes=(n,), parallel=par)
        parallel_s = time.perf_counter() - t0
        assert len(problems) == 0 and parallel.roots == serial.roots, "the same replay"
        sample = [event_object(ev) for ev in txn.log.event_range(0, min(n, 20_000))]
    t0 = time.perf_counter()
    reference = [reference_canonical(o) for o in sample]
    rfc_s = (time.perf_counter() - t0) / len(sample)
    t0 = time.perf_counter()
    fast = [canonical_object(o) for o in sample]
    fast_s = (time.perf_counter() - t0) / len(sample)
    assert fast == reference
    result = {
        "events": n, "workers": workers, "parallel_applies": par.applies(n),
        "serial_s": serial_s, "parallel_s": parallel_s, "speedup": serial_s / parallel_s,
        "serial_per_event_us": serial_s / n * 1e6, "parallel_per_event_us": parallel_s / n * 1e6,
        "rfc8785_us": rfc_s * 1e6, "fast_jcs_us": fast_s * 1e6, "jcs_speedup": rfc_s / fast_s,
    }  # fmt: skip
    row = [f"{n:,}", fmt_s(serial_s), fmt_s(parallel_s), f"{serial_s / parallel_s:.2f}x",
           f"{rfc_s * 1e6:.1f} µs", f"{fast_s * 1e6:.1f} µs", f"{rfc_s / fast_s:.2f}x"]  # fmt: skip
    print(table(f"replay of {n:,} events: one process (as before) vs {workers} worker processes",
                ["events", "one process", "workers", "speedup", "JCS rfc8785", "JCS fast",
                 "JCS speedup"], [row]))  # fmt: skip
    print(f"projected replay of 1,000,000 events in workers: {parallel_s / n * 1e6:.1f} s "
          f"(one process: {serial_s / n * 1e6:.1f} s; target < 7 s on 2 cores)")  # fmt: skip
    return result


def run(opts: Options) -> dict[str, Any]:
    sizes = opts.pick((10_000, 100_000, 1_000_000), quick=(1_000, 10_000, 100_000))
    compare_at = opts.sizes[0] if opts.sizes else COMPARE_AT
    rows = []
    out: dict[str, Any] = {}
    for n in sizes:
        with scratch(opts, f"verify{n}") as home:
            ctx = open_context(settings_for(home), create=True)
            t0 = time.perf_counter()
            _build(ctx, n)
            build_s = time.perf_counter() - t0
            with ctx.catalog.read() as txn:
                problems = Problems()
                # interleaved, best of a few: a shared machine's load skews single runs
                replay_s = facts_s = float("inf")
                for _ in range(2 if n > 100_000 else 3):
                    t0 = time.perf_counter()
                    result = replay_log(txn, problems, sizes=())
                    replay_s = min(replay_s, time.perf_counter() - t0)
                    assert len(problems) == 0, "the synthetic log must verify"
                    projection = Projection()
                    t0 = time.perf_counter()
                    replay_log(txn, problems, sizes=(), observe=projection.apply)
                    compared = compare(projection, catalog_facts(txn, Scope()), problems)
                    facts_s = min(facts_s, time.perf_counter() - t0)
                    assert len(problems) == 0, problems.listed()[:3]
                    assert compared == (n - 2) // 3 + 2, compared  # every item row, the device
                tree_root = root(n, txn.log.read_node)
                t0 = time.perf_counter()
                proofs = [inclusion_proof(i, n, txn.log.read_node) for i in range(0, n, n // 50)]
                proof_s = (time.perf_counter() - t0) / len(proofs)
                leaves = {i: bytes.fromhex(_leaf_hex(txn, i)) for i in range(0, n, n // 50)}
            assert all(
                verify_inclusion(leaves[i], i, n, p, tree_root)
                for i, p in zip(range(0, n, n // 50), proofs, strict=True)
            )
            if n == compare_at:
                out["replay_compare"] = _compare(ctx, n)
            ctx.close()
        per_event = replay_s / n
        rows.append([f"{n:,}", fmt_s(build_s), fmt_s(replay_s), f"{n / replay_s:,.0f}",
                     f"{per_event * 1e6:.2f} µs", fmt_s(facts_s), f"{facts_s / replay_s:.2f}x",
                     len(proofs[0]), fmt_s(proof_s)])  # fmt: skip
        out[str(n)] = {"replay_s": replay_s, "events_per_s": n / replay_s,
                       "facts_s": facts_s, "facts_ratio": facts_s / replay_s,
                       "proof_hashes": len(proofs[0]), "proof_s": proof_s}  # fmt: skip
        del result
    print(table("full-log verification (replay of verify --quick) and proofs from the catalog",
                ["events", "setup", "replay", "events/s", "per event", "with facts", "ratio",
                 "proof hashes", "proof gen"], rows))  # fmt: skip
    if len(sizes) == 1:
        return out
    small, big = str(sizes[0]), str(sizes[-1])
    linear = (out[big]["replay_s"] / int(big)) / (out[small]["replay_s"] / int(small))
    if small == big:
        print("(one size: linearity not measured)")
    projected = out[big]["replay_s"] / int(big) * 1_000_000
    print(f"per-event cost at {int(big):,} vs {int(small):,}: {linear:.2f}x (1.0 = linear)")
    print(f"projected replay of 1,000,000 events: {projected:.1f} s (target < 30 s)")
    ratio = out[big]["facts_ratio"]
    print(f"replay with the facts projection and comparison at {int(big):,}: {ratio:.2f}x the "
          "bare replay (target <= 1.5x)")  # fmt: skip
    out["linearity"] = linear
    out["projected_1e6_s"] = projected
    return out


def _leaf_hex(txn: Transaction, index: int) -> str:
    return txn.log.read_node(0, index).hex()
