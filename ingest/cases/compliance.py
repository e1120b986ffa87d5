"""The rules of the regulation as pure functions over frozen records: no I/O, no clock.

- Art. 28, the 24-hour rule: which recording end an item is measured from (camera times are
  checked first, and an untrustworthy one is replaced by the earliest time the recording can
  have been made, never by a later one), its offload delay, and whether an excuse covers it.
  A clock is doubted only on evidence: a time after the dock's time at docking, disagreement
  with the file's own time, with the camera's other files of the same docking, or with the
  documented start of service. That evidock learned of the device later than it recorded is
  no such evidence.
- Devices in service that were not docked within the deadline.
- Art. 27: the archive deadline of a closed case.
- Case numbers, checked against the configured pattern.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from i18n import N_, _
from ingest.errors import UsageError
from storage.catalog.caserecords import (
    UNKNOWN_SOURCE,
    DeviceInService,
    Excuse,
    OffloadCheck,
    OffloadInput,
)

_YEAR_BRACKETS = re.compile(r"[\[(（【]((?:19|20)\d{2})[\])）】]")

FUTURE = "clock_in_future"
BEFORE_SERVICE = "before_registration"
FAR_FROM_FILE = "far_from_file_time"
NO_TIME = "no_recording_time"
APART_FROM_SESSION = "apart_from_session"

SRC_RECORDED = "recorded"
SRC_FILE = "file-mtime"
SRC_PREVIOUS_DOCK = "previous-docking"
SRC_IN_SERVICE = "in-service-since"
SRC_UNKNOWN = UNKNOWN_SOURCE
SRC_CORRECTED = "corrected"  # a custodian measured the camera's clock (evidock correct)

# what people read for the codes above (N_-marked: shown with _(), see problems_text and
# source_text); the codes are what the catalog and the custody log keep
CLOCK_PROBLEM_TEXT = {
    FUTURE: N_("camera clock in the future"),
    BEFORE_SERVICE: N_("recorded before the device's documented start of service"),
    FAR_FROM_FILE: N_("recording time far from the file's time"),
    NO_TIME: N_("no recording time"),
    APART_FROM_SESSION: N_("camera time disagrees with its other files of the same docking"),
}
SOURCE_TEXT = {
    SRC_RECORDED: N_("the recorded end"),
    SRC_CORRECTED: N_("the recorded end, corrected for the camera's clock"),
    SRC_FILE: N_("the file's modification time"),
    SRC_PREVIOUS_DOCK: N_("the device's previous docking (earliest possible recording time)"),
    SRC_IN_SERVICE: N_(
        "the device's documented start of service (earliest possible recording time)"
    ),
    SRC_UNKNOWN: N_("nothing trustworthy: timeliness cannot be shown"),
}


def source_text(source: str | None) -> str:
    """What the delay of an item was measured from, in the reader's language ("" for none)."""
    return _(SOURCE_TEXT[source]) if source in SOURCE_TEXT else (source or "")


class CaseNumberInvalid(UsageError):
    code = "bad-case-number"


