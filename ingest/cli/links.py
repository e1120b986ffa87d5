"""``evidock case link|unlink|autolink|activity add|show``: what a case holds, stage by stage."""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _, n_
from ingest.cases.compliance import normalise_case_number
from ingest.cases.lifecycle import log_activity
from ingest.cases.links import (
    autolink_activities,
    autolink_case,
    link_items,
    link_rules,
    unlink_item,
)
from ingest.cases.rules import AutoMatch
from ingest.cases.vocab import (
    RECORD_TYPES,
    STAGES,
    av_article,
    label,
    lookup,
    requires_av,
)
from ingest.cli.actor import acting
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK, UsageError
from ingest.output import Output
from storage.catalog.caserecords import Activity, Case, Link, NewActivity
from storage.catalog.cases import ARCHIVED, CaseOps
from verify.log.events import data_time

_N = "凤里执罚〔2026〕12号"  # a case number in the examples
_ACTIVITY = (
    f"evidock case activity add {_N} --type on-site-inspection --officer J1 "
    "--from 2026-11-26T09:00 --to 2026-11-26T10:00 --place 凤里路12号"
)


def add_parsers(acts: Any) -> None:
    """Register ``link``, ``unlink``, ``autolink`` and ``activity`` under ``evidock case``."""
    s = acts.add_parser(
        "link",
        help=_("file items to a stage of the case (by hand)"),
        epilog=examples(
            f"evidock case link {_N} 12 13 --stage 调查取证",
            f"evidock case link {_N} 14 --stage investigation --activity 3 --why 'the hearing'",
        ),
    )
    s.add_argument("number")
    s.add_argument("items", nargs="+", type=int, metavar="ITEM")
    s.add_argument(
        "--stage",
        required=True,
        help=_("initiation, investigation, decision, execution or archiving (or the Chinese name)"),
    )
    s.add_argument("--activity", type=int, metavar="A", help=_("the activity the items record"))
    # the default 'why' goes into the 'linked' custody event as it is: not translated
    s.add_argument("--why", default="linked by hand", help=_("why they belong to the case"))
    s.add_argument(
        "--override-fixity",
        action="store_true",
        help=_("link items whose stored bytes failed their last fixity check (needs --reason)"),
    )
    s.add_argument("--reason", help=_("why a failed fixity check is overridden (recorded)"))
    s.set_defaults(func=cmd_link)

    s = acts.add_parser(
        "unlink",
        help=_("take an item out of the case, saying why"),
        epilog=examples(f'evidock case unlink {_N} 13 --reason "filed to the wrong case"'),
    )
    s.add_argument("number")
    s.add_argument("item", type=int)
    s.add_argument("--reason", required=True)
    s.set_defaults(func=cmd_unlink)

    s = acts.add_parser(
        "autolink",
        help=_("run the automatic linking rules for the case again"),
        epilog=examples(f"evidock case autolink {_N}", f"evidock case autolink {_N} --json"),
    )
    s.add_argument("number")
    s.set_defaults(func=cmd_autolink)

    act = acts.add_parser(
        "activity",
        help=_("activities of a case (inspections, hearings, ...)"),
        epilog=examples(_ACTIVITY),
    )
    sub = act.add_subparsers(dest="activity_action", required=True)
    s = sub.add_parser(
        "add",
        help=_("record an activity; matching recordings are linked"),
        epilog=examples(
            _ACTIVITY,
            f"evidock case activity add {_N} --type hearing --officer J1 --officer J2 "
            "--from 2026-11-27T14:00 --to 2026-11-27T15:00 --no-av-reason 'closed hearing'",
        ),
    )
    s.add_argument("number")
    s.add_argument(
        "--type",
        required=True,
        help=_(
            "record type: on-site-inspection, sampling, hearing, inquiry, compulsory-measure, "
            "lien-service, ... (or Chinese)"
        ),
    )
    s.add_argument("--stage", help=_("default: the usual stage of the record type"))
    s.add_argument(
        "--officer",
        action="append",
        required=True,
        metavar="BADGE",
        help=_("an officer taking part (repeat for each)"),
    )
    s.add_argument("--from", dest="start", required=True, metavar="TIME")
    s.add_argument("--to", dest="end", required=True, metavar="TIME")
    s.add_argument("--place", default="")
    s.add_argument(
        "--no-av-reason",
        default="",
        metavar="TEXT",
        help=_("why audio/video recording was not suitable (Art. 16)"),
    )
    s.add_argument(
        "--disputed",
        action="store_true",
        help=_("likely to cause an administrative dispute: A/V required (Art. 21)"),
    )
    s.add_argument("--note", default="")
    s.set_defaults(func=cmd_activity_add)


def case_number(text: str) -> str:
    """A number as typed, in the one spelling the catalog keeps (not validated again, so a
    number accepted under an older pattern stays reachable)."""
    return normalise_case_number(text)


def case_json(c: Case) -> dict[str, Any]:
    return {
        "number": c.number,
        "title": c.title,
        "type": c.enforcement_type,
        "procedure": c.procedure,
        "handler": c.handler,
        "reviewer": c.reviewer,
        "approver": c.approver,
        "confidentiality": c.confidentiality,
        "status": c.status,
        "stage": c.stage,
        "opened_at": data_time(c.opened_at),
        "closed_at": data_time(c.closed_at),
        "archive_due_at": data_time(c.archive_due_at),
        "archived_at": data_time(c.archived_at),
    }


