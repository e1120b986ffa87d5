"""``evidock correct ITEM --officer BADGE --reason TEXT`` (issue 20): a wrong attribution set
right, as a ``metadata_corrected`` custody event that keeps the value it replaces.

A shared camera handed over without a ``device assign`` files its recordings under the wrong
officer. The correction changes the attribution the reports use; the custody log keeps both
the original (in the ``acquired`` event and in the correction's ``was``) and who changed it
and why.
"""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _
from ingest.cli.common import examples, open_dock
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK, UsageError
from ingest.output import Output
from verify.log.events import EventType


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "correct",
        help=_("correct an item's officer (a custody event that keeps the original)"),
        description=_(
            "Attribute an evidence item to the officer who really recorded it. The "
            "original attribution stays in the custody log; reports use the corrected one."
        ),
        epilog=examples(
            'evidock correct 42 --officer J0002 --reason "共用记录仪，交接未登记 shared camera"'
        ),
    )
    s.add_argument("item", type=int)
    s.add_argument(
        "--officer", metavar="BADGE", required=True, help=_("the officer who recorded it")
    )
    s.add_argument("--reason", required=True, help=_("why (recorded in the custody log)"))
    s.set_defaults(func=cmd_correct)


def cmd_correct(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    if not args.reason.strip():
        raise UsageError(_("the reason is empty"), hint=_("Say why in --reason."))
    ctx = open_dock(settings)
    try:
        with ctx.catalog.write() as txn:
            was = txn.item(args.item).officer_badge
            if was == args.officer:
                raise UsageError(
                    _("item {item} is already {officer}'s").format(item=args.item, officer=was),
                    hint=_("Nothing to correct."),
                )
            txn.set_item_officer(args.item, args.officer)
            ctx.custody.append(
                txn,
                type=EventType.METADATA_CORRECTED,
                actor=os_actor(),
                item=args.item,
                data={"officer": args.officer, "was": {"officer": was}, "reason": args.reason},
            )
    finally:
        ctx.close()
    out.document({"item": args.item, "officer": args.officer, "was": was})
    out.line(
        _(
            "item {item}: officer {was} → {officer} ({reason}); the original stays in the "
            "custody log"
        ).format(item=args.item, was=was or "-", officer=args.officer, reason=args.reason)
    )
    return EXIT_OK
