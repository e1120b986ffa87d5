"""The 24-hour report at 10^4, 10^5, 10^6 items (10^3..10^5 with --quick).

Setup (not timed) bulk-writes items as ingest leaves them: durable, measured by the
after-ingest hook (an offload_check row each), 0.5 % of them late. Timed: ``evidock overdue``'s
report (build_report) with its catch-up pass, and without it, against a baseline measured in
the same run: one full scan of the measurements; and the agreement check of
``overdue --fail-on-overdue`` (the reported items' facts against the log). The report must
use indexes: its time may grow a little with the catalog, never in proportion to it (ratio to
the smallest size, and to the full scan).

Also timed at each size (issue 19, target < 200 ms at 10^6): one scrape of the catalog gauges
(``ingest.metrics.catalog.CatalogGauges``, uncached, rendered through a dock's Prometheus
registry as the endpoint does): the first scrape after the build, and the median of three more.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from bench.common import Options, fmt_s, median, scratch, settings_for, table, timed
from ingest.cases.agreement import require_agreement
from ingest.cases.overdue import build_report
from ingest.context import open_context
from ingest.metrics.catalog import CatalogGauges
from ingest.metrics.prometheus import DockMetrics, exposition
from storage.catalog.models import ItemRow, OffloadCheckRow

NOW = datetime.now(UTC)


def _build(ctx: Any, n: int) -> int:
    with ctx.catalog.write() as txn:
        dev = txn.add_device(
            serial="BWC-BENCH", kind="body-camera", vendor="", model="", profile="",
            registered=True, now=NOW - timedelta(days=400),
        )  # fmt: skip
        session = txn.open_session(dock_id=ctx.dock.id, device_id=dev.id, source="/bench",
                                   now=NOW - timedelta(days=60))  # fmt: skip
    late = 0
    batch_items: list[dict[str, Any]] = []
    batch_checks: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        end = NOW - timedelta(days=8) - timedelta(seconds=30 * i)
        is_late = i % 200 == 0
        late += is_late
        durable = end + timedelta(hours=30 if is_late else 2)
        batch_items.append({
            "id": i, "sha256": f"{i:064x}", "size": 1000, "device_id": dev.id,
            "officer_id": None, "session_id": session, "original_path": f"DCIM/{i}.MP4".encode(),
            "original_path_display": f"DCIM/{i}.MP4", "source_mtime_ns": 0, "state": "stored",
            "acquired_at": durable, "durable_at": durable, "confidentiality": "none",
            "recorded_start": end - timedelta(minutes=5), "recorded_end": end,
            "time_source": "container", "flags": "", "probe_errors": "",
        })  # fmt: skip
        batch_checks.append({
            "item_id": i, "reference_end": end, "reference_source": "recorded",
            "clock_problem": "", "durable_at": durable,
            "delay_s": (durable - end).total_seconds(), "late_flag_seq": None, "checked_at": NOW,
        })  # fmt: skip
        if len(batch_items) >= 20_000 or i == n:
            with ctx.catalog.write() as txn:
                txn.s.execute(insert(ItemRow), batch_items)
                txn.s.execute(insert(OffloadCheckRow), batch_checks)
            batch_items, batch_checks = [], []
    return late


def run(opts: Options) -> dict[str, Any]:
    sizes = opts.pick((10_000, 100_000, 1_000_000), quick=(1_000, 10_000, 100_000))
    rows: list[list[object]] = []
    out: dict[str, Any] = {}
    for n in sizes:
        with scratch(opts, f"overdue{n}") as home:
            ctx = open_context(settings_for(home), create=True)
            t0 = time.perf_counter()
            late = _build(ctx, n)
            setup = time.perf_counter() - t0
            t0 = time.perf_counter()
            scanned = _scan(ctx)
            scan_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            plain = build_report(ctx, actor="bench", measure_first=False)
            report_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            require_agreement(ctx, plain)  # overdue --fail-on-overdue: the log check
            agree_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            build_report(ctx, actor="bench", measure_first=True)
            with_catchup_s = time.perf_counter() - t0
            first_s, scrape_s = _scrapes(ctx)
            ctx.close()
        assert len(plain.late) == late and scanned == late, (len(plain.late), scanned, late)
        rows.append([f"{n:,}", fmt_s(setup), late, fmt_s(scan_s), fmt_s(report_s),
                     f"{report_s / scan_s:.2f}x", fmt_s(agree_s),
                     fmt_s(with_catchup_s), fmt_s(first_s), fmt_s(scrape_s),
                     f"{scrape_s / scan_s:.2f}x"])  # fmt: skip
        out[str(n)] = {"report_s": report_s, "with_catchup_s": with_catchup_s, "late": late,
                       "scan_s": scan_s, "scan_ratio": report_s / scan_s,
                       "agreement_s": agree_s, "gauges_first_s": first_s,
                       "gauges_s": scrape_s, "gauges_scan_ratio": scrape_s / scan_s}  # fmt: skip
    heads = ["items", "setup", "late", "full scan", "report", "report/scan", "log check",
             "report + catch-up", "gauges 1st", "gauges", "gauges/scan"]  # fmt: skip
    print(table("evidock overdue at growing catalogs (SQLite); baseline: one full scan of the "
                "measurements", heads, rows))  # fmt: skip
    small, big = out[str(sizes[0])], out[str(sizes[-1])]
    growth = big["report_s"] / small["report_s"]
    print(
        f"report time at {sizes[-1]:,} vs {sizes[0]:,} items: {growth:.1f}x for "
        f"{sizes[-1] // sizes[0]}x the items (the late items listed grow with them)"
    )
    out["growth"] = growth
    print(f"report at {sizes[-1]:,} items: {big['scan_ratio']:.2f}x one full scan of the "
          "measurements (below 1: the report reads through indexes, not every row)")  # fmt: skip
    verdict = "met" if big["gauges_s"] < 0.2 else "MISSED"
    print(f"catalog gauges scrape at {sizes[-1]:,} items: {fmt_s(big['gauges_s'])} (target "
          f"< 200 ms at 1,000,000: {verdict}); {big['gauges_s'] / small['gauges_s']:.1f}x the "
          f"scrape at {sizes[0]:,}")  # fmt: skip
    out["gauges_growth"] = big["gauges_s"] / small["gauges_s"]
    return out


def _scrapes(ctx: Any) -> tuple[float, float]:
    """One uncached scrape of the catalog gauges, then the median of three more (seconds)."""
    metrics = DockMetrics("bench-dock")
    metrics.add_families(CatalogGauges(ctx, max_age_s=0.0).families)
    text = ""

    def scrape() -> None:
        nonlocal text
        text = exposition(metrics.registry)

    first = timed(scrape)
    rest = median([timed(scrape) for _ in range(3)])
    assert "evidock_catalog_up 1.0" in text, "the catalog gauges failed (see the log)"
    return first, rest


def _scan(ctx: Any) -> int:
    """The baseline: read every measurement and count the late ones, as a report without
    indexes would."""
    with ctx.catalog.read() as txn:
        rows = txn.s.execute(select(OffloadCheckRow.item_id, OffloadCheckRow.delay_s)).all()
    return sum(1 for _, d in rows if d is not None and d > 24 * 3600)
