"""``evidock excuse`` and ``evidock overdue``: the 24-hour rule and the compliance report."""

from __future__ import annotations

import argparse
import io
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from i18n import _, n_
from ingest.cases.agreement import require_agreement
from ingest.cases.compliance import SOURCE_TEXT, format_span
from ingest.cases.coverage import coverage_json, coverage_text
from ingest.cases.offload import excuse, problems_text
from ingest.cases.overdue import LateItem, OverdueReport, build_report
from ingest.cases.rules import GAP_NO_VIDEO, GAP_PARTIAL, OFFICER_MISMATCH, Gap
from ingest.cases.vocab import RECORD_TYPES, STAGES, label
from ingest.cli.actor import acting
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK, EXIT_OVERDUE, UsageError
from ingest.export.pdf import render_report
from ingest.output import Output
from storage.catalog.caserecords import CheckedItem, Excuse
from verify.log.events import data_time


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "excuse",
        help=_("excuse a late offload (field work, or another reason)"),
        epilog=examples(
            "evidock excuse 12 13 --reason 'two days of field work' --returned-at 2026-11-27T18:00",
            "evidock excuse --session 7 --reason 'dock out of order'",
        ),
    )
    s.add_argument("items", nargs="*", type=int, metavar="ITEM")
    s.add_argument("--session", type=int, metavar="ID", help=_("every late item of a docking"))
    s.add_argument("--reason", required=True, help=_("why the recording came in late"))
    s.add_argument(
        "--returned-at",
        metavar="TIME",
        help=_("when the officer came back; the 24 h then run from there (Art. 28)"),
    )
    s.set_defaults(func=cmd_excuse)

    s = sub.add_parser(
        "overdue",
        help=_("late offloads, undocked devices, archives, A/V gaps"),
        epilog=examples(
            "evidock overdue",
            "evidock overdue --at 2026-11-30T00:00 --json",
            "evidock overdue --fail-on-overdue   # " + _("exit 3 when anything is overdue"),
            "evidock overdue --details           # " + _("every clock problem, one per line"),
            "evidock overdue --csv > overdue.csv",
        ),
    )
    s.add_argument("--details", action="store_true", help=_("list every clock problem"))
    s.add_argument("--csv", action="store_true", help=_("one finding per row, for a spreadsheet"))
    s.add_argument("--pdf", type=Path, metavar="FILE", help=_("also write the report as a PDF"))
    s.add_argument("--at", metavar="TIME", help=_("evaluate as of this time (default: now)"))
    s.add_argument(
        "--fail-on-overdue",
        action="store_true",
        help=_("exit 3 when anything is overdue and not excused"),
    )
    s.set_defaults(func=cmd_overdue)


