"""The catalog's compliance facts as plain values, for ``verify`` to compare with the log.

Each row is read as a ``Facts`` record: what it is (``kind`` and ``key``, e.g. item 7 or the
excuse of event #12) and a mapping of field name to a comparable text (times in ISO 8601 UTC,
delays rounded to milliseconds, officers by badge, cases by number). ``verify.audit.facts``
rebuilds the same records from the custody log.

``FactsBaseline`` is the one-row marker of a catalog written before the log held these facts
(schema revision 0006 sets it for a catalog that already had events): the facts it holds are
recorded once as ``facts_recorded`` events, then the marker is removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import aliased

from storage.catalog.caserecords import Activity, Decision
from storage.catalog.cases import CaseOps
from storage.catalog.decisions import DecisionOps
from storage.catalog.exports import ExportOps, export_fields
from storage.catalog.models import (
    CaseLinkRow,
    CaseRow,
    DeviceAssignmentRow,
    DeviceRow,
    DeviceStatusRow,
    FactsPendingRow,
    ItemRow,
    OfficerRow,
    OffloadCheckRow,
    OffloadExcuseRow,
)
from storage.catalog.people import people_facts
from storage.catalog.session import Transaction

Value = str | None

ITEM = "item"
FLAG = "offload"
EXCUSE = "excuse"
LINK = "link"
CASE = "case"
DEVICE = "device"
ACTIVITY = "activity"
OFFICER = "officer"
DECISION = "decision"
PERSON = "person"
EXPORT = "export"  # issue 17: disclosure packages


def text_time(t: datetime | str | None) -> Value:
    """One spelling of a time for comparison: ISO 8601 in UTC with microseconds."""
    if t is None:
        return None
    if isinstance(t, str):
        if t.endswith("+00:00"):  # as ``data_time`` writes UTC: no parse needed (verify's hot path)
            if len(t) == 32 and t[19] == ".":
                return t
            if len(t) == 25:
                return f"{t[:19]}.000000+00:00"
        try:
            t = datetime.fromisoformat(t)
        except ValueError:
            return str(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    elif t.tzinfo is not UTC:
        t = t.astimezone(UTC)
    return t.isoformat(timespec="microseconds")


def text_delay(d: float | int | str | None) -> Value:
    if d is None:
        return None
    try:
        return f"{round(float(d), 3):.3f}"
    except ValueError:
        return str(d)


def text_value(v: object) -> Value:
    return None if v is None else str(v)


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    kind: str
    key: str
    """The item id, event seq or case number the record is about."""
    item: int | None
    fields: Mapping[str, Value]


def item_facts(
    item: int,
    badge: str | None,
    recorded_start: datetime | None,
    recorded_end: datetime | None,
    time_source: str | None,
    state: str,
    durable_at: datetime | None,
    confidentiality: str,
) -> Facts:
    return Facts(
        kind=ITEM,
        key=str(item),
        item=item,
        fields={
            "officer": badge,
            "recorded_start": text_time(recorded_start),
            "recorded_end": text_time(recorded_end),
            "time_source": time_source,
            "state": state,
            "durable_at": text_time(durable_at),
            "confidentiality": confidentiality,
        },
    )


def flag_facts(row: OffloadCheckRow) -> Facts:
    return Facts(
        kind=FLAG,
        key=str(row.item_id),
        item=row.item_id,
        fields={
            "late_flag_seq": text_value(row.late_flag_seq),
            "reference_end": text_time(row.reference_end),
            "reference_source": row.reference_source,
            "durable_at": text_time(row.durable_at),
            "delay_s": text_delay(row.delay_s),
        },
    )


def excuse_facts(row: OffloadExcuseRow) -> Facts:
    return Facts(
        kind=EXCUSE,
        key=str(row.event_seq),
        item=row.item_id,
        fields={
            "item": str(row.item_id),
            "session": text_value(row.session_id),
            "reason": row.reason,
            "returned_at": text_time(row.returned_at),
            "granted_by": row.granted_by,
            "granted_at": text_time(row.granted_at),
        },
    )


def link_facts(row: CaseLinkRow, number: str) -> Facts:
    return Facts(
        kind=LINK,
        key=str(row.linked_seq),
        item=row.item_id,
        fields={
            "case": number,
            "item": str(row.item_id),
            "stage": row.stage,
            "activity": text_value(row.activity_id),
            "record_type": row.record_type,
            "how": row.how,
            "why": row.why,
            "linked_by": row.linked_by,
            "linked_at": text_time(row.linked_at),
            "unlinked": "yes" if row.retired else "no",
            "unlinked_seq": text_value(row.unlinked_seq),
            "unlinked_by": row.unlinked_by,
            "unlink_reason": row.unlink_reason,
            "unlinked_at": text_time(row.unlinked_at),
        },
    )


def case_facts(row: CaseRow, badges: Mapping[int, str]) -> Facts:
    def badge(officer_id: int | None) -> Value:
        return None if officer_id is None else badges.get(officer_id, f"officer #{officer_id}")

    return Facts(
        kind=CASE,
        key=row.number,
        item=None,
        fields={
            "enforcement_type": row.enforcement_type,
            "procedure": row.procedure,
            "handler": badge(row.handler_id),
            "reviewer": badge(row.reviewer_id),
            "approver": badge(row.approver_id),
            "status": row.status,
            "opened_by": row.opened_by,
            "opened_at": text_time(row.opened_at),
            "closed_at": text_time(row.closed_at),
            "closed_by": row.closed_by,
            "archive_due_at": text_time(row.archive_due_at),
            "archived_at": text_time(row.archived_at),
            "archived_by": row.archived_by,
            "stage": row.stage,
            "confidentiality": row.confidentiality,
        },
    )


def assignments_text(spans: Iterable[tuple[Value, Value, Value]]) -> str:
    """A device's assignments ``(badge, start, end)`` as one comparable text, by start."""
    return "; ".join(f"{b} from {s} to {e or 'now'}" for b, s, e in sorted(spans, key=_by_start))


