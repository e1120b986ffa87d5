"""Acting on the 24-hour rule: measure items into the catalog, flag the late ones, excuse them.

Every late item gets one ``late_flagged`` custody event (the first time it is measured late);
every excuse is an ``excused`` custody event on the item plus a row the report can query.
Refusals and the texts of clock problems are in the reader's language; the events keep codes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from i18n import _
from ingest.cases.compliance import (
    CLOCK_PROBLEM_TEXT,
    ClockRules,
    format_span,
    is_late,
    judge,
    offload_check,
)
from ingest.cases.steps import CaseStep, OnStep, step_hook
from ingest.config import Settings
from ingest.context import Context
from ingest.errors import UsageError
from storage.catalog.caserecords import Excuse, OffloadCheck, OffloadInput
from storage.catalog.offload import OffloadOps
from storage.catalog.session import Transaction
from verify.log.events import EventType, data_time

logger = logging.getLogger(__name__)

BATCH = 2000
RECENT = timedelta(days=7)  # how far back the refresh looks for items a hook missed


def clock_rules(settings: Settings) -> ClockRules:
    c = settings.compliance
    return ClockRules(
        skew=timedelta(hours=c.clock_skew_hours),
        tolerance=timedelta(minutes=c.clock_tolerance_minutes),
    )


def deadline(settings: Settings) -> timedelta:
    return timedelta(hours=settings.offload_deadline_hours)


def measure(
    txn: Transaction, ctx: Context, item_ids: Sequence[int], *, actor: str
) -> dict[int, OffloadCheck]:
    """(Re)measure the items inside ``txn``; flag each late item once."""
    return {c.item_id: c for c in _measured(txn, ctx, item_ids, actor=actor)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Measured:
    """What the end of a docking keeps of its items' measurements (issue 19: not one
    ``OffloadCheck`` per item of a docking of 10,000 files): how many were measured, which are
    late, which have clock problems (never linked by time)."""

    count: int
    late: tuple[int, ...]
    clock_problems: frozenset[int]


def measure_brief(
    txn: Transaction, ctx: Context, item_ids: Sequence[int], *, actor: str
) -> Measured:
    """``measure``, keeping only what ``Measured`` says of the checks."""
    count, late, problems = 0, [], set()
    for c in _measured(txn, ctx, item_ids, actor=actor):
        count += 1
        if c.late_flag_seq is not None:
            late.append(c.item_id)
        if c.clock_problems:
            problems.add(c.item_id)
    return Measured(count=count, late=tuple(late), clock_problems=frozenset(problems))


def _measured(
    txn: Transaction, ctx: Context, item_ids: Sequence[int], *, actor: str
) -> Iterator[OffloadCheck]:
    """Each item's measurement (the late ones flagged), stored with the others of its part."""
    txn.log.lock_head()  # one measurer at a time across docks (PostgreSQL row lock)
    ops = OffloadOps(txn)
    rules, limit, now = clock_rules(ctx.settings), deadline(ctx.settings), ctx.clock()
    # in parts of the sorted ids (the same events in the same order): a docking of 10,000
    # files does not hold every item's measurement inputs at once (issue 19, flat memory)
    ordered = sorted(item_ids)
    for start in range(0, len(ordered), MEASURE_PART):
        part = ordered[start : start + MEASURE_PART]
        before = ops.checks(part)
        made: list[OffloadCheck] = []
        for inp in ops.inputs(part):
            old = before.get(inp.item_id)
            flagged = old.late_flag_seq if old else None
            check = offload_check(inp, rules, now=now, late_flag_seq=flagged)
            if check.late_flag_seq is None and is_late(check, limit):
                check = _flag(txn, ctx, inp, check, actor=actor)
            made.append(check)
        ops.put_checks(made)  # stored together: one statement for the part's new checks
        yield from made


MEASURE_PART = 250
"""Items measured per part of a session (their inputs and earlier checks read together); the
end of a docking holds one part's rows at a time (issue 19)."""


