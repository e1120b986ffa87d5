"""Disclosure packages in the catalog (issue 17, Art. 30): one row per export.

``ExportOps(txn)`` works inside the caller's transaction (the one that appends the
``export_requested`` / ``export_approved`` / ``exported`` event) and hands out ``Export``
records. The row is a projection of those events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from i18n import _
from storage.catalog.models import ExportRow
from storage.catalog.session import Transaction
from storage.errors import NotFound


@dataclass(frozen=True, slots=True, kw_only=True)
class Export:
    id: int
    case_number: str | None
    items: tuple[int, ...]
    recipient: str
    purpose: str
    originals: bool
    copies: bool
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    built_at: datetime | None
    package_sha256: str | None
    path: str | None

    @property
    def status(self) -> str:
        if self.built_at is not None:
            return "built"
        return "approved" if self.approved_at is not None else "requested"


class ExportOps:
    def __init__(self, txn: Transaction) -> None:
        self.s = txn.s

    def add(
        self,
        *,
        case_number: str | None,
        items: Sequence[int],
        recipient: str,
        purpose: str,
        originals: bool,
        copies: bool,
        requested_by: str,
        now: datetime,
    ) -> Export:
        row = ExportRow(
            case_number=case_number,
            items=json.dumps(sorted(items)),
            recipient=recipient,
            purpose=purpose,
            originals=originals,
            copies=copies,
            requested_by=requested_by,
            requested_at=now,
        )
        self.s.add(row)
        self.s.flush()
        return _export(row)

    def get(self, export_id: int) -> Export:
        return _export(self._row(export_id))

    def approve(self, export_id: int, *, by: str, now: datetime) -> Export:
        row = self._row(export_id)
        row.approved_by, row.approved_at = by, now
        self.s.flush()
        return _export(row)

    def built(self, export_id: int, *, sha256: str, path: str, now: datetime) -> Export:
        row = self._row(export_id)
        row.built_at, row.package_sha256, row.path = now, sha256, path
        self.s.flush()
        return _export(row)

    def all(self) -> list[Export]:
        return [_export(r) for r in self.s.scalars(select(ExportRow).order_by(ExportRow.id))]

    def _row(self, export_id: int) -> ExportRow:
        row = self.s.get(ExportRow, export_id)
        if row is None:
            raise NotFound(
                _("no export #{export}").format(export=export_id),
                hint=_("List them: evidock export list"),
            )
        return row


def export_fields(e: Export) -> dict[str, str | None]:
    """An export as its custody events record it, in the text form facts are compared in."""
    return {
        "case": e.case_number,
        "items": ",".join(str(i) for i in e.items),
        "recipient": e.recipient,
        "purpose": e.purpose,
        "originals": str(e.originals),  # as the facts' text_value spells a boolean
        "copies": str(e.copies),
        "requested_by": e.requested_by,
        "approved_by": e.approved_by,
        "package_sha256": e.package_sha256,
    }


def _export(row: ExportRow) -> Export:
    return Export(
        id=row.id,
        case_number=row.case_number,
        items=tuple(int(i) for i in json.loads(row.items)),
        recipient=row.recipient,
        purpose=row.purpose,
        originals=row.originals,
        copies=row.copies,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        built_at=row.built_at,
        package_sha256=row.package_sha256,
        path=row.path,
    )
