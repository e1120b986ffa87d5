"""Catalog operations on the internal approval of cases (Art. 32): the decisions recorded, in
order. ``DecisionOps(txn)`` works inside the caller's transaction and hands out frozen records;
the rules of who decides what, and in which order, are in ``ingest.cases.decisions``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from storage.catalog.caserecords import Decision, NewDecision
from storage.catalog.models import CaseDecisionRow, CaseRow, OfficerRow
from storage.catalog.session import Transaction


class DecisionOps:
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    def add(self, new: NewDecision) -> Decision:
        row = CaseDecisionRow(
            case_id=new.case_id,
            step=new.step,
            outcome=new.outcome,
            officer_id=self.txn.officer(new.officer).id,
            opinion=new.opinion,
            reasons=new.reasons,
            decided_at=new.decided_at,
            decided_by=new.decided_by,
            event_seq=new.event_seq,
        )
        self.s.add(row)
        self.s.flush()
        return self._records([row])[0]

    def decisions(self, case_id: int | None = None) -> list[Decision]:
        """The decisions of a case (of every case: None), in the order they were made."""
        q = select(CaseDecisionRow).order_by(CaseDecisionRow.event_seq, CaseDecisionRow.id)
        if case_id is not None:
            q = q.where(CaseDecisionRow.case_id == case_id)
        return self._records(self.s.scalars(q).all())

    def _records(self, rows: Sequence[CaseDecisionRow]) -> list[Decision]:
        badges = {i: b for i, b in self.s.execute(select(OfficerRow.id, OfficerRow.badge))}
        numbers = {i: n for i, n in self.s.execute(select(CaseRow.id, CaseRow.number))}
        return [
            Decision(
                id=r.id,
                case_id=r.case_id,
                case_number=numbers.get(r.case_id, f"case #{r.case_id}"),
                step=r.step,
                outcome=r.outcome,
                officer=badges.get(r.officer_id, f"officer #{r.officer_id}"),
                opinion=r.opinion,
                reasons=r.reasons,
                decided_at=r.decided_at,
                decided_by=r.decided_by,
                event_seq=r.event_seq,
            )
            for r in rows
        ]
