"""The bay's receipt (issue 20): what one docking took off a device, what it left and why, what
was late, and what is still to come, for the officer who docked it.

``make_receipt`` is pure: it turns the docking's ``IngestReport`` and what the catalog measured
after it (late items with their delays, recorded durations, proxy jobs still queued) into a
frozen ``BayReceipt``. ``receipt_lines`` says it in the reader's language (``i18n``): the dock
logs those lines in English (the journal), keeps the receipt in its status file as data
(``evidock status`` says it in its reader's language) and shows it on the kiosk page
(``ingest.dock.kiosk``, in the language each request asks for). ``read_receipt`` is the thin adapter
that asks the catalog for those measurements.

Paths and reasons are kept as the pipeline reported them (a device's names are untrusted):
whoever shows them escapes them (``for_terminal``, then HTML for the kiosk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import i18n
from i18n import N_, _, n_
from ingest.context import Context
from ingest.pipeline.results import FileOutcome, IngestReport
from storage.catalog.jobs import JobKind, JobOps
from storage.catalog.offload import OffloadOps
from storage.catalog.session import Transaction
from storage.errors import StorageError
from storage.records import MediaFacts

LEFT = (FileOutcome.FAILED, FileOutcome.NOT_ACQUIRED, FileOutcome.ABANDONED)
OUTCOMES = {  # a session's outcome, as a person reads it (translated where it is shown)
    "complete": N_("docked {docked}, finished {finished} (complete)"),
    "incomplete": N_("docked {docked}, finished {finished} (incomplete)"),
    "interrupted": N_("docked {docked}, finished {finished} (interrupted)"),
    "refused": N_("docked {docked}, finished {finished} (refused)"),
}
_LIST_SEP = {"zh": "、"}  # between the officers' names; ", " in English
SHOWN_PATHS = 10  # paths listed under each group of a receipt; the rest are counted


@dataclass(frozen=True, slots=True, kw_only=True)
class LateItem:
    item: int
    path: str  # the display form of its path on the device
    delay_s: float  # from the end of the recording to its bytes being durable


@dataclass(frozen=True, slots=True, kw_only=True)
class Officer:
    badge: str
    name: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LeftGroup:
    """Files left on the device for one reason."""

    reason: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class BayReceipt:
    bay: str  # the bay's name on the kiosk: the watch folder's name, or usb-<devnode>
    dock: str
    session: int
    device: str
    officers: tuple[Officer, ...]  # whose recordings these are (the items' attribution)
    outcome: str
    refused_reason: str | None
    docked_at: datetime
    finished_at: datetime
    stored: int
    already: int
    left: tuple[LeftGroup, ...]
    recorded_s: float  # recorded time of the files stored (where the probes knew it)
    unknown_duration: int  # stored files whose recorded duration is not known
    deadline_hours: float
    late: tuple[LateItem, ...]
    proxies_pending: int

    @property
    def left_count(self) -> int:
        return sum(len(g.paths) for g in self.left)


def bay_name(source: str, kind: str) -> str:
    """A bay's name for the kiosk: a watch folder's own name, ``usb-sdb1`` for a USB medium."""
    name = source.rstrip("/").rsplit("/", 1)[-1]
    return f"usb-{name}" if kind == "usb" else name


def make_receipt(
    report: IngestReport,
    *,
    bay: str,
    dock: str,
    docked_at: datetime,
    finished_at: datetime,
    deadline_hours: float,
    late: Mapping[int, float],
    durations: Mapping[int, float | None],
    proxies_pending: int,
    officers: Mapping[str, str | None] | None = None,
) -> BayReceipt:
    """Pure: the receipt of one docking. ``late``: delay in seconds of each item of the
    session flagged late; ``durations``: recorded seconds of items (None: unknown);
    ``officers``: badge -> name of the officers the items are attributed to (the docking's
    own officer, given with ``--officer``, is one of them)."""
    who = dict(officers or {})
    if report.officer is not None:
        who.setdefault(report.officer, None)
    stored = [f for f in report.files if f.result == FileOutcome.STORED]
    groups: dict[str, list[str]] = {}
    for f in report.files:
        if f.result in LEFT:
            groups.setdefault(_reason(f.result, f.reason), []).append(f.path)
    paths = {f.item: f.path for f in report.files if f.item is not None}
    known = [durations.get(f.item) for f in stored if f.item is not None]
    return BayReceipt(
        bay=bay,
        dock=dock,
        session=report.session,
        device=report.device,
        officers=tuple(Officer(badge=b, name=n) for b, n in sorted(who.items())),
        outcome=str(report.outcome),
        refused_reason=report.refused_reason,
        docked_at=docked_at,
        finished_at=finished_at,
        stored=len(stored),
        already=report.count(FileOutcome.ALREADY),
        left=tuple(LeftGroup(reason=r, paths=tuple(p)) for r, p in groups.items()),
        recorded_s=sum(d for d in known if d is not None),
        unknown_duration=len(stored) - sum(1 for d in known if d is not None),
        deadline_hours=deadline_hours,
        late=tuple(
            LateItem(item=i, path=paths.get(i, f"#{i}"), delay_s=d) for i, d in sorted(late.items())
        ),
        proxies_pending=proxies_pending,
    )


def _reason(result: FileOutcome, reason: str | None) -> str:
    if reason:
        return reason
    # English in the receipt (its status-file form); translated where it is shown
    if result == FileOutcome.ABANDONED:
        return N_("the dock stopped during the copy; taken at the next docking")
    return N_("no reason recorded")


# -- what a person reads -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One line of a receipt, in the reader's language. ``level``: 0 a statement, 1 a detail
    under it. ``alert``: something the officer or the custodian must act on."""

    text: str
    level: int = 0
    alert: bool = False