def _flag(
    txn: Transaction,
    ctx: Context,
    inp: OffloadInput,
    check: OffloadCheck,
    *,
    actor: str,
    correction: int | None = None,
) -> OffloadCheck:
    """The ``late_flagged`` event of a late measurement; ``correction``: the event that
    changed the item's times, when it is measured again because of one."""
    data: dict[str, object] = {
        "device": inp.device_serial,
        "officer": inp.officer_badge,
        "session": inp.session_id,
        "deadline_hours": ctx.settings.offload_deadline_hours,
        "delay_s": None if check.delay_s is None else round(check.delay_s, 3),
        "reference_end": data_time(check.reference_end),
        "reference_source": check.reference_source,
        "durable_at": data_time(check.durable_at),
        "clock_problems": list(check.clock_problems),
    }
    if correction is not None:
        data["correction"] = correction
    ev = ctx.custody.append(
        txn, type=EventType.LATE_FLAGGED, actor=actor, item=inp.item_id, data=data
    )
    logger.info(
        "late offload item=%d device=%s delay_s=%s",
        inp.item_id,
        inp.device_serial,
        None if check.delay_s is None else round(check.delay_s),
    )
    return dataclasses.replace(check, late_flag_seq=ev.seq)


def remeasure(
    txn: Transaction, ctx: Context, item_id: int, *, actor: str, correction: int
) -> tuple[OffloadCheck, OffloadCheck | None]:
    """Measure an item again after ``correction`` changed its recording times: a late
    result is flagged anew (the flag carries the new delay), an item flagged before and on
    time now gets a ``late_cleared`` event. Returns the new check and the one it replaces."""
    txn.log.lock_head()
    ops = OffloadOps(txn)
    old = ops.checks([item_id]).get(item_id)
    [inp] = ops.inputs([item_id])
    check = offload_check(inp, clock_rules(ctx.settings), now=ctx.clock(), late_flag_seq=None)
    if is_late(check, deadline(ctx.settings)):
        check = _flag(txn, ctx, inp, check, actor=actor, correction=correction)
    elif old is not None and old.late_flag_seq is not None:
        ctx.custody.append(
            txn,
            type=EventType.LATE_CLEARED,
            actor=actor,
            item=item_id,
            data={
                "correction": correction,
                "flag": old.late_flag_seq,
                "delay_s": None if check.delay_s is None else round(check.delay_s, 3),
                "reference_end": data_time(check.reference_end),
                "reference_source": check.reference_source,
            },
        )
    ops.put_check(check)
    return check, old


def refresh(ctx: Context, *, actor: str, item_ids: Sequence[int] | None = None) -> int:
    """Measure what is not measured yet (or the given items), in batches; returns the count.

    Catches up items no hook measured: everything newer than the last measured item, recent
    items missed in between, and pending items that have become durable since.
    """
    done = 0
    if item_ids is not None:
        for start in range(0, len(item_ids), BATCH):
            with ctx.catalog.write() as txn:
                done += len(measure(txn, ctx, item_ids[start : start + BATCH], actor=actor))
        return done
    while True:
        with ctx.catalog.write() as txn:
            ids = OffloadOps(txn).items_to_check(limit=BATCH, recent_since=ctx.clock() - RECENT)
            if ids:
                measure(txn, ctx, ids, actor=actor)
        done += len(ids)
        if len(ids) < BATCH:
            return done


# -- excuses ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExcuseOutcome:
    granted: tuple[Excuse, ...]
    refused: tuple[tuple[int, str], ...]  # (item, why not)