def normalise_case_number(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), trimmed, and the year's brackets written
    as 〔〕 however they were typed: one case, one spelling."""
    s = unicodedata.normalize("NFKC", text).strip()
    return _YEAR_BRACKETS.sub(lambda m: f"〔{m.group(1)}〕", s)


def check_case_number(text: str, pattern: str) -> str:
    number = normalise_case_number(text)
    if not re.fullmatch(pattern, number):
        raise CaseNumberInvalid(
            _("{text} is not a case number of this office").format(text=repr(text)),
            hint=_(
                "Write it like 凤里执罚〔2026〕12号 or 2026-0012; the accepted form is "
                "compliance.case_number_pattern in the configuration ({pattern})."
            ).format(pattern=pattern),
        )
    return number


# -- the 24-hour rule ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockRules:
    skew: timedelta = timedelta(hours=24)  # recorded end vs file time before it is doubted
    tolerance: timedelta = timedelta(hours=1)  # slack for "future" and "before registration"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    end: datetime | None
    source: str
    problems: tuple[str, ...]


def clock_problems(inp: OffloadInput, rules: ClockRules) -> tuple[str, ...]:
    end = inp.recorded_end
    if end is None:
        return (NO_TIME,)
    found: list[str] = []
    docked = inp.docked_at if inp.docked_at is not None else inp.acquired_at
    if FUTURE in inp.flags or end > min(docked, inp.acquired_at) + rules.tolerance:
        found.append(FUTURE)
    since = inp.in_service_since if inp.device_registered else None
    if since is not None and end < since - rules.tolerance:
        found.append(BEFORE_SERVICE)
    # the file's time comes from the same camera clock: a corrected time is not doubted by it
    # (a correction still cannot put a recording in the future or before service)
    compared = inp.time_source not in (SRC_FILE, SRC_CORRECTED)
    if compared and abs(end - inp.file_mtime) > rules.skew:
        found.append(FAR_FROM_FILE)
    if (
        compared
        and inp.session_offset_s is not None
        and inp.session_items >= 3
        and abs((end - inp.file_mtime).total_seconds() - inp.session_offset_s)
        > rules.skew.total_seconds()
    ):
        found.append(APART_FROM_SESSION)
    return tuple(found)


def offload_reference(inp: OffloadInput, rules: ClockRules) -> Reference:
    """The recording end the delay is measured from. A doubted camera time is never used to
    make an item look on time: the earliest plausible time is taken instead."""
    problems = clock_problems(inp, rules)
    if not problems:
        assert inp.recorded_end is not None
        source = SRC_CORRECTED if inp.time_source == SRC_CORRECTED else SRC_RECORDED
        return Reference(end=inp.recorded_end, source=source, problems=())
    since = inp.in_service_since if inp.device_registered else None

    def plausible(t: datetime | None) -> bool:
        return (
            t is not None
            and t <= inp.acquired_at + rules.tolerance
            and (since is None or t >= since - rules.tolerance)
        )

    found = [(t, s) for t, s in ((inp.recorded_end, SRC_RECORDED), (inp.file_mtime, SRC_FILE))]
    candidates = [(t, s) for t, s in found if t is not None and plausible(t)]
    if candidates:
        t, s = min(candidates)
        return Reference(end=t, source=s, problems=problems)
    if inp.previous_dock_at is not None:
        return Reference(end=inp.previous_dock_at, source=SRC_PREVIOUS_DOCK, problems=problems)
    if since is not None:
        return Reference(end=since, source=SRC_IN_SERVICE, problems=problems)
    return Reference(end=None, source=SRC_UNKNOWN, problems=problems)


def offload_check(
    inp: OffloadInput, rules: ClockRules, *, now: datetime, late_flag_seq: int | None
) -> OffloadCheck:
    ref = offload_reference(inp, rules)
    delay = None
    if ref.end is not None and inp.durable_at is not None:
        delay = (inp.durable_at - ref.end).total_seconds()
    return OffloadCheck(
        item_id=inp.item_id,
        reference_end=ref.end,
        reference_source=ref.source,
        clock_problems=ref.problems,
        durable_at=inp.durable_at,
        delay_s=delay,
        late_flag_seq=late_flag_seq,
        checked_at=now,
    )


def is_late(check: OffloadCheck, deadline: timedelta) -> bool:
    """Durable after the deadline, or durable with no trustworthy time to show it was not."""
    if check.durable_at is None:
        return False
    if check.reference_source == SRC_UNKNOWN:
        return True
    return check.delay_s is not None and check.delay_s > deadline.total_seconds()


def excuse_covers(
    excuse: Excuse, *, durable_at: datetime | None, at: datetime, deadline: timedelta
) -> bool:
    """A stated reason covers; a return time covers when the bytes were durable (or, while
    pending, ``at`` is) within the deadline counted from the officer's return (Art. 28)."""
    if excuse.returned_at is None:
        return True
    done = durable_at if durable_at is not None and durable_at <= at else at
    return done <= excuse.returned_at + deadline


@dataclass(frozen=True, slots=True, kw_only=True)
class Judgement:
    overdue: bool
    pending: bool
    due_at: datetime | None
    delay: timedelta | None
    excused_by: Excuse | None
    not_covering: tuple[Excuse, ...]


def judge(
    *,
    reference_end: datetime | None,
    durable_at: datetime | None,
    acquired_at: datetime,
    at: datetime,
    deadline: timedelta,
    excuses: Sequence[Excuse],
) -> Judgement:
    """The item as of ``at``: pending or not, overdue or not, and the excuse that covers it.
    A pending item with no trusted time is measured from its acquisition."""
    pending = durable_at is None or durable_at > at
    start = reference_end if reference_end is not None else None
    if pending and start is None:
        start = acquired_at
    due = None if start is None else start + deadline
    done = at if pending else durable_at
    assert done is not None
    overdue = True if due is None else done > due
    delay = None if start is None else done - start
    usable = [e for e in excuses if e.granted_at <= at]
    covering = [
        e for e in usable if excuse_covers(e, durable_at=durable_at, at=at, deadline=deadline)
    ]
    return Judgement(
        overdue=overdue,
        pending=pending,
        due_at=due,
        delay=delay,
        excused_by=covering[-1] if overdue and covering else None,
        not_covering=tuple(e for e in usable if e not in covering),
    )


def dock_overdue(dev: DeviceInService, *, at: datetime, deadline: timedelta) -> timedelta | None:
    """How long a device in service has gone undocked, when that exceeds the deadline. The
    clock runs from its last docking, or from its assignment when that came later."""
    since = dev.assigned_at
    if dev.last_docked_at is not None and dev.last_docked_at > since:
        since = dev.last_docked_at
    gone = at - since
    return gone if gone > deadline else None


def archive_due(closed_at: datetime, days: int) -> datetime:
    """Art. 27: within 30 days (or what the law sets) from the end of the enforcement act."""
    return closed_at + timedelta(days=days)


def format_span(d: timedelta | None) -> str:
    """'1d02h', '3h05m' (in the reader's language); '?' for no span."""
    if d is None:
        return "?"
    total = int(d.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return _("{sign}{days}d{hours}h").format(sign=sign, days=days, hours=f"{hours:02d}")
    return _("{sign}{hours}h{minutes}m").format(sign=sign, hours=hours, minutes=f"{rest // 60:02d}")