def receipt_parts(r: BayReceipt, zone: ZoneInfo) -> list[Line]:
    """The receipt's lines in the reader's language (``i18n.current()``), for the kiosk."""
    named = [" ".join(x for x in (o.badge, o.name) if x) for o in r.officers]
    who = _LIST_SEP.get(i18n.current(), ", ").join(named) if named else _("unknown")
    docked, finished = _when(r.docked_at, zone), _when(r.finished_at, zone)
    ended = OUTCOMES.get(r.outcome, N_("docked {docked}, finished {finished} ({outcome})"))
    lines = [
        Line(text=_("camera {device} · officer {officers}").format(device=r.device, officers=who)),
        Line(text=_(ended).format(docked=docked, finished=finished, outcome=r.outcome)),
    ]
    if r.refused_reason:
        lines.append(
            Line(text=_("refused: {reason}").format(reason=_known(r.refused_reason)), alert=True)
        )
    span = _span(r.recorded_s)
    if r.unknown_duration:
        taken = n_(
            "{n} file taken off, {span} of recordings, {unknown} of unknown length",
            "{n} files taken off, {span} of recordings, {unknown} of unknown length",
            r.stored,
        ).format(n=r.stored, span=span, unknown=r.unknown_duration)
    else:
        taken = n_(
            "{n} file taken off, {span} of recordings",
            "{n} files taken off, {span} of recordings",
            r.stored,
        ).format(n=r.stored, span=span)
    lines.append(Line(text=taken))
    if r.already:
        lines.append(
            Line(
                text=n_(
                    "{n} file already taken off before",
                    "{n} files already taken off before",
                    r.already,
                ).format(n=r.already)
            )
        )
    for g in r.left:
        n = len(g.paths)
        lines.append(
            Line(
                text=n_(
                    "{n} file left on the device: {reason}",
                    "{n} files left on the device: {reason}",
                    n,
                ).format(n=n, reason=_known(g.reason)),
                alert=True,
            )
        )
        lines.extend(_paths(g.paths))
    hours = f"{r.deadline_hours:g}"
    if r.late:
        n = len(r.late)
        lines.append(
            Line(
                text=n_(
                    "{n} recording offloaded after the {hours}-hour deadline",
                    "{n} recordings offloaded after the {hours}-hour deadline",
                    n,
                ).format(n=n, hours=hours),
                alert=True,
            )
        )
        for item in r.late[:SHOWN_PATHS]:
            lines.append(
                Line(
                    text=_("{path}: offloaded {delay} after the recording ended").format(
                        path=item.path, delay=_span(item.delay_s)
                    ),
                    level=1,
                )
            )
        if n > SHOWN_PATHS:
            more = n - SHOWN_PATHS
            lines.append(
                Line(
                    text=n_(
                        "... and {n} more recording", "... and {n} more recordings", more
                    ).format(n=more),
                    level=1,
                )
            )
    elif r.stored:
        lines.append(
            Line(text=_("nothing offloaded after the {hours}-hour deadline").format(hours=hours))
        )
    if r.proxies_pending:
        lines.append(
            Line(
                text=n_(
                    "{n} review proxy pending", "{n} review proxies pending", r.proxies_pending
                ).format(n=r.proxies_pending)
            )
        )
    return lines


def receipt_lines(r: BayReceipt, zone: ZoneInfo | None = None) -> list[str]:
    """The receipt as text lines in the reader's language (details indented)."""
    z = zone or ZoneInfo("Asia/Shanghai")
    return [("  " * line.level) + line.text for line in receipt_parts(r, z)]


def _known(reason: str) -> str:
    """A reason in the reader's language when it is one of ours (marked with ``N_``); the
    pipeline's own words as they are (``_("")`` would be the catalog's header)."""
    return _(reason) if reason else reason


def _paths(paths: Sequence[str]) -> list[Line]:
    shown = [Line(text=p, level=1) for p in paths[:SHOWN_PATHS]]
    if len(paths) > SHOWN_PATHS:
        more = len(paths) - SHOWN_PATHS
        shown.append(
            Line(
                text=n_("... and {n} more file", "... and {n} more files", more).format(n=more),
                level=1,
            )
        )
    return shown


