"""Catalog operations on the items linked to cases, and on items by officer and time.

``LinkOps(txn)`` works inside the caller's transaction, so a link and its custody event commit
together. Links are never deleted: unlinking retires the row and keeps who, when and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select

from i18n import _
from storage.catalog import caserecords as c
from storage.catalog.cases import chunked
from storage.catalog.models import CaseLinkRow, ItemRow
from storage.catalog.session import Transaction
from storage.records import Item


def is_video() -> ColumnElement[bool]:
    """SQL test for an item that holds moving pictures (audio alone is not video)."""
    return or_(ItemRow.video_codec.is_not(None), ItemRow.mime_type.like("video/%"))


class LinkOps:
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    # -- links ------------------------------------------------------------------------------
    def add_link(self, new: c.NewLink) -> c.Link:
        row = CaseLinkRow(
            case_id=new.case_id,
            item_id=new.item_id,
            activity_id=new.activity_id,
            stage=new.stage,
            record_type=new.record_type,
            how=new.how,
            why=new.why,
            linked_by=new.linked_by,
            linked_at=new.linked_at,
            linked_seq=new.linked_seq,
            retired=0,
        )
        self.txn._add_unique(
            row, _("item {item} is already linked to this case").format(item=new.item_id)
        )
        return self._links([row])[0]

    def live_link(self, case_id: int, item_id: int) -> c.Link | None:
        row = self.s.scalars(
            select(CaseLinkRow).where(
                CaseLinkRow.case_id == case_id,
                CaseLinkRow.item_id == item_id,
                CaseLinkRow.retired == 0,
            )
        ).first()
        return None if row is None else self._links([row])[0]

    def retire_link(self, link_id: int, *, at: datetime, by: str, reason: str, seq: int) -> c.Link:
        row = self.s.get(CaseLinkRow, link_id)
        assert row is not None
        row.retired, row.unlinked_at, row.unlinked_by = row.id, at, by
        row.unlink_reason, row.unlinked_seq = reason, seq
        self.s.flush()
        return self._links([row])[0]

    def links(self, case_id: int, *, live_only: bool = False) -> list[c.Link]:
        q = select(CaseLinkRow).where(CaseLinkRow.case_id == case_id)
        if live_only:
            q = q.where(CaseLinkRow.retired == 0)
        return self._links(self.s.scalars(q.order_by(CaseLinkRow.id)).all())

    def ever_linked(self, case_id: int, item_ids: Sequence[int]) -> set[int]:
        """Items that are or were linked to the case (rules never relink what a person unlinked)."""
        out: set[int] = set()
        for part in chunked(item_ids):
            q = select(CaseLinkRow.item_id).where(
                CaseLinkRow.case_id == case_id, CaseLinkRow.item_id.in_(part)
            )
            out.update(self.s.scalars(q))
        return out

    def linked_recordings(
        self, case_ids: Sequence[int], at: datetime
    ) -> dict[int, list[c.LinkedRecording]]:
        """The items live-linked to each case at ``at`` (to any of its activities or to none),
        with their spans and flags."""
        out: dict[int, list[c.LinkedRecording]] = {i: [] for i in case_ids}
        for part in chunked(sorted(set(case_ids))):
            q = (
                select(
                    CaseLinkRow.case_id,
                    CaseLinkRow.activity_id,
                    ItemRow.id,
                    ItemRow.recorded_start,
                    ItemRow.recorded_end,
                    is_video(),
                    ItemRow.flags,
                )
                .join(ItemRow, ItemRow.id == CaseLinkRow.item_id)
                .where(
                    CaseLinkRow.case_id.in_(part),
                    CaseLinkRow.linked_at <= at,
                    or_(CaseLinkRow.unlinked_at.is_(None), CaseLinkRow.unlinked_at > at),
                )
                .order_by(CaseLinkRow.case_id, ItemRow.id)
            )
            for case, act, item, start, end, video, flags in self.s.execute(q):
                out.setdefault(case, []).append(
                    c.LinkedRecording(
                        case_id=case,
                        activity_id=act,
                        item_id=item,
                        start=start,
                        end=end,
                        is_video=bool(video),
                        flags=tuple(x for x in flags.split(",") if x),
                    )
                )
        return out

    # -- items by officer and time ----------------------------------------------------------
    def items_of_officers(
        self, officer_ids: Sequence[int], *, start_from: datetime, start_to: datetime
    ) -> list[Item]:
        """Items of these officers whose recording started in [start_from, start_to]."""
        q = select(ItemRow.id).where(
            ItemRow.officer_id.in_(list(officer_ids)),
            ItemRow.recorded_start >= start_from,
            ItemRow.recorded_start <= start_to,
        )
        ids = list(self.s.scalars(q))
        return self.txn.items(ids=ids) if ids else []

    def count_recorded(
        self,
        officer_ids: Sequence[int],
        *,
        start_from: datetime,
        start_to: datetime,
        end_from: datetime,
        acquired_by: datetime,
    ) -> int:
        """Items of these officers, in the catalog by ``acquired_by``, that started in the span
        and ended after ``end_from``. SQL walks (officer, recording start) only; the other
        conditions are checked on the few rows found."""
        q = select(ItemRow.recorded_end, ItemRow.acquired_at).where(
            ItemRow.officer_id.in_(list(officer_ids)),
            ItemRow.recorded_start >= start_from,
            ItemRow.recorded_start <= start_to,
        )
        return sum(
            1
            for end, acquired in self.s.execute(q)
            if end is not None and end >= end_from and acquired <= acquired_by
        )

    def _links(self, rows: Sequence[CaseLinkRow]) -> list[c.Link]:
        video: set[int] = set()
        for part in chunked(sorted({r.item_id for r in rows})):
            q = select(ItemRow.id).where(ItemRow.id.in_(part), is_video())
            video.update(self.s.scalars(q))
        return [
            c.Link(
                id=r.id,
                case_id=r.case_id,
                item_id=r.item_id,
                activity_id=r.activity_id,
                stage=r.stage,
                record_type=r.record_type,
                how=r.how,
                why=r.why,
                linked_by=r.linked_by,
                linked_at=r.linked_at,
                unlinked_at=r.unlinked_at,
                unlinked_by=r.unlinked_by,
                unlink_reason=r.unlink_reason,
                is_video=r.item_id in video,
            )
            for r in rows
        ]