def cmd_excuse(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    if bool(args.items) == (args.session is not None):
        raise UsageError(
            _("name the late items, or one dock session with --session, not both"),
            hint=_("evidock excuse ITEM... --reason TEXT  or  evidock excuse --session ID ..."),
        )
    returned = parse_time(args.returned_at, settings) if args.returned_at else None
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        result = excuse(
            ctx,
            item_ids=args.items,
            session_id=args.session,
            reason=args.reason,
            returned_at=returned,
            actor=actor,
        )
    finally:
        ctx.close()
    out.document(
        {
            "excused": [_excuse_json(e) for e in result.granted],
            "refused": [{"item": i, "why": why} for i, why in result.refused],
        }
    )
    for e in result.granted:
        line = (
            _("excused  #{item}: {reason} (returned {returned})")
            if e.returned_at
            else _("excused  #{item}: {reason}")
        )
        out.line(line.format(item=e.item_id, reason=e.reason, returned=out.when(e.returned_at)))
    for i, why in result.refused:
        out.line(_("not excused #{item}: {why}").format(item=i, why=why))
    return EXIT_OK


def cmd_overdue(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    at = parse_time(args.at, settings) if args.at else None
    ctx = open_dock(settings)
    try:
        report = build_report(ctx, at=at, actor=os_actor())
        if args.fail_on_overdue:  # never from a catalog that disagrees with its log (issue 14)
            require_agreement(ctx, report)
        signed = ctx.checkpoint()[0] if args.pdf is not None else 0  # what a print names
        dock = ctx.dock.name
    finally:
        ctx.close()
    if args.pdf is not None:
        _pdf(args, settings, report, checkpoint=signed, dock=dock)
    out.document(report_json(report))
    if args.csv and not out.json_mode:
        out.csv(CSV_HEADERS, csv_rows(report))
    else:
        _print(report, out, details=args.details)
    return EXIT_OVERDUE if args.fail_on_overdue and report.overdue_count else EXIT_OK


# -- JSON ------------------------------------------------------------------------------------


def _excuse_json(e: Excuse) -> dict[str, Any]:
    return {
        "item": e.item_id,
        "session": e.session_id,
        "reason": e.reason,
        "returned_at": data_time(e.returned_at),
        "by": e.granted_by,
        "at": data_time(e.granted_at),
        "event_seq": e.event_seq,
    }


def _item_json(r: CheckedItem) -> dict[str, Any]:
    c = r.check
    return {
        "item": r.item_id,
        "device": r.device_serial,
        "officer": r.officer_badge,
        "session": r.session_id,
        "path": r.path,
        "recorded_end": data_time(r.recorded_end),
        "acquired_at": data_time(r.acquired_at),
        "durable_at": data_time(r.durable_at),
        "measured_from": data_time(c.reference_end) if c else None,
        "measured_from_source": c.reference_source if c else None,
        "clock_problems": list(c.clock_problems) if c else [],
    }


def _late_json(x: LateItem) -> dict[str, Any]:
    j = x.judgement
    return {
        **_item_json(x.item),
        "officer_mismatch": OFFICER_MISMATCH in x.item.flags,
        "due_at": data_time(j.due_at),
        "delay_s": None if j.delay is None else round(j.delay.total_seconds(), 3),
        "excused_by": _excuse_json(j.excused_by) if j.excused_by else None,
        "excuses_not_covering": [_excuse_json(e) for e in j.not_covering],
    }


def _gap_json(g: Gap) -> dict[str, Any]:
    a = g.activity
    return {
        "case": a.case_number,
        "activity": a.id,
        "stage": a.stage,
        "record_type": a.record_type,
        "kind": g.kind,
        "requires_av": g.requires_av,
        "article": g.article,
        "recorded_in_window": g.recorded,
        "officers": list(a.officers),
        "start": data_time(a.start_at),
        "end": data_time(a.end_at),
        "exempt_reason": g.exempt_reason or None,
        "coverage": coverage_json(g.coverage),
    }


def report_json(r: OverdueReport) -> dict[str, Any]:
    return {
        "at": data_time(r.at),
        "deadline_hours": r.deadline.total_seconds() / 3600,
        "archive_deadline_days": r.archive_days,
        "overdue_count": r.overdue_count,
        "late": {
            "unexcused": [_late_json(x) for x in r.late],
            "excused": [_late_json(x) for x in r.late_excused],
        },
        "pending": {
            "unexcused": [_late_json(x) for x in r.pending],
            "excused": [_late_json(x) for x in r.pending_excused],
        },
        "devices_not_docked": [
            {
                "device": d.device.serial,
                "officer": d.device.officer_badge,
                "assigned_at": data_time(d.device.assigned_at),
                "last_docked_at": data_time(d.device.last_docked_at),
                "undocked_s": round(d.undocked_for.total_seconds()),
            }
            for d in r.devices
        ],
        "devices_lost": [
            {
                "device": d.serial,
                "officer": d.officer_badge,
                "lost_at": data_time(d.lost_at),
                "last_docked_at": data_time(d.last_docked_at),
                "reason": d.reason,
            }
            for d in r.lost
        ],
        "archive_overdue": [
            {
                "case": c.number,
                "closed_at": data_time(c.closed_at),
                "archive_due_at": data_time(c.archive_due_at),
                "handler": c.handler,
            }
            for c in r.archives
        ],
        "gaps": [_gap_json(g) for g in r.gaps],
        "gaps_exempt": [_gap_json(g) for g in r.gaps_exempt],
        "advisories": [_gap_json(g) for g in r.advisories],
        "clock_problems": [_item_json(c) for c in r.clock_problems],
        "measured": r.measured,
        "spool": {
            "count": r.spool.count,
            "oldest_start": data_time(r.spool.oldest_start),
            "oldest_age_s": _age(r.at, r.spool.oldest_start),
        },
    }


def _age(at: datetime, since: datetime | None) -> int | None:
    return None if since is None else max(0, round((at - since).total_seconds()))


# -- people ----------------------------------------------------------------------------------


def _print(r: OverdueReport, out: Output, *, details: bool = False) -> None:
    """The report as a person reads it: what needs doing first (late and unexcused, then not
    yet durable, undocked and lost devices, archive deadlines, A/V gaps), then what is settled
    (excused), then clock problems summarised per device (``details``: one per line)."""
    h = f"{r.deadline.total_seconds() / 3600:g}"
    out.line(
        _("evidock overdue as of {at}  (offload deadline {hours} h, archive {days} days)").format(
            at=out.when(r.at), hours=h, days=r.archive_days
        )
    )
    _late_section(out, _("Late offloads, not excused"), r.late)
    _late_section(out, _("Not yet durable past the deadline"), r.pending)
    if r.spool.count:
        age = _age(r.at, r.spool.oldest_start) or 0
        out.line(
            "  "
            + n_(
                "waiting in the local spool: {n} item, the oldest clock running for {hours} h "
                "{minutes} min (see 'evidock jobs')",
                "waiting in the local spool: {n} items, the oldest clock running for {hours} h "
                "{minutes} min (see 'evidock jobs')",
                r.spool.count,
            ).format(n=r.spool.count, hours=age // 3600, minutes=age % 3600 // 60)
        )
    out.line()
    out.line(
        _("Devices in service not docked for {hours} h ({n})").format(hours=h, n=len(r.devices))
    )
    for d in r.devices:
        last = out.when(d.device.last_docked_at) if d.device.last_docked_at else _("never")
        out.line(
            "  "
            + _(
                "{serial}  held by {officer} since {since}; last docked {last}; {span} undocked"
            ).format(serial=d.device.serial, officer=d.device.officer_badge,
                     since=out.when(d.device.assigned_at), last=last,
                     span=format_span(d.undocked_for))
        )  # fmt: skip
    if r.lost:
        out.line(
            "  "
            + _(
                "Devices reported lost ({n}): recordings made since their last docking may "
                "never be offloaded"
            ).format(n=len(r.lost))
        )
        for lost in r.lost:
            last = out.when(lost.last_docked_at) if lost.last_docked_at else _("never")
            out.line(
                "  "
                + _("{serial}  held by {officer}; lost {at} ({reason}); last docked {last}").format(
                    serial=lost.serial, officer=lost.officer_badge or "-",
                    at=out.when(lost.lost_at), reason=lost.reason, last=last,
                )
            )  # fmt: skip
    out.line()
    out.line(_("Closed cases past the archive deadline ({n})").format(n=len(r.archives)))
    for c in r.archives:
        out.line(
            "  "
            + _("{case}  closed {closed}, archive by {due}, handler {handler}").format(
                case=c.number, closed=out.when(c.closed_at), due=out.when(c.archive_due_at),
                handler=c.handler,
            )
        )  # fmt: skip
    _gap_section(out, _("A/V gaps: required, window not covered by linked video"), r.gaps,
                 when_empty=True)  # fmt: skip
    _gap_section(out, _("A/V not suitable, reason recorded (Art. 16)"), r.gaps_exempt)
    _gap_section(out, _("Advice: officers' devices recorded nothing in the window"), r.advisories)
    _late_section(out, _("Late offloads, excused"), r.late_excused, when_empty=False)
    _late_section(out, _("Not yet durable past the deadline, excused"), r.pending_excused,
                  when_empty=False)  # fmt: skip
    _clock_section(out, r, details=details)
    out.line()
    out.line(_("{n} overdue and not excused").format(n=r.overdue_count))


def _pdf(
    args: argparse.Namespace,
    settings: Settings,
    report: OverdueReport,
    *,
    checkpoint: int,
    dock: str,
) -> None:
    """The report as a printable PDF: the office, the time, and the signed checkpoint it was
    made at, so a printed copy can be matched with the custody log."""
    text = io.StringIO()
    lines = Output(json_mode=False, zone=settings.zone, stream=text)
    _print(report, lines, details=args.details)
    when = lines.when(report.at)
    # one language, the reader's: the second (English) half of each pair is left empty
    facts = [
        (_("Office"), "", settings.office or "-"),
        (_("As of"), "", when),
        (_("Dock"), "", dock),
        (_("Signed checkpoint"), "", _("size {size}").format(size=checkpoint)),
    ]
    footer = _("{office} · {at} · checkpoint {size}").format(
        office=settings.office, at=when, size=checkpoint
    )
    render_report((_("Overdue report"), ""), facts, text.getvalue().splitlines(), footer,
                  args.pdf)  # fmt: skip


def _clock_section(out: Output, r: OverdueReport, *, details: bool) -> None:
    """Clock problems per device with a count (a camera with a wrong clock makes one line,
    not one per recording); ``details``: every item."""
    if not r.clock_problems:
        return
    by_device = Counter(ci.device_serial for ci in r.clock_problems)
    kinds: dict[str, Counter[str]] = {}
    for ci in r.clock_problems:
        for problem in ci.check.clock_problems if ci.check else ():
            kinds.setdefault(ci.device_serial, Counter())[problem] += 1
    n, devices = len(r.clock_problems), len(by_device)
    summary = _(
        "Clock problems: {recordings} on {devices}; their camera times are not trusted, "
        "lateness is measured from the earliest plausible time"
    ).format(
        recordings=n_("{n} recording", "{n} recordings", n).format(n=n),
        devices=n_("{n} device", "{n} devices", devices).format(n=devices),
    )
    out.line()
    out.line(summary if details else summary + " " + _("(--details lists each)"))
    for serial, count in sorted(by_device.items()):
        what = ", ".join(
            f"{problems_text((k,))} ×{c}" for k, c in sorted(kinds.get(serial, {}).items())
        )
        shown = n_("{serial}: {n} recording", "{serial}: {n} recordings", count).format(
            serial=serial, n=count
        )
        out.line(f"  {shown}: {what}" if what else f"  {shown}")
    if not details:
        return
    for ci in r.clock_problems:
        chk = ci.check
        out.line(
            "  "
            + _(
                "#{item} {device} {path}: {problems}; recorded end {end}; measured from {source}"
            ).format(item=ci.item_id, device=ci.device_serial, path=ci.path,
                     problems=problems_text(chk.clock_problems) if chk else "",
                     end=out.when(ci.recorded_end),
                     source=_source(chk.reference_source) if chk else "")
        )  # fmt: skip


CSV_HEADERS = ["section", "subject", "device", "officer", "since", "due", "delay_s", "detail"]


def csv_rows(r: OverdueReport) -> list[list[object]]:
    """One finding per row, in the order of the report (``overdue --csv``)."""
    rows: list[list[object]] = []
    for section, late in (("late", r.late), ("pending", r.pending),
                          ("late-excused", r.late_excused),
                          ("pending-excused", r.pending_excused)):  # fmt: skip
        for x in late:
            i, j = x.item, x.judgement
            rows.append([section, f"item {i.item_id}", i.device_serial, i.officer_badge,
                         data_time(i.recorded_end), data_time(j.due_at),
                         round(j.delay.total_seconds()) if j.delay else None,
                         j.excused_by.reason if j.excused_by else i.path])  # fmt: skip
    for d in r.devices:
        rows.append(["undocked", f"device {d.device.serial}", d.device.serial,
                     d.device.officer_badge, data_time(d.device.last_docked_at), None,
                     round(d.undocked_for.total_seconds()), "not docked"])  # fmt: skip
    for lost in r.lost:
        rows.append(["lost", f"device {lost.serial}", lost.serial, lost.officer_badge,
                     data_time(lost.lost_at), None, None, lost.reason])  # fmt: skip
    for c in r.archives:
        rows.append(["archive", f"case {c.number}", None, c.handler, data_time(c.closed_at),
                     data_time(c.archive_due_at), None, "archive overdue"])  # fmt: skip
    for g in r.gaps:
        a = g.activity
        rows.append(["av-gap", f"case {a.case_number} activity {a.id}", None,
                     ",".join(a.officers), data_time(a.start_at), data_time(a.end_at), None,
                     f"{a.record_type} {g.article}"])  # fmt: skip
    for ci in r.clock_problems:
        rows.append(["clock", f"item {ci.item_id}", ci.device_serial, ci.officer_badge,
                     data_time(ci.recorded_end), None, None,
                     problems_text(ci.check.clock_problems) if ci.check else ""])  # fmt: skip
    return rows


def _source(code: str) -> str:
    """What lateness is measured from (``SOURCE_TEXT``), in the reader's language."""
    text = SOURCE_TEXT.get(code, "")
    return _(text) if text else ""  # _("") would be the catalog's header


def _late_section(
    out: Output, title: str, rows: tuple[LateItem, ...], *, when_empty: bool = True
) -> None:
    """A section of late items; one that is settled (``when_empty`` False) only when it has
    some."""
    if not rows and not when_empty:
        return
    out.line()
    out.line(_("{title} ({n})").format(title=title, n=len(rows)))
    for x in rows:
        i, j = x.item, x.judgement
        basis = _source(i.check.reference_source) if i.check else _("acquisition")
        out.line(
            "  "
            + _(
                "#{item} {device} {officer} {path}: delay {delay} (due {due}, durable "
                "{durable}), measured from {basis}"
            ).format(item=i.item_id, device=i.device_serial, officer=i.officer_badge or "-",
                     path=i.path, delay=format_span(j.delay), due=out.when(j.due_at),
                     durable=out.when(i.durable_at), basis=basis)
        )  # fmt: skip
        if OFFICER_MISMATCH in i.flags:
            out.line(
                "      "
                + _("its file name names another officer than the device's holder: settle it")
            )
        if j.excused_by is not None:
            e = j.excused_by
            excused = (
                _("excused by {by} {at}: {reason}, returned {returned}")
                if e.returned_at
                else _("excused by {by} {at}: {reason}")
            )
            out.line(
                "      "
                + excused.format(by=e.granted_by, at=out.when(e.granted_at), reason=e.reason,
                                 returned=out.when(e.returned_at))
            )  # fmt: skip
        for e in j.not_covering:
            out.line(
                "      "
                + _(
                    "excuse of {at} does not cover it: returned {returned}, durable more than "
                    "the deadline later"
                ).format(at=out.when(e.granted_at), returned=out.when(e.returned_at))
            )


def _gap_section(
    out: Output, title: str, gaps: tuple[Gap, ...], *, when_empty: bool = False
) -> None:
    """A section of activities and their A/V; the gaps themselves even when there are none."""
    if not gaps and not when_empty:
        return
    out.line()
    out.line(_("{title} ({n})").format(title=title, n=len(gaps)))
    for g in gaps:
        a = g.activity
        what = (
            n_(
                "window not covered by linked video; {n} recording by its officers in the "
                "window: evidock case link '{case}' ITEM --stage {stage} --activity {activity}",
                "window not covered by linked video; {n} recordings by its officers in the "
                "window: evidock case link '{case}' ITEM --stage {stage} --activity {activity}",
                g.recorded,
            ).format(n=g.recorded, case=a.case_number, stage=a.stage, activity=a.id)
            if g.kind in (GAP_NO_VIDEO, GAP_PARTIAL)
            else _("the officers' devices recorded nothing")
        )
        out.line(
            "  "
            + _(
                "{case} activity {activity}: {stage} / {type} {article}, {start} - {end}, "
                "officers {officers}"
            ).format(case=a.case_number, activity=a.id, stage=label(STAGES, a.stage),
                     type=label(RECORD_TYPES, a.record_type), article=g.article,
                     start=out.when(a.start_at), end=out.when(a.end_at),
                     officers=", ".join(a.officers))
        )  # fmt: skip
        if g.exempt_reason:
            what = _("{what}; reason: {reason}").format(what=what, reason=g.exempt_reason)
        out.line(f"      {what}")
        if g.coverage is not None:
            out.line(f"      {coverage_text(g.coverage, out.when)}")
