"""``evidock case ...``, ``evidock excuse`` and ``evidock overdue``: parsers and case handlers.

``add_parsers(sub)`` is called from ``ingest.cli.main.build_parser``. Linking and activities are in
``ingest.cli.links``; excuses and the overdue report in ``ingest.cli.overdue``.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta
from typing import Any

from i18n import _
from ingest.cases.archive import ProxyFact, accepted_json, decide_archive, missing_for_archive
from ingest.cases.compliance import archive_due, check_case_number
from ingest.cases.coverage import coverage_json, coverage_text, coverages, open_gaps
from ingest.cases.coverage import gaps as coverage_gaps
from ingest.cases.lifecycle import log_case
from ingest.cases.rules import Coverage, Gap
from ingest.cases.steps import CaseStep, step_hook
from ingest.cases.vocab import (
    CONFIDENTIALITY,
    ENFORCEMENT_TYPES,
    PROCEDURES,
    RECORD_TYPES,
    STAGES,
    STATUSES,
    av_article,
    confidentiality,
    label,
    lookup,
    requires_av,
)
from ingest.cli import decisions, levels, links, overdue
from ingest.cli.actor import acting, read_case
from ingest.cli.common import examples, open_dock, parse_time
from ingest.cli.evidence import FIXITY_STATE, fixity_line
from ingest.cli.links import activity_json, case_json, case_number, link_json
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK, UsageError
from ingest.export.archive import build_archive
from ingest.jobs.proxies import proxy_states
from ingest.output import Output, path_text
from storage.catalog.caselinks import LinkOps
from storage.catalog.caserecords import Activity, Link, NewCase
from storage.catalog.cases import CLOSED, OPEN, CaseOps
from storage.catalog.decisions import DecisionOps
from storage.catalog.fixity import fixity_failed_items
from storage.catalog.session import Transaction
from verify.log.events import EventType

_N = "凤里执罚〔2026〕12号"  # a case number in the examples


def add_parsers(sub: Any) -> None:
    """Register ``case``, ``excuse`` and ``overdue`` on the top-level subparsers."""
    case = sub.add_parser(
        "case",
        help=_("enforcement cases, their activities and linked items"),
        epilog=examples(
            f"evidock case open {_N} --type penalty --handler J1 --reviewer J2 --approver J3",
            f"evidock case show {_N}",
            "evidock case list --status open --json",
        ),
    )
    acts = case.add_subparsers(dest="action", required=True)

    s = acts.add_parser(
        "open",
        help=_("open a case"),
        epilog=examples(
            f"evidock case open {_N} --type penalty --handler J1 --reviewer J2 --approver J3",
            "evidock case open 凤里执罚〔2026〕13号 --type inspection --procedure simple "
            "--handler J1 --opened 2026-11-26T08:30",
        ),
    )
    s.add_argument("number", help=_("case number, e.g. {example}").format(example=_N))
    s.add_argument(
        "--type", required=True, help=_("licensing, penalty, compulsory, levy, inspection")
    )
    s.add_argument("--procedure", default="general", help=_("simple or general (default)"))
    s.add_argument("--handler", required=True, metavar="BADGE", help=_("the handling officer"))
    s.add_argument(
        "--reviewer", metavar="BADGE", help=_("the reviewer (required for general procedure)")
    )
    s.add_argument(
        "--approver", metavar="BADGE", help=_("the approver (required for general procedure)")
    )
    s.add_argument(
        "--confidentiality",
        default="none",
        help=_(
            "none, work-secret, commercial-secret, personal-information, personal-privacy "
            "(Art. 31; state secrets are refused)"
        ),
    )
    s.add_argument("--title", default="", help=_("a short description"))
    s.add_argument("--opened", metavar="TIME", help=_("when the case was opened (default: now)"))
    s.set_defaults(func=cmd_case_open)

    s = acts.add_parser(
        "list",
        help=_("list cases"),
        epilog=examples("evidock case list", "evidock case list --status closed --json"),
    )
    s.add_argument("--status", help=_("open, closed or archived"))
    s.set_defaults(func=cmd_case_list)

    s = acts.add_parser(
        "show",
        help=_("a case with its activities and linked items, by stage"),
        epilog=examples(f"evidock case show {_N}", f"evidock case show {_N} --json"),
    )
    s.add_argument("number")
    s.set_defaults(func=cmd_case_show)

    s = acts.add_parser(
        "close",
        help=_("close a case (the archive deadline starts)"),
        epilog=examples(
            f"evidock case close {_N}",
            f"evidock case close {_N} --at 2026-12-01T17:00 --archive-within 60",
        ),
    )
    s.add_argument("number")
    s.add_argument("--at", metavar="TIME", help=_("when the enforcement act ended (default: now)"))
    s.add_argument(
        "--archive-within",
        type=int,
        metavar="DAYS",
        help=_("archive deadline in days, when a law sets another than the default"),
    )
    s.set_defaults(func=cmd_case_close)

    s = acts.add_parser(
        "archive",
        help=_("mark a closed case archived"),
        epilog=examples(f"evidock case archive {_N}", f"evidock case archive {_N} --at 2026-12-20"),
    )
    s.add_argument("number")
    s.add_argument("--at", metavar="TIME", help=_("when it was archived (default: now)"))
    s.add_argument("--accept-gaps", action="store_true", help=_("archive with open A/V gaps"))
    s.add_argument("--reason", help=_("why the gaps stay open (a custody event)"))
    s.set_defaults(func=cmd_case_archive)

    links.add_parsers(acts)
    decisions.add_parsers(acts)  # Art. 32 approval, Art. 4 stage
    levels.add_parsers(acts)
    overdue.add_parsers(sub)


def cmd_case_open(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    number = check_case_number(args.number, settings.compliance.case_number_pattern)
    etype = lookup(ENFORCEMENT_TYPES, args.type, _("type of enforcement"))
    proc = lookup(PROCEDURES, args.procedure, _("procedure"))
    conf = confidentiality(args.confidentiality)
    if proc.code == "general" and not (args.reviewer and args.approver):
        raise UsageError(
            _("a case in general procedure needs a reviewer and an approver (Art. 32)"),
            hint=_("Add --reviewer BADGE --approver BADGE, or --procedure simple."),
        )
    if args.handler in (args.reviewer, args.approver):
        raise UsageError(
            _("the handler cannot also review or approve the case (Art. 32)"),
            hint=_("Name another officer for --reviewer / --approver."),
        )
    ctx = open_dock(settings)
    try:
        opened = parse_time(args.opened, settings) if args.opened else ctx.clock()
        actor = acting(ctx)[0]
        with ctx.catalog.write() as txn:
            case = CaseOps(txn).add_case(
                NewCase(
                    number=number,
                    title=args.title,
                    enforcement_type=etype.code,
                    procedure=proc.code,
                    handler=args.handler,
                    reviewer=args.reviewer,
                    approver=args.approver,
                    confidentiality=conf.code,
                    opened_at=opened,
                    opened_by=actor,
                )
            )
            log_case(txn, ctx, case, "case_opened")
    finally:
        ctx.close()
    out.document(case_json(case))
    out.line(
        _("case {number} opened: {type}, {procedure}, handler {handler}").format(
            number=case.number, type=etype.label, procedure=proc.label, handler=case.handler
        )
    )
    return EXIT_OK


def cmd_case_list(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    status = lookup(STATUSES, args.status, _("case status")).code if args.status else None
    ctx = open_dock(settings)
    try:
        with ctx.catalog.read() as txn:
            cases = CaseOps(txn).cases(status)
    finally:
        ctx.close()
    out.document([case_json(c) for c in cases])
    out.table(
        [
            _("NUMBER"),
            _("TYPE"),
            _("PROCEDURE"),
            _("STATUS"),
            _("HANDLER"),
            _("OPENED"),
            _("ARCHIVE BY"),
        ],
        [
            [
                c.number,
                label(ENFORCEMENT_TYPES, c.enforcement_type),
                label(PROCEDURES, c.procedure),
                label(STATUSES, c.status),
                c.handler,
                out.when(c.opened_at),
                out.when(c.archive_due_at),
            ]
            for c in cases
        ],
    )
    return EXIT_OK


def cmd_case_close(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    days = (
        args.archive_within if args.archive_within is not None else settings.archive_deadline_days
    )
    if days <= 0:
        raise UsageError(_("--archive-within takes a positive number of days"))
    ctx = open_dock(settings)
    try:
        now = ctx.clock()
        at = parse_time(args.at, settings) if args.at else now
        if at > now:
            raise UsageError(
                _("a case cannot be closed in the future"), hint=_("Give a past --at.")
            )
        with ctx.catalog.write() as txn:
            ops = CaseOps(txn)
            number = case_number(args.number)
            case = ops.case(number)
            if case.status != OPEN:
                raise UsageError(
                    _("case {number} is {status}, not open").format(
                        number=number, status=label(STATUSES, case.status)
                    ),
                    hint=_("See it: evidock case show {number}").format(number=number),
                )
            if at < case.opened_at:
                raise UsageError(_("a case cannot close before it opened"), hint=_("Check --at."))
            case = ops.close_case(number, at=at, due=archive_due(at, days), by=os_actor())
            log_case(txn, ctx, case, "case_closed")
    finally:
        ctx.close()
    out.document(case_json(case))
    out.line(
        _("case {number} closed {closed}; archive by {due} ({days} days, Art. 27)").format(
            number=case.number,
            closed=out.when(case.closed_at),
            due=out.when(case.archive_due_at),
            days=days,
        )
    )
    return EXIT_OK


def cmd_case_archive(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        now = ctx.clock()
        at = parse_time(args.at, settings) if args.at else now
        number = case_number(args.number)
        with ctx.catalog.read() as txn:  # refused before anything is built
            _archivable(txn, number, args, settings, at, now)
        built = build_archive(ctx, number, actor=os_actor())  # issue 17: the case's package
        with ctx.catalog.write() as txn:
            gaps = _archivable(txn, number, args, settings, at, now)
            if gaps:
                ctx.custody.append(txn, type=EventType.GAPS_ACCEPTED, actor=os_actor(),
                                   data=accepted_json(number, gaps, args.reason, at))  # fmt: skip
            ops = CaseOps(txn)
            case = ops.archive_case(number, at=at, by=os_actor())
            log_case(txn, ctx, case, "case_archived", package=built.event_data())
            for link in LinkOps(txn).links(case.id, live_only=True):
                ctx.queue_upload(txn, link.item_id)  # release the legal hold (issue 8)
            step_hook(settings)(CaseStep.ARCHIVE)  # the fault tests' point before the commit
    finally:
        ctx.close()
    late = case.archive_due_at is not None and at > case.archive_due_at
    out.document({**case_json(case), "package": built.event_data()})
    archived = (
        _("case {number} archived {at}, after its deadline {due}")
        if late
        else _("case {number} archived {at}")
    )
    out.line(
        archived.format(number=case.number, at=out.when(at), due=out.when(case.archive_due_at))
    )
    out.line(
        _(
            "archive package: {path} (sha256 {sha256}, {files} files, {events} custody events), "
            "kept write-once"
        ).format(path=built.path, sha256=built.sha256, files=len(built.files), events=built.events)
    )
    return EXIT_OK


def _archivable(
    txn: Transaction,
    number: str,
    args: argparse.Namespace,
    settings: Settings,
    at: datetime,
    now: datetime,
) -> list[Gap]:
    """Refuse a case that may not be archived (yet); its accepted gaps otherwise."""
    case = CaseOps(txn).case(number)
    if case.status != CLOSED or case.closed_at is None:
        raise UsageError(
            _("case {number} is {status}; only closed cases are archived").format(
                number=number, status=label(STATUSES, case.status)
            ),
            hint=_("Close it first: evidock case close {number}").format(number=number),
        )
    if at > now or at < case.closed_at:
        raise UsageError(_("the archive time must lie between closing and now"))
    return _archive_check(txn, case.id, number, args, settings, at)


def _av_json(a: Activity, c: Coverage) -> dict[str, Any] | None:
    return coverage_json(c) if requires_av(a.record_type, disputed=a.disputed) else None


def _archive_check(
    txn: Transaction,
    case_id: int,
    number: str,
    args: argparse.Namespace,
    settings: Settings,
    at: datetime,
) -> list[Gap]:
    """Refuse an incomplete case, or one with open A/V gaps nobody accepted; the gaps."""
    ops = LinkOps(txn)
    live = [k.item_id for k in ops.links(case_id, live_only=True)]
    proxies = {
        i: ProxyFact(present=bool(p.derived), failure=p.note)
        for i, p in proxy_states(txn, live).items()
    }
    slack = timedelta(minutes=settings.compliance.link_slack_minutes)
    acts = CaseOps(txn).activities(case_id)
    found = open_gaps(coverage_gaps(ops, acts, at=at, slack=slack))
    missing = missing_for_archive(txn.items(ids=live) if live else [], proxies)
    decide_archive(number, gaps=found, missing=missing, accept_gaps=args.accept_gaps,
                   reason=args.reason)  # fmt: skip
    return found


def cmd_case_show(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        read_case(ctx, case_number(args.number))  # issue 16: refused or recorded
        with ctx.catalog.read() as txn:
            ops = CaseOps(txn)
            case = ops.case(case_number(args.number))
            activities = ops.activities(case.id)
            filed = LinkOps(txn).links(case.id)
            cover = coverages(LinkOps(txn), activities, ctx.clock())
            chain = DecisionOps(txn).decisions(case.id)
            names = {
                i.id: path_text(i.original_path) for i in txn.items(ids=[k.item_id for k in filed])
            }
            failing = fixity_failed_items(txn, list(names))  # issue 18
    finally:
        ctx.close()
    out.document(
        {
            "case": case_json(case),
            "activities": [
                {**activity_json(a), "coverage": _av_json(a, cover[a.id])} for a in activities
            ],
            "links": [
                {**link_json(k), "fixity": "failed" if k.item_id in failing else None}
                for k in filed
            ],
            "decisions": [decisions.decision_json(d) for d in chain],
        }
    )
    out.line(
        _("case {number}  {type}, {procedure}  [{status}]  stage {stage}").format(
            number=case.number,
            type=label(ENFORCEMENT_TYPES, case.enforcement_type),
            procedure=label(PROCEDURES, case.procedure),
            status=label(STATUSES, case.status),
            stage=label(STAGES, case.stage),
        )
    )
    if case.title:
        out.line(f"  {case.title}")
    out.line(
        "  "
        + _(
            "handler {handler}  reviewer {reviewer}  approver {approver}  confidentiality {level}"
        ).format(
            handler=case.handler,
            reviewer=case.reviewer or "-",
            approver=case.approver or "-",
            level=label(CONFIDENTIALITY, case.confidentiality),
        )
    )
    out.line(
        "  "
        + _("opened {opened}  closed {closed}  archive by {due}  archived {archived}").format(
            opened=out.when(case.opened_at),
            closed=out.when(case.closed_at),
            due=out.when(case.archive_due_at),
            archived=out.when(case.archived_at),
        )
    )
    decisions.decision_lines(out, chain)
    live = [k for k in filed if k.live]
    out.line(_("activities ({n})").format(n=len(activities)))
    for a in activities:
        out.line(f"  #{a.id} {label(STAGES, a.stage)} / {label(RECORD_TYPES, a.record_type)}")
        out.line(
            "      " + _activity_line(a, [k for k in live if k.activity_id == a.id], cover, out)
        )
    out.line(_("linked items by stage ({n})").format(n=len(live)))
    for code, term in STAGES.items():
        rows = [k for k in live if k.stage == code]
        if rows:
            out.line(f"  {term.label}")
        for k in rows:
            out.line(
                "    "
                + _link_line(k, names, out)
                + (f"  [{_(FIXITY_STATE)}]" if k.item_id in failing else "")
            )
    if failing:
        out.line(fixity_line(sorted(failing)))
    gone = [k for k in filed if not k.live]
    if gone:
        out.line(_("unlinked ({n})").format(n=len(gone)))
    for k in gone:
        out.line(
            "    "
            + _("#{item} from {stage} by {by} {at}: {reason}").format(
                item=k.item_id,
                stage=label(STAGES, k.stage),
                by=k.unlinked_by,
                at=out.when(k.unlinked_at),
                reason=k.unlink_reason,
            )
        )
    return EXIT_OK


def _activity_line(a: Activity, mine: list[Link], cover: dict[int, Coverage], out: Output) -> str:
    """When and where an activity took place, who took part, and its A/V coverage."""
    text = f"{out.when(a.start_at)} - {out.when(a.end_at)}"
    if a.place:
        text += " " + _("at {place}").format(place=a.place)
    text += "; " + _("officers {officers}; {n} linked").format(
        officers=", ".join(a.officers), n=len(mine)
    )
    if requires_av(a.record_type, disputed=a.disputed):
        article = av_article(a.record_type, disputed=a.disputed)
        text += "  " + _("A/V required ({article}): {coverage}").format(
            article=article, coverage=coverage_text(cover[a.id], out.when)
        )
        if not cover[a.id].complete:
            text += "; " + (
                _("exempt: {reason}").format(reason=a.no_av_reason) if a.no_av_reason else _("GAP")
            )
    return text


def _link_line(k: Link, names: dict[int, str], out: Output) -> str:
    """A linked item: its name, what it is, how, by whom and why it was linked."""
    what = f"#{k.item_id} {names.get(k.item_id, '?')}"
    if k.is_video:
        what += " " + _("video")
    if k.activity_id:
        what += " " + _("activity {id}").format(id=k.activity_id)
    return (
        what
        + "  "
        + _("by {how} ({by}, {at}): {why}").format(
            how=k.how, by=k.linked_by, at=out.when(k.linked_at), why=k.why
        )
    )
