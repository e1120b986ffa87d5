"""The console's item search at 100k items (10k with --quick; ``--size 1000000`` for the
issue's figure: p95 under 100 ms at 1M items).

Setup (not timed) bulk-writes items across 400 devices, 300 officers, two years of recording
times and 1 case per 40 items (a quarter of the items linked), each with its 24-hour
measurement: 0.5 % late, 0.3 % with a clock problem, 0.1 % damaged, 2 % with some other flag.
Timed: ``storage.catalog.search.search_items``, the function the search page calls, for the
searches people type (by case, officer and a month, device, late, damaged, a page deep into
everything), each repeated with different values; p50 and p95 against two baselines measured
in the same run: a primary-key lookup of one item and a full scan of the items (a count with a
filter no index serves, as a search without indexes would read them).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bench.common import Options, fmt_s, scratch, settings_for, table
from ingest.context import open_context
from storage.catalog.models import (
    CaseLinkRow,
    CaseRow,
    DeviceRow,
    DockSessionRow,
    ItemRow,
    OfficerRow,
    OffloadCheckRow,
)
from storage.catalog.search import DAMAGED, LATE, ItemQuery, search_items

NOW = datetime.now(UTC)
DEVICES, OFFICERS, PER_CASE, SPAN_DAYS = 400, 300, 40, 730
PAGE = 25  # the page size of ingest.console.search
REPEAT = 40
BATCH = 20_000


def _build(ctx: Any, n: int, rng: random.Random) -> None:
    t0 = NOW - timedelta(days=SPAN_DAYS)
    with ctx.catalog.write() as txn:
        s = txn.s
        s.execute(insert(OfficerRow), [
            {"id": o, "badge": f"B{o:05d}", "name": f"officer {o}", "unit": "bench",
             "certificate_no": "", "created_at": t0} for o in range(1, OFFICERS + 1)
        ])  # fmt: skip
        s.execute(insert(DeviceRow), [
            {"id": d, "serial": f"BWC-{d:05d}", "kind": "body-camera", "vendor": "", "model": "",
             "profile": "", "registered": True, "created_at": t0} for d in range(1, DEVICES + 1)
        ])  # fmt: skip
        dock = ctx.dock.id
        s.execute(insert(DockSessionRow), [
            {"id": d, "dock_id": dock, "device_id": d, "source": "/bench", "started_at": t0}
            for d in range(1, DEVICES + 1)
        ])  # fmt: skip
        cases = max(1, n // PER_CASE)
        s.execute(insert(CaseRow), [
            {"id": c, "number": _case(c), "title": "", "enforcement_type": "traffic",
             "procedure": "simple", "handler_id": 1 + c % OFFICERS, "confidentiality": "none",
             "status": "open", "opened_at": t0, "opened_by": "bench", "stage": "initiation"}
            for c in range(1, cases + 1)
        ])  # fmt: skip
    items: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        device = rng.randint(1, DEVICES)
        start = t0 + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
        end = start + timedelta(minutes=rng.uniform(1, 30))
        late, clock = rng.random() < 0.005, rng.random() < 0.003
        roll = rng.random()
        flags = "media_damaged" if roll < 0.001 else "officer_mismatch" if roll < 0.021 else ""
        durable = end + timedelta(hours=30 if late else 2)
        items.append({
            "id": i, "sha256": f"{i:064x}", "size": 1000, "device_id": device,
            "officer_id": 1 + device % OFFICERS, "session_id": device,
            "original_path": f"DCIM/{i}.MP4".encode(), "original_path_display": f"DCIM/{i}.MP4",
            "source_mtime_ns": 0, "state": "stored", "acquired_at": durable,
            "durable_at": durable, "confidentiality": "none", "mime_type": "video/mp4",
            "recorded_start": start, "recorded_end": end, "time_source": "container",
            "flags": flags, "probe_errors": "",
        })  # fmt: skip
        checks.append({
            "item_id": i, "reference_end": end, "reference_source": "recorded",
            "clock_problem": "clock_ahead" if clock else "", "durable_at": durable,
            "delay_s": (durable - end).total_seconds(), "late_flag_seq": i if late else None,
            "checked_at": NOW,
        })  # fmt: skip
        if i % 4 == 0:  # a quarter of the items are filed to a case, PER_CASE / 4 per case
            links.append({
                "case_id": 1 + (i // 4) % cases, "item_id": i, "stage": "investigation",
                "how": "manual", "why": "", "linked_by": "bench", "linked_at": durable,
                "linked_seq": i, "retired": 0,
            })  # fmt: skip
        if len(items) >= BATCH or i == n:
            with ctx.catalog.write() as txn:
                txn.s.execute(insert(ItemRow), items)
                txn.s.execute(insert(OffloadCheckRow), checks)
                if links:
                    txn.s.execute(insert(CaseLinkRow), links)
            items, checks, links = [], [], []


def _queries(k: int, cases: int) -> dict[str, ItemQuery]:
    """The searches of run ``k``: each run asks for another case, officer, month, device."""
    since = NOW - timedelta(days=30 + (k * 17) % (SPAN_DAYS - 60))
    return {
        "case": ItemQuery(case=_case(1 + k * 37 % cases), limit=PAGE),
        "officer + month": ItemQuery(officer=f"B{1 + k * 7 % OFFICERS:05d}", since=since,
                                     until=since + timedelta(days=30), limit=PAGE),
        "device": ItemQuery(device=f"BWC-{1 + k * 11 % DEVICES:05d}", limit=PAGE),
        "late": ItemQuery(flags=frozenset({LATE}), offset=k % 4 * PAGE, limit=PAGE),
        "damaged": ItemQuery(flags=frozenset({DAMAGED}), offset=k % 2 * PAGE, limit=PAGE),
        "all, page 200": ItemQuery(offset=(199 + k % 3) * PAGE, limit=PAGE),
    }  # fmt: skip


def _case(c: int) -> str:
    return f"BENCH-2026-{c:06d}"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return statistics.median(samples), cuts[18]  # the 19th of 20 cut points: p95


def _time(make: Callable[[int], Callable[[], object]]) -> tuple[float, float]:
    samples = []
    for k in range(REPEAT):
        call = make(k)
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return _percentiles(samples)


def run(opts: Options) -> dict[str, Any]:
    sizes = opts.pick((100_000,), quick=(10_000,))
    out: dict[str, Any] = {}
    for n in sizes:
        out[str(n)] = _run_size(opts, n)
    return out


def _run_size(opts: Options, n: int) -> dict[str, Any]:
    rng = random.Random(16)
    with scratch(opts, f"search{n}") as home:
        ctx = open_context(settings_for(home), create=True)
        t0 = time.perf_counter()
        _build(ctx, n, rng)
        setup = time.perf_counter() - t0
        cases = max(1, n // PER_CASE)
        hits = [0]

        def search(q: ItemQuery) -> Callable[[], object]:
            def call() -> object:
                with ctx.catalog.read() as txn:
                    got = search_items(txn, q)
                hits[0] += len(got.hits)
                return got

            return call

        def pk(k: int) -> Callable[[], object]:
            def call() -> object:
                with ctx.catalog.read() as txn:
                    return txn.s.scalar(select(ItemRow.id).where(ItemRow.id == 1 + k * 7 % n))

            return call

        def count(k: int) -> Callable[[], object]:  # a filter no index serves: every row
            def call() -> object:
                with ctx.catalog.read() as txn:
                    where = ItemRow.probe_errors.contains(f"bench-{k}")
                    return txn.s.scalar(select(func.count()).where(where))

            return call

        searches = {
            name: (lambda k, name=name: search(_queries(k, cases)[name]))
            for name in _queries(0, cases)
        }
        pk50, pk95 = _time(pk)
        c50, c95 = _time(count)
        timed, found = {}, {}
        for name, make in searches.items():
            hits[0] = 0
            timed[name] = _time(make)
            found[name] = hits[0] / REPEAT
        ctx.close()
    rows: list[list[object]] = [
        ["primary-key lookup (baseline)", fmt_s(pk50), fmt_s(pk95), "1.0x", f"{pk95 / c95:.3f}"],
        ["full scan (baseline)", fmt_s(c50), fmt_s(c95), f"{c95 / pk95:.0f}x", "1.000"],
    ]
    result: dict[str, Any] = {"setup_s": setup, "pk_p50_ms": pk50 * 1e3, "pk_p95_ms": pk95 * 1e3,
                              "scan_p50_ms": c50 * 1e3, "scan_p95_ms": c95 * 1e3,
                              "searches": {}}  # fmt: skip
    for name, (p50, p95) in timed.items():
        rows.append([name, fmt_s(p50), fmt_s(p95), f"{p95 / pk95:.0f}x", f"{p95 / c95:.3f}"])
        result["searches"][name] = {"p50_ms": p50 * 1e3, "p95_ms": p95 * 1e3,
                                    "p95_to_pk": p95 / pk95, "p95_to_scan": p95 / c95}  # fmt: skip
        result["searches"][name]["hits_per_page"] = found[name]
        rows[-1].append(f"{found[name]:.1f}")
    rows[0].append("")
    rows[1].append("")
    heads = ["search", "p50", "p95", "p95/pk lookup", "p95/full scan", "hits/page"]
    print(table(f"console search at {n:,} items (SQLite, setup {fmt_s(setup)}; {REPEAT} runs "
                f"each, a page of {PAGE})", heads, rows))  # fmt: skip
    worst = max(p95 for _, p95 in timed.values())
    result["worst_p95_ms"] = worst * 1e3
    print(
        f"slowest search p95 at {n:,} items: {fmt_s(worst)} (the issue asks < 100 ms at 1M); "
        f"{worst / c95:.3f}x one full scan (well below 1: the searches read through indexes)"
    )
    return result
