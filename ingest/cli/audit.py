"""``evidock audit``: the nightly sweep of the audit timer, in one command.

Full fixity check of the log, the checkpoints and every stored object (``evidock verify``),
its fixity events and a checkpoint, then the 24-hour scan (``evidock overdue``'s measurement
of anything not yet measured, flagging late items), and the node_exporter textfile for the
alerts. Exit 1 only for integrity problems; what is overdue is for the alerts and the report.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.cases.overdue import build_report
from ingest.cli.commands import verify_lines, verify_run
from ingest.config import Settings
from ingest.context import open_context, os_actor
from ingest.errors import EXIT_FAILURE, EXIT_OK
from ingest.metrics.audit import check_textfile_path, write_verify_textfile
from ingest.output import Output


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "audit", help="one sweep: fixity of everything, checkpoint, overdue scan (the timer's job)"
    )
    s.add_argument(
        "--metrics-textfile", type=Path, metavar="PATH",
        help="write node_exporter textfile metrics (a path ending in .prom)",
    )  # fmt: skip
    s.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace, out: Output, settings: object) -> int:
    assert isinstance(settings, Settings)
    if args.metrics_textfile is not None:
        check_textfile_path(args.metrics_textfile)
    started = time.monotonic()
    report, recorded, cp_size = verify_run(settings, item=None, quick=False)
    ctx = open_context(settings)
    try:
        # the overdue scan appends late_flagged events only to a log that verified
        overdue = build_report(ctx, actor=os_actor(), measure_first=report.log_intact)
    finally:
        ctx.close()
    if args.metrics_textfile is not None:
        write_verify_textfile(
            args.metrics_textfile,
            report,
            finished_at=datetime.now(UTC),
            duration_s=time.monotonic() - started,
        )
    out.document(
        {
            "verify": {
                **report.to_json(),
                "recorded": {"fixity_events": recorded, "checkpoint_size": cp_size},
            },
            "overdue": {"overdue_count": overdue.overdue_count, "measured": overdue.measured},
        }
    )
    verify_lines(out, report, recorded, cp_size)
    out.line(
        f"overdue scan: {overdue.overdue_count} overdue and not excused "
        f"({overdue.measured} item(s) measured now); details: evidock overdue"
    )
    return EXIT_OK if report.ok else EXIT_FAILURE
