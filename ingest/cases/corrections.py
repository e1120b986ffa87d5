"""Corrections of an item's facts (issue 20): the officer who really recorded it, the camera's
clock measured against the true time. One ``metadata_corrected`` custody event keeps the new
values, the ones they replace (``was``), who and why; reports use the new ones.

A clock correction moves the recording times, so the 24-hour rule is measured again at once
(``offload.remeasure``): late now is flagged anew, on time now clears an earlier flag with its
own ``late_cleared`` event that names the correction. A corrected time is still refused when
it lies in the future or before the device entered service (``compliance.clock_problems``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from i18n import _
from ingest.cases.compliance import SRC_CORRECTED, is_late
from ingest.cases.offload import deadline, remeasure
from ingest.context import Context
from ingest.errors import UsageError
from storage.catalog.session import Transaction
from verify.log.events import EventType, data_time

_OFFSET = re.compile(r"([+-])(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_CLOCK = re.compile(r"([+-])(\d{1,3}):(\d{2})(?::(\d{2}))?")


def parse_clock_offset(text: str) -> timedelta:
    """How far the camera's clock was ahead (+) of the true time, or behind it (-):
    ``+8h``, ``-1d2h30m``, ``+00:05:30``. The sign is required: a correction says its way."""
    s = text.strip()
    m = _CLOCK.fullmatch(s)
    if m is not None:
        sign, h, mi, sec = m.groups()
        span = timedelta(hours=int(h), minutes=int(mi), seconds=int(sec or 0))
    else:
        m = _OFFSET.fullmatch(s)
        if m is None or not any(m.groups()[1:]):
            raise UsageError(
                _("{text!r} is not a clock offset").format(text=text),
                hint=_(
                    "Write how far the camera's clock was ahead (+) or behind (-) the true "
                    "time: +8h, -1d2h, +00:05:30."
                ),
            )
        sign = m.group(1)
        d, h, mi, sec = (int(g or 0) for g in m.groups()[1:])
        span = timedelta(days=d, hours=h, minutes=mi, seconds=sec)
    if not span:
        raise UsageError(_("a clock offset of zero corrects nothing"), hint=_("Nothing to do."))
    return -span if sign == "-" else span


@dataclass(frozen=True, slots=True, kw_only=True)
class Correction:
    item: int
    seq: int  # the metadata_corrected event
    new: dict[str, object]
    was: dict[str, object]
    late_before: bool | None  # None: not measured before
    late_now: bool | None  # None: no clock correction, not measured again


def correct_item(
    txn: Transaction,
    ctx: Context,
    item_id: int,
    *,
    officer: str | None,
    clock_offset: timedelta | None,
    reason: str,
    actor: str,
) -> Correction:
    """One correction of ``item_id`` inside ``txn``: the catalog, its event, the new measure."""
    if not reason.strip():
        raise UsageError(_("the reason is empty"), hint=_("Say why in --reason."))
    if officer is None and clock_offset is None:
        raise UsageError(
            _("nothing to correct"), hint=_("Give --officer BADGE or --clock-offset OFFSET.")
        )
    item = txn.item(item_id)
    new: dict[str, object] = {}
    was: dict[str, object] = {}
    if officer is not None:
        if item.officer_badge == officer:
            raise UsageError(
                _("item {item} is already {officer}'s").format(item=item_id, officer=officer),
                hint=_("Nothing to correct."),
            )
        txn.set_item_officer(item_id, officer)
        new["officer"], was["officer"] = officer, item.officer_badge
    if clock_offset is not None:
        f = item.facts
        if f.recorded_start is None and f.recorded_end is None:
            raise UsageError(
                _("item {item} has no recording time to correct").format(item=item_id),
                hint=_("Its timeliness is measured from the device's dockings instead."),
            )
        start = None if f.recorded_start is None else f.recorded_start - clock_offset
        end = None if f.recorded_end is None else f.recorded_end - clock_offset
        txn.set_item_times(item_id, recorded_start=start, recorded_end=end,
                           time_source=SRC_CORRECTED)  # fmt: skip
        new.update(
            recorded_start=data_time(start),
            recorded_end=data_time(end),
            time_source=SRC_CORRECTED,
            clock_offset_s=clock_offset.total_seconds(),
        )
        was.update(
            recorded_start=data_time(f.recorded_start),
            recorded_end=data_time(f.recorded_end),
            time_source=f.time_source,
        )
    ev = ctx.custody.append(
        txn,
        type=EventType.METADATA_CORRECTED,
        actor=actor,
        item=item_id,
        data={**new, "was": was, "reason": reason},
    )
    late_before = late_now = None
    if clock_offset is not None:
        check, old = remeasure(txn, ctx, item_id, actor=actor, correction=ev.seq)
        late_before = None if old is None else old.late_flag_seq is not None
        late_now = is_late(check, deadline(ctx.settings))
    return Correction(
        item=item_id, seq=ev.seq, new=new, was=was, late_before=late_before, late_now=late_now
    )