def _span(seconds: float) -> str:
    """A duration: seconds below a minute, else hours and minutes."""
    s = round(seconds)
    if s < 60:
        return _("{seconds} s").format(seconds=s)
    h, m = divmod(s // 60, 60)
    if h == 0:
        return _("{minutes} min").format(minutes=m)
    return _("{hours} h {minutes} min").format(hours=h, minutes=m)


def _when(t: datetime, zone: ZoneInfo) -> str:
    return t.astimezone(zone).strftime("%Y-%m-%d %H:%M")


# -- the status file's form --------------------------------------------------------------------


def receipt_json(r: BayReceipt) -> dict[str, Any]:
    return {
        "bay": r.bay,
        "dock": r.dock,
        "session": r.session,
        "device": r.device,
        "officers": [{"badge": o.badge, "name": o.name} for o in r.officers],
        "outcome": r.outcome,
        "refused_reason": r.refused_reason,
        "docked_at": r.docked_at.isoformat(),
        "finished_at": r.finished_at.isoformat(),
        "stored": r.stored,
        "already": r.already,
        "left": [{"reason": g.reason, "paths": list(g.paths)} for g in r.left],
        "recorded_s": r.recorded_s,
        "unknown_duration": r.unknown_duration,
        "deadline_hours": r.deadline_hours,
        "late": [{"item": x.item, "path": x.path, "delay_s": x.delay_s} for x in r.late],
        "proxies_pending": r.proxies_pending,
    }


def receipt_from_json(d: Mapping[str, Any]) -> BayReceipt:
    """The inverse of ``receipt_json`` (a status file written by this version)."""
    return BayReceipt(
        bay=str(d["bay"]),
        dock=str(d["dock"]),
        session=int(d["session"]),
        device=str(d["device"]),
        officers=tuple(
            Officer(badge=str(o["badge"]), name=o.get("name")) for o in d.get("officers", [])
        ),
        outcome=str(d["outcome"]),
        refused_reason=d.get("refused_reason"),
        docked_at=datetime.fromisoformat(d["docked_at"]),
        finished_at=datetime.fromisoformat(d["finished_at"]),
        stored=int(d["stored"]),
        already=int(d["already"]),
        left=tuple(
            LeftGroup(reason=str(g["reason"]), paths=tuple(map(str, g["paths"])))
            for g in d.get("left", [])
        ),
        recorded_s=float(d["recorded_s"]),
        unknown_duration=int(d.get("unknown_duration", 0)),
        deadline_hours=float(d["deadline_hours"]),
        late=tuple(
            LateItem(item=int(x["item"]), path=str(x["path"]), delay_s=float(x["delay_s"]))
            for x in d.get("late", [])
        ),
        proxies_pending=int(d.get("proxies_pending", 0)),
    )


# -- the adapter: what the catalog measured after the docking ----------------------------------


def read_receipt(
    ctx: Context, report: IngestReport, *, bay: str, docked_at: datetime
) -> BayReceipt:
    """The receipt of ``report``, with the late items, durations and queued proxy jobs the
    catalog holds for its session now. Raises ``StorageError`` when the catalog cannot say."""
    with ctx.catalog.read() as txn:
        ops = OffloadOps(txn)
        ids = ops.session_items(report.session)
        checks = ops.checks(ids)
        late = {
            i: c.delay_s
            for i, c in checks.items()
            if c.late_flag_seq is not None and c.delay_s is not None
        }
        items = txn.items(ids=ids) if ids else []
        durations = {i.id: _duration(i.facts) for i in items}
        pending = len(JobOps(txn).unfinished_for(ids, kind=JobKind.TRANSCODE)) if ids else 0
        badges = {i.officer_badge for i in items if i.officer_badge is not None}
        if report.officer is not None:
            badges.add(report.officer)
        officers = {b: _name(txn, b) for b in badges}
    return make_receipt(
        report,
        bay=bay,
        dock=ctx.dock.name,
        docked_at=docked_at,
        finished_at=ctx.clock().astimezone(UTC),
        deadline_hours=ctx.settings.offload_deadline_hours,
        late=late,
        durations=durations,
        proxies_pending=pending,
        officers=officers,
    )


def _name(txn: Transaction, badge: str) -> str | None:
    try:
        return txn.officer(badge).name
    except StorageError:  # not registered (NotFound): the badge alone
        return None


def _duration(facts: MediaFacts) -> float | None:
    """The recorded seconds: what the probes measured, else end minus start when both known."""
    if facts.duration_s is not None:
        return facts.duration_s
    start, end = facts.recorded_start, facts.recorded_end
    if start is not None and end is not None and end >= start:
        return float((end - start).total_seconds())
    return None
