"""Catalog operations on cases and their activities (links: ``storage.catalog.caselinks``).

``CaseOps(txn)`` works inside the caller's transaction and hands out frozen records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import or_, select

from i18n import _
from storage.catalog import caserecords as c
from storage.catalog.models import (
    ActivityOfficerRow,
    CaseActivityRow,
    CaseRow,
    OfficerRow,
)
from storage.catalog.session import Transaction
from storage.errors import AlreadyExists, NotFound

T = TypeVar("T")
CHUNK = 500
OPEN, CLOSED, ARCHIVED = "open", "closed", "archived"


def chunked(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """Slices of ``values`` small enough for an IN list on every dialect."""
    batch: list[T] = []
    for v in values:
        batch.append(v)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class CaseOps:
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    # -- cases ------------------------------------------------------------------------------
    def add_case(self, new: c.NewCase) -> c.Case:
        if self._case_row(new.number) is not None:
            raise AlreadyExists(
                _("case {number} already exists").format(number=repr(new.number)),
                hint=_("Show it: evidock case show NUMBER"),
            )
        row = CaseRow(
            number=new.number,
            title=new.title,
            enforcement_type=new.enforcement_type,
            procedure=new.procedure,
            handler_id=self.txn.officer(new.handler).id,
            reviewer_id=self.txn.officer(new.reviewer).id if new.reviewer else None,
            approver_id=self.txn.officer(new.approver).id if new.approver else None,
            confidentiality=new.confidentiality,
            status=OPEN,
            stage="initiation",
            opened_at=new.opened_at,
            opened_by=new.opened_by,
        )
        self.txn._add_unique(row, _("case {number} already exists").format(number=repr(new.number)))
        return self._case(row)

    def case(self, number: str) -> c.Case:
        return self._case(self._require(number))

    def cases(self, status: str | None = None) -> list[c.Case]:
        q = select(CaseRow).order_by(CaseRow.opened_at, CaseRow.id)
        if status is not None:
            q = q.where(CaseRow.status == status)
        return [self._case(r) for r in self.s.scalars(q)]

    def close_case(self, number: str, *, at: datetime, due: datetime, by: str) -> c.Case:
        row = self._require(number)
        row.status, row.closed_at, row.closed_by, row.archive_due_at = CLOSED, at, by, due
        return self._case(row)

    def archive_case(self, number: str, *, at: datetime, by: str) -> c.Case:
        row = self._require(number)
        row.status, row.archived_at, row.archived_by = ARCHIVED, at, by
        return self._case(row)

    def set_stage(self, number: str, stage: str) -> c.Case:
        row = self._require(number)
        row.stage = stage
        return self._case(row)

    def archive_overdue(self, at: datetime) -> list[c.Case]:
        """Closed cases whose archive deadline passed before ``at`` and not archived by then."""
        q = (
            select(CaseRow)
            .where(
                CaseRow.archive_due_at < at,
                CaseRow.closed_at <= at,
                or_(CaseRow.archived_at.is_(None), CaseRow.archived_at > at),
            )
            .order_by(CaseRow.archive_due_at)
        )
        return [self._case(r) for r in self.s.scalars(q)]

    # -- activities -------------------------------------------------------------------------
    def add_activity(self, case_id: int, new: c.NewActivity) -> c.Activity:
        officer_ids = [self.txn.officer(b).id for b in dict.fromkeys(new.officers)]
        row = CaseActivityRow(
            case_id=case_id,
            stage=new.stage,
            record_type=new.record_type,
            place=new.place,
            start_at=new.start_at,
            end_at=new.end_at,
            no_av_reason=new.no_av_reason,
            note=new.note,
            created_at=new.created_at,
            created_by=new.created_by,
            disputed=new.disputed,
        )
        self.s.add(row)
        self.s.flush()
        self.s.add_all(ActivityOfficerRow(activity_id=row.id, officer_id=o) for o in officer_ids)
        self.s.flush()
        return self._activities([row])[0]

    def activity(self, activity_id: int) -> c.Activity:
        row = self.s.get(CaseActivityRow, activity_id)
        if row is None:
            raise NotFound(
                _("no case activity {activity}").format(activity=activity_id),
                hint=_("List them: evidock case show NUMBER"),
            )
        return self._activities([row])[0]

    def activities(self, case_id: int) -> list[c.Activity]:
        q = select(CaseActivityRow).where(CaseActivityRow.case_id == case_id)
        return self._activities(self.s.scalars(q.order_by(CaseActivityRow.start_at)).all())

    def activities_of_officers(
        self, officer_ids: Sequence[int], *, start: datetime, end: datetime
    ) -> list[c.Activity]:
        """Activities of cases not yet archived, with one of the officers, overlapping the span."""
        q = (
            select(CaseActivityRow)
            .join(ActivityOfficerRow, ActivityOfficerRow.activity_id == CaseActivityRow.id)
            .join(CaseRow, CaseRow.id == CaseActivityRow.case_id)
            .where(
                ActivityOfficerRow.officer_id.in_(list(officer_ids)),
                CaseActivityRow.start_at <= end,
                CaseActivityRow.end_at >= start,
                CaseRow.status != ARCHIVED,
            )
            .distinct()
        )
        return self._activities(self.s.scalars(q).all())

    def activities_ended(self, *, before: datetime, at: datetime) -> list[c.Activity]:
        """Activities that ended before ``before``, of cases not archived at ``at``: the ones
        whose recordings should all be in. Driven by the cases still in hand (status index,
        or archived after ``at``), never by the whole history of activities."""
        live = select(CaseRow.id).where(CaseRow.status.in_([OPEN, CLOSED]))
        later = select(CaseRow.id).where(CaseRow.archived_at > at)
        case_ids = sorted(set(self.s.scalars(live)) | set(self.s.scalars(later)))
        rows: list[CaseActivityRow] = []
        for part in chunked(case_ids):
            q = select(CaseActivityRow).where(CaseActivityRow.case_id.in_(part))
            rows.extend(r for r in self.s.scalars(q) if r.end_at < before and r.created_at <= at)
        rows.sort(key=lambda r: (r.end_at, r.id))
        return self._activities(rows)

    # -- rows to records --------------------------------------------------------------------
    def _case_row(self, number: str) -> CaseRow | None:
        return self.s.scalars(select(CaseRow).where(CaseRow.number == number)).first()

    def _require(self, number: str) -> CaseRow:
        row = self._case_row(number)
        if row is None:
            raise NotFound(
                _("no case {number}").format(number=repr(number)),
                hint=_("List cases with 'evidock case list', or open it: evidock case open NUMBER"),
            )
        return row

    def _badge(self, officer_id: int | None) -> str | None:
        if officer_id is None:
            return None
        row = self.s.get(OfficerRow, officer_id)
        return None if row is None else row.badge

    def _case(self, row: CaseRow) -> c.Case:
        return c.Case(
            id=row.id,
            number=row.number,
            title=row.title,
            enforcement_type=row.enforcement_type,
            procedure=row.procedure,
            handler=self._badge(row.handler_id) or "?",
            reviewer=self._badge(row.reviewer_id),
            approver=self._badge(row.approver_id),
            confidentiality=row.confidentiality,
            status=row.status,
            opened_at=row.opened_at,
            opened_by=row.opened_by,
            closed_at=row.closed_at,
            closed_by=row.closed_by,
            archive_due_at=row.archive_due_at,
            archived_at=row.archived_at,
            archived_by=row.archived_by,
            stage=row.stage,
        )

    def _activities(self, rows: Sequence[CaseActivityRow]) -> list[c.Activity]:
        ids = [r.id for r in rows]
        officers: dict[int, list[tuple[int, str]]] = {}
        numbers: dict[int, str] = {}
        for part in chunked(ids):
            q = (
                select(ActivityOfficerRow.activity_id, OfficerRow.id, OfficerRow.badge)
                .join(OfficerRow, OfficerRow.id == ActivityOfficerRow.officer_id)
                .where(ActivityOfficerRow.activity_id.in_(part))
                .order_by(OfficerRow.badge)
            )
            for aid, oid, badge in self.s.execute(q):
                officers.setdefault(aid, []).append((oid, badge))
        for part in chunked(sorted({r.case_id for r in rows})):
            q2 = select(CaseRow.id, CaseRow.number).where(CaseRow.id.in_(part))
            numbers.update({cid: num for cid, num in self.s.execute(q2)})
        return [
            c.Activity(
                id=r.id,
                case_id=r.case_id,
                case_number=numbers[r.case_id],
                stage=r.stage,
                record_type=r.record_type,
                officers=tuple(b for _id, b in officers.get(r.id, [])),
                officer_ids=tuple(o for o, _badge in officers.get(r.id, [])),
                place=r.place,
                start_at=r.start_at,
                end_at=r.end_at,
                no_av_reason=r.no_av_reason,
                note=r.note,
                created_at=r.created_at,
                created_by=r.created_by,
                disputed=r.disputed,
            )
            for r in rows
        ]