def _by_start(span: tuple[Value, Value, Value]) -> str:
    return span[1] or ""


def statuses_text(changes: Iterable[tuple[Value, Value, Value]]) -> str:
    """A device's status changes ``(status, start, reason)`` as one comparable text, by start
    (issue 20); empty: in service all along."""
    ordered = sorted(changes, key=lambda c: c[1] or "")
    return "; ".join(f"{st} from {start} ({why})" for st, start, why in ordered)


def device_facts(
    row: DeviceRow,
    spans: Iterable[tuple[Value, Value, Value]],
    statuses: Iterable[tuple[Value, Value, Value]] = (),
) -> Facts:
    return Facts(
        kind=DEVICE,
        key=row.serial,
        item=None,
        fields={
            "kind": row.kind,
            "registered": "yes" if row.registered else "no",
            "assignments": assignments_text(spans),
            "statuses": statuses_text(statuses),
        },
    )


def activity_facts(a: Activity) -> Facts:
    return Facts(
        kind=ACTIVITY,
        key=str(a.id),
        item=None,
        fields={
            "case": a.case_number,
            "stage": a.stage,
            "record_type": a.record_type,
            "officers": ",".join(sorted(a.officers)),
            "start_at": text_time(a.start_at),
            "end_at": text_time(a.end_at),
            "no_av_reason": a.no_av_reason,
            "disputed": "yes" if a.disputed else "no",
        },
    )


def officer_facts(badge: str) -> Facts:
    """An officer's row: that it exists (its 'officer_registered' event, or the baseline)."""
    return Facts(kind=OFFICER, key=badge, item=None, fields={"badge": badge})


def decision_facts(d: Decision) -> Facts:
    return Facts(
        kind=DECISION,
        key=str(d.event_seq),
        item=None,
        fields={
            "case": d.case_number,
            "step": d.step,
            "outcome": d.outcome,
            "officer": d.officer,
            "opinion": d.opinion,
            "reasons": d.reasons,
            "decided_at": text_time(d.decided_at),
            "decided_by": d.decided_by,
        },
    )


