"""Catalog reads behind the monitoring gauges: small, indexed, read-only, run at scrape time.

``MetricsQueries(txn)`` works inside the caller's (read) transaction and hands out counts and
frozen records. Each query starts from an index (item durability, offload delay and time
source, archive deadline, job state, primary keys); none walks every item or every event.
The judgement of what an excuse covers stays in ``ingest.cases.compliance``: late items with an
excuse that only a return time justifies are handed out for it to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select

from storage.catalog.caserecords import UNKNOWN_SOURCE
from storage.catalog.models import (
    CaseRow,
    CheckpointRow,
    ItemRow,
    JobRow,
    OffloadCheckRow,
    OffloadExcuseRow,
)
from storage.catalog.session import Transaction


@dataclass(frozen=True, slots=True, kw_only=True)
class Pending:
    """Items not durable yet; ``oldest_start`` is when the deadline clock of the oldest began
    (its trusted recording end, else its acquisition, as ``ingest.cases.compliance.judge``
    counts)."""

    count: int
    oldest_start: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LateCandidate:
    """A late item whose excuses all name a return time: whether they cover it is judged."""

    item_id: int
    reference_end: datetime | None
    acquired_at: datetime
    durable_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Late:
    without_excuse: int  # late and no excuse granted at all: unexcused
    to_judge: tuple[LateCandidate, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCount:
    kind: str
    state: str
    count: int
    oldest_ready: datetime | None  # the earliest not-before time among those due by now


class MetricsQueries:
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    def pending(self) -> Pending:
        start = func.coalesce(OffloadCheckRow.reference_end, ItemRow.acquired_at)
        q = (
            select(func.count(), func.min(start))
            .select_from(ItemRow)
            .outerjoin(OffloadCheckRow, OffloadCheckRow.item_id == ItemRow.id)
            .where(ItemRow.durable_at.is_(None))
        )
        count, oldest = self.s.execute(q).one()
        return Pending(count=int(count or 0), oldest_start=_aware(oldest))

    def late(self, *, at: datetime, over_s: float) -> Late:
        """Items durable by ``at`` and late, as ``OffloadOps.late`` (catalog.offload) finds them
        (delay over ``over_s``, or no trusted recording time), split by their excuses."""
        granted = OffloadExcuseRow.granted_at <= at
        any_excuse = exists().where(OffloadExcuseRow.item_id == OffloadCheckRow.item_id, granted)
        reason_only = exists().where(
            OffloadExcuseRow.item_id == OffloadCheckRow.item_id,
            granted,
            OffloadExcuseRow.returned_at.is_(None),
        )
        without = 0
        judge: list[LateCandidate] = []
        for late in (
            OffloadCheckRow.delay_s > over_s,
            OffloadCheckRow.reference_source == UNKNOWN_SOURCE,
        ):  # two selective index lookups (their rows are disjoint: no delay without a time)
            q = (
                select(func.count())
                .select_from(OffloadCheckRow)
                .join(ItemRow, ItemRow.id == OffloadCheckRow.item_id)
                .where(late, ItemRow.durable_at <= at, ~any_excuse)
            )
            without += int(self.s.scalar(q) or 0)
            rows = self.s.execute(self._late(late, at).where(and_(any_excuse, ~reason_only)))
            judge.extend(
                LateCandidate(item_id=i, reference_end=ref, acquired_at=acq, durable_at=dur)
                for i, ref, acq, dur in rows
            )
        return Late(without_excuse=without, to_judge=tuple(sorted(judge, key=lambda c: c.item_id)))

    def _late(
        self, late: ColumnElement[bool], at: datetime
    ) -> Select[int, datetime | None, datetime, datetime | None]:
        return (
            select(
                OffloadCheckRow.item_id,
                OffloadCheckRow.reference_end,
                ItemRow.acquired_at,
                ItemRow.durable_at,
            )
            .join(ItemRow, ItemRow.id == OffloadCheckRow.item_id)
            .where(late, ItemRow.durable_at <= at)
        )

    def archives_overdue(self, at: datetime) -> int:
        """Closed cases past their archive deadline and not archived (``CaseOps.archive_overdue``
        counted, from the index on the deadline)."""
        q = select(func.count()).where(
            CaseRow.archive_due_at < at,
            CaseRow.closed_at <= at,
            or_(CaseRow.archived_at.is_(None), CaseRow.archived_at > at),
        )
        return int(self.s.scalar(q) or 0)

    def last_checkpoint_at(self) -> datetime | None:
        q = select(CheckpointRow.created_at).order_by(CheckpointRow.id.desc()).limit(1)
        return self.s.scalars(q).first()

    def jobs(self, states: Sequence[str], *, at: datetime) -> list[JobCount]:
        """Jobs in ``states`` by kind and state, with the oldest due time among those due by
        ``at`` (from the claim index on state and not-before time)."""
        counts = (
            select(JobRow.kind, JobRow.state, func.count())
            .where(JobRow.state.in_(list(states)))
            .group_by(JobRow.kind, JobRow.state)
        )
        due = (
            select(JobRow.kind, JobRow.state, func.min(JobRow.not_before))
            .where(JobRow.state.in_(list(states)), JobRow.not_before <= at)
            .group_by(JobRow.kind, JobRow.state)
        )
        oldest = {(k, s): _aware(t) for k, s, t in self.s.execute(due)}
        return [
            JobCount(kind=k, state=s, count=int(n), oldest_ready=oldest.get((k, s)))
            for k, s, n in self.s.execute(counts.order_by(JobRow.kind, JobRow.state))
        ]


def _aware(t: datetime | str | None) -> datetime | None:
    """Aggregates (min) come back without the column type's conversion on SQLite."""
    if t is None:
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
