"""Derived media in the catalog: proxies, posters, contact sheets, waveforms of an item.

``DerivedOps(txn)`` works inside the caller's transaction (the one that also appends the
``transcoded`` custody event and completes the job), and hands out frozen records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from storage import records as r
from storage.catalog.cases import chunked
from storage.catalog.models import DerivedMediaRow
from storage.catalog.session import Transaction


class DerivedOps:
    def __init__(self, txn: Transaction) -> None:
        self.s = txn.s

    def add(
        self, *, item_id: int, kind: str, sha256: str, size: int, params: str, now: datetime
    ) -> r.DerivedMedia:
        row = DerivedMediaRow(
            item_id=item_id, kind=kind, sha256=sha256, size=size, params=params, created_at=now
        )
        self.s.add(row)
        self.s.flush()
        return _derived(row)

    def for_items(self, item_ids: Sequence[int]) -> dict[int, list[r.DerivedMedia]]:
        """Every derivative of each item, oldest first (by the derived_media.item_id index)."""
        found: dict[int, list[r.DerivedMedia]] = {}
        for batch in chunked(item_ids):
            q = (
                select(DerivedMediaRow)
                .where(DerivedMediaRow.item_id.in_(batch))
                .order_by(DerivedMediaRow.id)
            )
            for row in self.s.scalars(q):
                found.setdefault(row.item_id, []).append(_derived(row))
        return found

    def all(self) -> list[r.DerivedMedia]:
        return [_derived(d) for d in self.s.scalars(select(DerivedMediaRow).order_by("id"))]


def _derived(row: DerivedMediaRow) -> r.DerivedMedia:
    return r.DerivedMedia(
        id=row.id,
        item_id=row.item_id,
        kind=row.kind,
        sha256=row.sha256,
        size=row.size,
        params=row.params,
        created_at=row.created_at,
    )
