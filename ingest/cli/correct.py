"""``evidock correct ITEM --officer BADGE | --clock-offset OFFSET --reason TEXT`` (issue 20):
a wrong attribution or a wrong camera clock set right, as one ``metadata_corrected`` custody
event that keeps the values it replaces (``ingest.cases.corrections``).

A shared camera handed over without a ``device assign`` files its recordings under the wrong
officer; a camera whose clock was set wrong gives wrong recording times, and with them a wrong
24-hour measure. The correction changes what the reports use; the custody log keeps the
original (in the ``acquired`` event and in the correction's ``was``), who changed it and why,
and, for a clock, the new measure (``late_flagged`` anew, or ``late_cleared``).
"""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _
from ingest.cases.corrections import correct_item, parse_clock_offset
from ingest.cli.common import examples, open_dock
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK
from ingest.output import Output


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "correct",
        help=_(
            "correct an item's officer or recording time (a custody event that keeps the original)"
        ),
        description=_(
            "Attribute an evidence item to the officer who really recorded it, or correct its "
            "recording time for a camera clock that was wrong. The original values stay in the "
            "custody log; reports use the corrected ones, and the 24-hour rule is measured again."
        ),
        epilog=examples(
            'evidock correct 42 --officer J0002 --reason "共用记录仪，交接未登记"',
            'evidock correct 43 --clock-offset=-8h --reason "记录仪时钟设为UTC，比北京时间慢8小时"',
        ),
    )
    s.add_argument("item", type=int)
    s.add_argument("--officer", metavar="BADGE", help=_("the officer who recorded it"))
    s.add_argument(
        "--clock-offset",
        metavar="OFFSET",
        help=_(
            "how far the camera's clock was ahead (+) of the true time or behind it (-): "
            "+8h, -1d2h, +00:05:30 (a minus after =: --clock-offset=-8h)"
        ),
    )
    s.add_argument("--reason", required=True, help=_("why (recorded in the custody log)"))
    s.set_defaults(func=cmd_correct)


def cmd_correct(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    offset = None if args.clock_offset is None else parse_clock_offset(args.clock_offset)
    ctx = open_dock(settings)
    try:
        with ctx.catalog.write() as txn:
            done = correct_item(
                txn,
                ctx,
                args.item,
                officer=args.officer,
                clock_offset=offset,
                reason=args.reason,
                actor=os_actor(),
            )
    finally:
        ctx.close()
    out.document(
        {
            "item": done.item,
            "event": done.seq,
            **done.new,
            "was": done.was,
            "late_before": done.late_before,
            "late_now": done.late_now,
        }
    )
    if "officer" in done.new:
        out.line(
            _("item {item}: officer {was} → {new} ({reason})").format(
                item=done.item,
                was=done.was["officer"] or "-",
                new=done.new["officer"],
                reason=args.reason,
            )
        )
    if "recorded_start" in done.new:
        out.line(
            _("item {item}: recorded {was} → {new} ({reason})").format(
                item=done.item,
                was=done.was["recorded_start"] or "-",
                new=done.new["recorded_start"] or "-",
                reason=args.reason,
            )
        )
        out.line(_measure_line(done.late_before, done.late_now))
    out.line(_("the original values stay in the custody log"))
    return EXIT_OK


def _measure_line(before: bool | None, now: bool | None) -> str:
    if now and before:
        return _("still offloaded after the 24-hour deadline: flagged late with the new delay")
    if now:
        return _("now offloaded after the 24-hour deadline: flagged late")
    if before:
        return _("now within the 24-hour deadline: the late flag is cleared (late_cleared)")
    return _("within the 24-hour deadline")
