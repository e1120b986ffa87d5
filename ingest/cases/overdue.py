"""The one compliance report: what is overdue as of a given time, and what is excused.

Late and pending items come from indexed queries (offload delay, durability); the judgement of
each (deadline, excuse) is ``ingest.cases.compliance``. Before reading, items that no hook measured
yet are measured, so the report never misses a recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ingest.cases.compliance import Judgement, dock_overdue, judge
from ingest.cases.coverage import gaps as coverage_gaps
from ingest.cases.offload import deadline, refresh
from ingest.cases.rules import Gap
from ingest.context import Context
from storage.catalog.caselinks import LinkOps
from storage.catalog.caserecords import Case, CheckedItem, DeviceInService, LostDevice
from storage.catalog.cases import CaseOps
from storage.catalog.metricsq import MetricsQueries, Pending
from storage.catalog.offload import OffloadOps


@dataclass(frozen=True, slots=True, kw_only=True)
class LateItem:
    item: CheckedItem
    judgement: Judgement


@dataclass(frozen=True, slots=True, kw_only=True)
class UndockedDevice:
    device: DeviceInService
    undocked_for: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class OverdueReport:
    at: datetime
    deadline: timedelta
    archive_days: int
    late: tuple[LateItem, ...]  # offloaded after the deadline, not excused
    late_excused: tuple[LateItem, ...]
    pending: tuple[LateItem, ...]  # not durable and past the deadline, not excused
    pending_excused: tuple[LateItem, ...]
    devices: tuple[UndockedDevice, ...]
    lost: tuple[LostDevice, ...]  # reported lost: what they recorded since docking is at risk
    archives: tuple[Case, ...]
    gaps: tuple[Gap, ...]  # breaches: A/V required, window not covered by undamaged video
    gaps_exempt: tuple[Gap, ...]  # A/V not suitable, reason written down (Art. 16)
    advisories: tuple[Gap, ...]  # no recording where none is required
    clock_problems: tuple[CheckedItem, ...]
    measured: int
    spool: Pending  # every item not durable yet (waiting in the local spool for S3)

    @property
    def overdue_count(self) -> int:
        """What makes ``--fail-on-overdue`` exit 3: overdue and not excused."""
        return (
            len(self.late)
            + len(self.pending)
            + len(self.devices)
            + len(self.archives)
            + len(self.gaps)
        )


def build_report(
    ctx: Context, *, at: datetime | None = None, actor: str, measure_first: bool = True
) -> OverdueReport:
    when = at if at is not None else ctx.clock()
    limit = deadline(ctx.settings)
    measured = refresh(ctx, actor=actor) if measure_first else 0
    with ctx.catalog.read() as txn:
        ops = OffloadOps(txn)
        late_rows = ops.late(at=when, over_s=limit.total_seconds())
        pending_rows = ops.pending(at=when)
        excuses = ops.excuses([r.item_id for r in late_rows + pending_rows], at=when)

        def judged(rows: list[CheckedItem]) -> list[LateItem]:
            out = []
            for r in rows:
                ref = r.check.reference_end if r.check is not None else None
                j = judge(
                    reference_end=ref,
                    durable_at=r.durable_at,
                    acquired_at=r.acquired_at,
                    at=when,
                    deadline=limit,
                    excuses=excuses.get(r.item_id, ()),
                )
                if j.overdue:
                    out.append(LateItem(item=r, judgement=j))
            return out

        late = judged(late_rows)
        pending = judged(pending_rows)
        devices = []
        for dev in ops.devices_in_service(at=when):
            gone = dock_overdue(dev, at=when, deadline=limit)
            if gone is not None:
                devices.append(UndockedDevice(device=dev, undocked_for=gone))
        lost = ops.lost_devices(at=when)  # issue 20
        clock = ops.clock_problems(at=when)
        spool = MetricsQueries(txn).pending()
        cases = CaseOps(txn)
        archives = cases.archive_overdue(when)
        gaps = _gaps(
            cases,
            LinkOps(txn),
            at=when,
            limit=limit,
            slack=ctx.settings.compliance.link_slack_minutes,
        )
    return OverdueReport(
        at=when,
        deadline=limit,
        archive_days=ctx.settings.archive_deadline_days,
        late=tuple(x for x in late if x.judgement.excused_by is None),
        late_excused=tuple(x for x in late if x.judgement.excused_by is not None),
        pending=tuple(x for x in pending if x.judgement.excused_by is None),
        pending_excused=tuple(x for x in pending if x.judgement.excused_by is not None),
        devices=tuple(devices),
        lost=tuple(lost),
        archives=tuple(archives),
        gaps=tuple(g for g in gaps if g.counts),
        gaps_exempt=tuple(g for g in gaps if g.requires_av and not g.counts),
        advisories=tuple(g for g in gaps if not g.requires_av),
        clock_problems=tuple(clock),
        measured=measured,
        spool=spool,
    )


def _gaps(
    cases: CaseOps, links: LinkOps, *, at: datetime, limit: timedelta, slack: float
) -> list[Gap]:
    """Activities over for longer than the offload deadline (their recordings should be in),
    of cases not archived by ``at``: expected recordings against actual ones."""
    acts = cases.activities_ended(before=at - limit, at=at)
    return coverage_gaps(links, acts, at=at, slack=timedelta(minutes=slack))
