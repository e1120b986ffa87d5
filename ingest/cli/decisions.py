"""``evidock case decide`` (Art. 32 internal approval) and ``evidock case stage`` (Art. 4), and
the decision chain as ``case show`` prints it.

The officer deciding names themselves with ``--as BADGE``; it must be the case's handler,
reviewer or approver for the step. The event's actor is who ran the command (``os_actor``).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from i18n import _
from ingest.cases.decisions import Step, chain_state, record_decision
from ingest.cases.stages import change_stage
from ingest.cases.vocab import DECISION_STEPS, OUTCOMES, STAGES, label, lookup
from ingest.cli.common import examples, open_dock, parse_time
from ingest.cli.links import case_json, case_number
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK
from ingest.output import Output
from storage.catalog.caserecords import Decision
from storage.catalog.cases import CaseOps
from verify.log.events import data_time

_N = "凤里执罚〔2026〕12号"  # a case number in the examples


def add_parsers(acts: Any) -> None:
    """Register ``decide`` and ``stage`` under ``evidock case``."""
    s = acts.add_parser(
        "decide",
        help=_("record a step of the internal approval (Art. 32): propose, review, approve"),
        epilog=examples(
            f"evidock case decide {_N} --step propose --as J1 --opinion '罚款200元' "
            "--reasons '占道经营，证据确凿'",
            f"evidock case decide {_N} --step review --as J2 --outcome agree --opinion '同意'",
            f"evidock case decide {_N} --step approve --as J3 --outcome reject "
            "--opinion '证据不足，补充调查'",
        ),
    )
    s.add_argument("number")
    s.add_argument(
        "--step",
        required=True,
        choices=list(DECISION_STEPS),
        help=_("propose (the handler), review (the reviewer) or approve (the approver)"),
    )
    s.add_argument(
        "--as",
        dest="officer",
        required=True,
        metavar="BADGE",
        help=_("the officer deciding: the case's handler, reviewer, approver"),
    )
    s.add_argument("--opinion", required=True, metavar="TEXT", help=_("the opinion"))
    s.add_argument(
        "--reasons",
        default="",
        metavar="TEXT",
        help=_("the reasons (required for a proposal)"),
    )
    s.add_argument(
        "--outcome",
        choices=list(OUTCOMES),
        help=_("review: agree or disagree; approve: approve or reject"),
    )
    s.set_defaults(func=cmd_case_decide)

    s = acts.add_parser(
        "stage",
        help=_("move a case to another stage (Art. 4)"),
        epilog=examples(
            f"evidock case stage {_N} investigation",
            f"evidock case stage {_N} investigation --reason '复核发现需补充调查'",
        ),
    )
    s.add_argument("number")
    s.add_argument("stage", help=_("initiation, investigation, decision, execution, archiving"))
    s.add_argument("--at", metavar="TIME", help=_("when it moved (default: now)"))
    s.add_argument("--reason", default="", help=_("why (required to move back)"))
    s.set_defaults(func=cmd_case_stage)


def decision_json(d: Decision) -> dict[str, Any]:
    return {
        "step": d.step,
        "outcome": d.outcome,
        "officer": d.officer,
        "opinion": d.opinion,
        "reasons": d.reasons or None,
        "decided_at": data_time(d.decided_at),
        "decided_by": d.decided_by,
        "event": d.event_seq,
    }


def decision_lines(out: Output, chain: Sequence[Decision]) -> None:
    """The chain under ``case show``: each step with its person, outcome and opinion."""
    out.line(_("internal approval (Art. 32): {state}").format(state=chain_state(chain)))
    for d in chain:
        outcome = f" {label(OUTCOMES, d.outcome)}" if d.outcome else ""
        by = _("by {officer} ({by}, event #{seq})").format(
            officer=d.officer, by=d.decided_by, seq=d.event_seq
        )
        out.line(f"  {out.when(d.decided_at)}  {label(DECISION_STEPS, d.step)}{outcome}  {by}")
        out.line("      " + _("opinion: {opinion}").format(opinion=d.opinion))
        if d.reasons:
            out.line("      " + _("reasons: {reasons}").format(reasons=d.reasons))


def cmd_case_decide(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    step = Step(step=args.step, outcome=args.outcome, officer=args.officer,
                opinion=args.opinion, reasons=args.reasons)  # fmt: skip
    ctx = open_dock(settings)
    try:
        with ctx.catalog.write() as txn:
            case = CaseOps(txn).case(case_number(args.number))
            d = record_decision(txn, ctx, case, step, actor=os_actor())
    finally:
        ctx.close()
    out.document({"case": case.number, "decision": decision_json(d)})
    said = (
        _("case {number}: {step} by {officer}: {outcome} (event #{seq})")
        if d.outcome
        else _("case {number}: {step} by {officer} (event #{seq})")
    )
    out.line(
        said.format(
            number=case.number,
            step=label(DECISION_STEPS, d.step),
            officer=d.officer,
            outcome=label(OUTCOMES, d.outcome),
            seq=d.event_seq,
        )
    )
    return EXIT_OK


def cmd_case_stage(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    to = lookup(STAGES, args.stage, _("stage"))
    ctx = open_dock(settings)
    try:
        at = parse_time(args.at, settings) if args.at else ctx.clock()
        with ctx.catalog.write() as txn:
            before = CaseOps(txn).case(case_number(args.number))
            case = change_stage(txn, ctx, before, to.code, at=at, reason=args.reason,
                                actor=os_actor())  # fmt: skip
    finally:
        ctx.close()
    out.document({**case_json(case), "from": before.stage})
    out.line(
        _("case {number}: {before} -> {after} ({at})").format(
            number=case.number, before=label(STAGES, before.stage), after=to.label, at=out.when(at)
        )
    )
    return EXIT_OK