def excuse(
    ctx: Context,
    *,
    item_ids: Sequence[int] = (),
    session_id: int | None = None,
    reason: str,
    returned_at: datetime | None,
    actor: str,
    on_step: OnStep | None = None,
) -> ExcuseOutcome:
    """Excuse late items (or every late item of a dock session) with a reason (Art. 28).
    ``on_step`` sees ``CaseStep.EXCUSE`` before the commit (default: the fault tests' hook,
    ``ingest.cases.steps``)."""
    if not reason.strip():
        raise UsageError(
            _("an excuse needs a reason"), hint=_("Say why: --reason 'field work at ...'")
        )
    now = ctx.clock()
    if returned_at is not None and returned_at > now:
        raise UsageError(
            _("the officer's return time lies in the future"),
            hint=_("Give the time the officer came back to the office (--returned-at)."),
        )
    limit = deadline(ctx.settings)
    granted: list[Excuse] = []
    refused: list[tuple[int, str]] = []
    with ctx.catalog.write() as txn:
        ops = OffloadOps(txn)
        if session_id is not None:
            if not ops.session_exists(session_id):
                raise UsageError(
                    _("no dock session {session}").format(session=session_id),
                    hint=_(
                        "Session ids are printed by 'evidock ingest' and listed in 'evidock "
                        "items --json' (field 'session')."
                    ),
                )
            item_ids = ops.session_items(session_id)
        acquired = {i: txn.item(i).acquired_at for i in item_ids}  # NotFound when missing
        checks = measure(txn, ctx, item_ids, actor=actor)
        held = ops.excuses(item_ids, at=now)
        for item_id in item_ids:
            check = checks[item_id]
            why_not = _why_not(check, acquired[item_id], returned_at, now=now, limit=limit)
            if any(x.reason == reason and x.returned_at == returned_at
                   for x in held.get(item_id, ())):  # fmt: skip
                # the same excuse again: a rerun after an outage that hid the first one's
                # commit, or a second click; granted once (issue 18)
                why_not = _("already excused for this reason")
            if why_not:
                refused.append((item_id, why_not))
                continue
            ev = ctx.custody.append(
                txn,
                type=EventType.EXCUSED,
                actor=actor,
                item=item_id,
                data={
                    "reason": reason,
                    "returned_at": data_time(returned_at),
                    "session": session_id,
                    "basis": "returned" if returned_at is not None else "reason",
                    "deadline_hours": ctx.settings.offload_deadline_hours,
                    "delay_s": None if check.delay_s is None else round(check.delay_s, 3),
                    "reference_source": check.reference_source,
                    "clock_problems": list(check.clock_problems),
                    "granted_at": data_time(now),
                },
            )
            granted.append(
                ops.add_excuse(
                    item_id=item_id,
                    session_id=session_id,
                    reason=reason,
                    returned_at=returned_at,
                    by=actor,
                    at=now,
                    seq=ev.seq,
                )
            )
        if not granted:
            detail = "; ".join(f"#{i}: {why}" for i, why in refused) or _(
                "the session has no items"
            )
            raise UsageError(
                _("nothing to excuse ({detail})").format(detail=detail),
                hint=_(
                    "Excuses are for items offloaded after the deadline; see 'evidock overdue'."
                ),
            )
        (on_step or step_hook(ctx.settings))(CaseStep.EXCUSE)
    return ExcuseOutcome(granted=tuple(granted), refused=tuple(refused))


def _why_not(
    check: OffloadCheck,
    acquired_at: datetime,
    returned_at: datetime | None,
    *,
    now: datetime,
    limit: timedelta,
) -> str | None:
    j = judge(
        reference_end=check.reference_end,
        durable_at=check.durable_at,
        acquired_at=acquired_at,
        at=now,
        deadline=limit,
        excuses=(),
    )
    if not j.overdue:
        return _("offloaded within the deadline, nothing to excuse")
    if returned_at is None:
        return None
    trusted_end = None if check.clock_problems else check.reference_end
    if trusted_end is not None and returned_at < trusted_end:
        return _("the officer's return lies before the recording ended")
    done = check.durable_at if check.durable_at is not None else now
    if done > returned_at + limit:
        return _(
            "offloaded {delay} after the officer's return, over the deadline even from there; "
            "give another reason without --returned-at if there is one"
        ).format(delay=format_span(done - returned_at))
    return None


def problems_text(problems: Sequence[str]) -> str:
    """The clock problems of an item, in the reader's language (an unknown code as it is)."""
    return "; ".join(_(CLOCK_PROBLEM_TEXT[p]) if p in CLOCK_PROBLEM_TEXT else p for p in problems)