def activity_json(a: Activity) -> dict[str, Any]:
    return {
        "id": a.id,
        "case": a.case_number,
        "stage": a.stage,
        "record_type": a.record_type,
        "requires_av": requires_av(a.record_type, disputed=a.disputed),
        "disputed": a.disputed,
        "officers": list(a.officers),
        "place": a.place,
        "start": data_time(a.start_at),
        "end": data_time(a.end_at),
        "no_av_reason": a.no_av_reason or None,
        "note": a.note,
    }


def link_json(k: Link) -> dict[str, Any]:
    return {
        "item": k.item_id,
        "stage": k.stage,
        "activity": k.activity_id,
        "record_type": k.record_type,
        "how": k.how,
        "why": k.why,
        "by": k.linked_by,
        "at": data_time(k.linked_at),
        "video": k.is_video,
        "unlinked_at": data_time(k.unlinked_at),
        "unlinked_by": k.unlinked_by,
        "unlink_reason": k.unlink_reason,
    }


def cmd_link(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    stage = lookup(STAGES, args.stage, _("stage"))
    if args.override_fixity and not args.reason:
        raise UsageError(
            _("--override-fixity needs --reason: why link bytes that failed their fixity check"),
            hint=_("Add --reason TEXT; it is recorded in the 'linked' event."),
        )
    if args.reason and not args.override_fixity:
        raise UsageError(_("--reason goes with --override-fixity"), hint=_("Use --why to say why."))
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        result = link_items(
            ctx,
            number=case_number(args.number),
            item_ids=args.items,
            stage=stage.code,
            activity_id=args.activity,
            why=args.why,
            actor=actor,
            override_fixity=args.reason if args.override_fixity else None,
        )
    finally:
        ctx.close()
    out.document({"linked": [link_json(k) for k in result.linked], "already": result.already})
    for k in result.linked:
        line = (
            _("linked   #{item} to {case}, {stage}, activity {activity}")
            if k.activity_id
            else _("linked   #{item} to {case}, {stage}")
        )
        out.line(
            line.format(item=k.item_id, case=args.number, stage=stage.label,
                        activity=k.activity_id)
        )  # fmt: skip
    for i in result.already:
        out.line(_("already  #{item} is linked to {case}").format(item=i, case=args.number))
    return EXIT_OK


def cmd_unlink(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        k = unlink_item(
            ctx,
            number=case_number(args.number),
            item_id=args.item,
            reason=args.reason,
            actor=actor,
        )
    finally:
        ctx.close()
    out.document(link_json(k))
    out.line(
        _("unlinked #{item} from {case} ({stage}): {reason}").format(
            item=k.item_id, case=args.number, stage=label(STAGES, k.stage), reason=args.reason
        )
    )
    return EXIT_OK


def _auto_lines(out: Output, made: list[AutoMatch]) -> None:
    for m in made:
        out.line(
            "  "
            + _("linked #{item} to activity {activity} by {rule}: {why}").format(
                item=m.item_id, activity=m.activity_id, rule=m.rule, why=m.why
            )
        )


def cmd_autolink(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        made = autolink_case(ctx, case_number(args.number), actor=actor)
    finally:
        ctx.close()
    out.document(
        [{"item": m.item_id, "activity": m.activity_id, "rule": m.rule, "why": m.why} for m in made]
    )
    out.line(
        n_(
            "{n} item linked to {case} by the rules",
            "{n} items linked to {case} by the rules",
            len(made),
        ).format(n=len(made), case=args.number)
    )
    _auto_lines(out, made)
    return EXIT_OK


def cmd_activity_add(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    rtype = lookup(RECORD_TYPES, args.type, _("record type"))
    stage = lookup(STAGES, args.stage or rtype.stage, _("stage"))
    start, end = parse_time(args.start, settings), parse_time(args.end, settings)
    if end < start:
        raise UsageError(_("the activity ends before it starts"), hint=_("Check --from and --to."))
    ctx = open_dock(settings)
    try:
        with ctx.catalog.write() as txn:
            ops = CaseOps(txn)
            case = ops.case(case_number(args.number))
            if case.status == ARCHIVED:
                raise UsageError(
                    _("case {case} is archived; it takes no new activities").format(
                        case=case.number
                    )
                )
            activity = ops.add_activity(
                case.id,
                NewActivity(
                    stage=stage.code,
                    record_type=rtype.code,
                    officers=tuple(args.officer),
                    place=args.place,
                    start_at=start,
                    end_at=end,
                    no_av_reason=args.no_av_reason,
                    note=args.note,
                    created_at=ctx.clock(),
                    created_by=os_actor(),
                    disputed=args.disputed,
                ),
            )
            log_activity(txn, ctx, activity)  # issue 14
            made = autolink_activities(
                txn, ctx, [activity], actor=os_actor(), rules=link_rules(ctx)
            )
    finally:
        ctx.close()
    out.document(
        {
            "activity": activity_json(activity),
            "linked": [{"item": m.item_id, "rule": m.rule, "why": m.why} for m in made],
        }
    )
    article = av_article(rtype.code, disputed=args.disputed)
    av = " [" + _("A/V required, {article}").format(article=article) + "]" if article else ""
    out.line(
        n_(
            "activity {activity} of {case}: {stage} / {type}{av}, {start} - {end}; "
            "{n} recording linked",
            "activity {activity} of {case}: {stage} / {type}{av}, {start} - {end}; "
            "{n} recordings linked",
            len(made),
        ).format(activity=activity.id, case=case.number, stage=stage.label, type=rtype.label,
                 av=av, start=out.when(start), end=out.when(end), n=len(made))
    )  # fmt: skip
    _auto_lines(out, made)
    return EXIT_OK
