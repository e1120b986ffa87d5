"""``python -m bench [ingest] [photos] [log] [verify] [overdue] [proxy] [search] [idle] [rss]
[--quick] [--dir DIR] [--size N ...]``; all parts by default. ``appends``: custody-log appends
with 1, 2, 4, 8 writers on PostgreSQL. ``search``: the console's item search (issue 16).
``idle``: CPU and wake-ups of an idle dock (``--size SECONDS``, default 60). ``rss``: peak RSS
of an ingest of 1 file vs 1,000 and 10,000 (issue 19). ``overdue`` also times a scrape of the
catalog gauges.

Prints readable tables and ends with one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import Options, fs_type, pick_base

PARTS = (
    "ingest", "photos", "log", "verify", "overdue", "proxy", "appends", "export", "search",
    "idle", "rss",
)  # fmt: skip


def _runner(part: str) -> Callable[[Options], dict[str, Any]]:
    if part == "ingest":
        from bench import ingest

        return ingest.run
    if part == "photos":
        from bench import photos

        return photos.run
    if part == "overdue":
        from bench import overdue

        return overdue.run
    if part == "verify":
        from bench import verify

        return verify.run
    if part == "proxy":
        from bench import proxy

        return proxy.run
    if part == "export":  # issue 17: packages against cp + sha256sum
        from bench import export

        return export.run
    if part == "search":  # issue 16: the console's item search at 1M items
        from bench import search

        return search.run
    if part == "idle":  # issue 19: an idle dock's CPU and wake-ups
        from bench import idle

        return idle.run
    if part == "rss":  # issue 19: peak RSS of an ingest, 1 file vs 10,000
        from bench import rss

        return rss.run
    if part == "appends":  # issue 9: concurrent writers on PostgreSQL
        from bench import appends

        return appends.run
    from bench import log

    return log.run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument(
        "parts",
        nargs="*",
        metavar="PART",
        help=f"{', '.join(PARTS)} (default: all)",
    )
    ap.add_argument("--quick", action="store_true", help="sizes ~10x smaller, a smoke run")
    ap.add_argument(
        "--dir", type=Path, default=None, help="scratch folder on a real disk (default /var/tmp)"
    )
    ap.add_argument(
        "--size",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="run the verify/overdue/search/rss parts at this size (repeatable), e.g. --size "
        "1000000; idle: seconds to measure",
    )
    args = ap.parse_args(argv)
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    parts = list(dict.fromkeys(args.parts)) or list(PARTS)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    base = pick_base(args.dir)
    opts = Options(quick=args.quick, base=base, sizes=tuple(args.size))
    print(
        f"evidock bench: {', '.join(parts)}{' (quick)' if opts.quick else ''}; "
        f"scratch in {base} ({fs_type(base)}); python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    summary: dict[str, Any] = {"bench": "evidock", "quick": opts.quick, "parts": {}}
    started = time.perf_counter()
    for part in parts:
        t0 = time.perf_counter()
        print(f"\n=== {part} ===", flush=True)
        result = _runner(part)(opts)
        result["bench_seconds"] = round(time.perf_counter() - t0, 2)
        result["load_average_1m"] = os.getloadavg()[0]
        print(
            f"\n{part}: {result['bench_seconds']:.0f} s; 1-min load average at the end "
            f"{result['load_average_1m']:.2f} on {os.cpu_count()} CPUs (other work on the "
            "machine skews seconds more than ratios)",
            flush=True,
        )
        summary["parts"][part] = result
        sys.stdout.flush()
    summary["total_seconds"] = round(time.perf_counter() - started, 2)
    print(f"\nbench finished in {summary['total_seconds']:.0f} s")
    print(json.dumps(_rounded(summary), sort_keys=True, default=str))
    return 0


def _rounded(value: Any) -> Any:
    """Floats to 6 significant digits, so the JSON line stays readable."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


if __name__ == "__main__":
    sys.exit(main())
