"""``evidock case confidentiality NUMBER LEVEL --reason``: a case's Art. 31 level, and with it
the level of every item linked to it (``ingest.cases.levels``), each change a custody event."""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _, n_
from ingest.cases.levels import set_case_level
from ingest.cases.vocab import CONFIDENTIALITY, confidentiality, label
from ingest.cli.actor import acting
from ingest.cli.common import examples, open_dock
from ingest.config import Settings
from ingest.errors import EXIT_OK, UsageError
from ingest.output import Output

LEVELS = ", ".join(CONFIDENTIALITY)


def add_parsers(acts: Any) -> None:
    """Register ``case confidentiality`` on the ``case`` subparsers."""
    s = acts.add_parser(
        "confidentiality",
        help=_("change a case's confidentiality level (Art. 31); its items follow"),
        epilog=examples(
            "evidock case confidentiality 凤里执罚〔2026〕12号 personal-privacy "
            "--reason '涉及未成年人 a minor is recorded'"
        ),
    )
    s.add_argument("number")
    s.add_argument("level", help=LEVELS)
    s.add_argument("--reason", required=True, help=_("why (a custody event)"))
    s.set_defaults(func=cmd_case_confidentiality)


def cmd_case_confidentiality(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    level = confidentiality(args.level)
    if not args.reason.strip():
        raise UsageError(_("a level change needs a reason"), hint=_("Say why: --reason TEXT"))
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        with ctx.catalog.write() as txn:
            items = set_case_level(txn, ctx, args.number, level.code, actor=actor,
                                   reason=args.reason)  # fmt: skip
    finally:
        ctx.close()
    out.document({"case": args.number, "confidentiality": level.code, "items_changed": items})
    out.line(
        n_(
            "case {case}: confidentiality {level}; {n} item changed level",
            "case {case}: confidentiality {level}; {n} items changed level",
            len(items),
        ).format(case=args.number, level=label(CONFIDENTIALITY, level.code), n=len(items))
    )
    return EXIT_OK