class FactOps:
    """Reads every compliance fact of the catalog (or those of some items / one case)."""

    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    def _badges(self) -> dict[int, str]:
        return {i: b for i, b in self.s.execute(select(OfficerRow.id, OfficerRow.badge))}

    def item_facts(self, item_ids: Sequence[int] | None = None) -> Iterator[Facts]:
        officer = aliased(OfficerRow)
        i = ItemRow
        q = (
            select(
                i.id,
                officer.badge,
                i.recorded_start,
                i.recorded_end,
                i.time_source,
                i.state,
                i.durable_at,
                i.confidentiality,
            )
            .outerjoin(officer, officer.id == i.officer_id)
            .order_by(i.id)
        )  # fmt: skip  (columns, not ORM rows: verify reads every item)
        for part in _parts(item_ids):
            qq = q if part is None else q.where(i.id.in_(part))
            for row in self.s.execute(qq):
                yield item_facts(*row)

    def flag_facts(self, item_ids: Sequence[int] | None = None) -> Iterator[Facts]:
        q = select(OffloadCheckRow).order_by(OffloadCheckRow.item_id)
        for part in _parts(item_ids):
            qq = q if part is None else q.where(OffloadCheckRow.item_id.in_(part))
            yield from (flag_facts(r) for r in self.s.scalars(qq))

    def excuse_facts(self, item_ids: Sequence[int] | None = None) -> Iterator[Facts]:
        q = select(OffloadExcuseRow).order_by(OffloadExcuseRow.id)
        for part in _parts(item_ids):
            qq = q if part is None else q.where(OffloadExcuseRow.item_id.in_(part))
            yield from (excuse_facts(r) for r in self.s.scalars(qq))

    def link_facts(
        self, item_ids: Sequence[int] | None = None, *, case: str | None = None
    ) -> Iterator[Facts]:
        q = (
            select(CaseLinkRow, CaseRow.number)
            .join(CaseRow, CaseRow.id == CaseLinkRow.case_id)
            .order_by(CaseLinkRow.id)
        )
        if case is not None:
            q = q.where(CaseRow.number == case)
        for part in _parts(item_ids):
            qq = q if part is None else q.where(CaseLinkRow.item_id.in_(part))
            for row, number in self.s.execute(qq):
                yield link_facts(row, number)

    def case_facts(self, number: str | None = None) -> Iterator[Facts]:
        badges = self._badges()
        q = select(CaseRow).order_by(CaseRow.id)
        if number is not None:
            q = q.where(CaseRow.number == number)
        yield from (case_facts(r, badges) for r in self.s.scalars(q))

    def activity_facts(self, number: str | None = None) -> Iterator[Facts]:
        ops = CaseOps(self.txn)
        q = select(CaseRow.id).order_by(CaseRow.id)
        if number is not None:
            q = q.where(CaseRow.number == number)
        for case_id in list(self.s.scalars(q)):
            yield from (activity_facts(a) for a in ops.activities(case_id))

    def device_facts(self) -> Iterator[Facts]:
        badges = self._badges()
        spans: dict[int, list[tuple[Value, Value, Value]]] = {}
        for a in self.s.scalars(select(DeviceAssignmentRow)):
            spans.setdefault(a.device_id, []).append(
                (badges.get(a.officer_id), text_time(a.start_at), text_time(a.end_at))
            )
        changes: dict[int, list[tuple[Value, Value, Value]]] = {}
        for st in self.s.scalars(select(DeviceStatusRow)):
            changes.setdefault(st.device_id, []).append(
                (st.status, text_time(st.start_at), st.reason)
            )
        for row in self.s.scalars(select(DeviceRow).order_by(DeviceRow.id)):
            yield device_facts(row, spans.get(row.id, []), changes.get(row.id, []))

    def officer_facts(self) -> Iterator[Facts]:
        q = select(OfficerRow.badge).order_by(OfficerRow.id)
        yield from (officer_facts(b) for b in self.s.scalars(q))

    def decision_facts(self, number: str | None = None) -> Iterator[Facts]:
        ops = DecisionOps(self.txn)
        if number is None:
            yield from (decision_facts(d) for d in ops.decisions())
            return
        for case_id in self.s.scalars(select(CaseRow.id).where(CaseRow.number == number)):
            yield from (decision_facts(d) for d in ops.decisions(case_id))

    def export_facts(self) -> Iterator[Facts]:
        for e in ExportOps(self.txn).all():
            yield Facts(kind=EXPORT, key=str(e.id), item=None, fields=export_fields(e))

    def person_facts(self) -> Iterator[Facts]:
        for username, fields in people_facts(self.txn):
            yield Facts(kind=PERSON, key=username, item=None, fields=fields)

    def case_items(self, number: str) -> list[int]:
        """Items ever linked to the case."""
        q = (
            select(CaseLinkRow.item_id)
            .join(CaseRow, CaseRow.id == CaseLinkRow.case_id)
            .where(CaseRow.number == number)
            .distinct()
        )
        return sorted(self.s.scalars(q))

    # -- the baseline of a catalog older than the facts events --------------------------------
    def baseline_pending(self) -> bool:
        return self.s.scalars(select(FactsPendingRow.id).limit(1)).first() is not None

    def baseline_done(self) -> None:
        self.s.execute(delete(FactsPendingRow))
        self.s.flush()


def _parts(ids: Sequence[int] | None, size: int = 500) -> Iterable[Sequence[int] | None]:
    if ids is None:
        yield None
        return
    for start in range(0, len(ids), size):
        yield ids[start : start + size]
