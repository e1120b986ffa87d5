"""Confidentiality levels of cases and items in the catalog (Art. 31, issue 16).

An item's level is the strictest of the cases it is live-linked to; ``ingest.cases.levels``
decides it and appends ``confidentiality_changed``; these functions only read and write rows.
"""

from __future__ import annotations

from sqlalchemy import select

from i18n import _
from storage.catalog.models import CaseLinkRow, CaseRow, ItemRow, OfficerRow
from storage.catalog.session import Transaction
from storage.errors import NotFound


def item_level(txn: Transaction, item_id: int) -> str:
    """The level stored on the item row."""
    row = txn.s.get(ItemRow, item_id)
    if row is None:
        raise NotFound(
            _("no item #{item}").format(item=item_id), hint=_("List items: evidock items")
        )
    return row.confidentiality


def set_item_level(txn: Transaction, item_id: int, level: str) -> None:
    row = txn.s.get(ItemRow, item_id)
    if row is None:
        raise NotFound(
            _("no item #{item}").format(item=item_id), hint=_("List items: evidock items")
        )
    row.confidentiality = level
    txn.s.flush()


def set_case_level(txn: Transaction, number: str, level: str) -> None:
    row = txn.s.scalars(select(CaseRow).where(CaseRow.number == number)).first()
    if row is None:
        raise NotFound(
            _("no case {number}").format(number=repr(number)),
            hint=_("List cases: evidock case list"),
        )
    row.confidentiality = level
    txn.s.flush()


def linked_case_levels(txn: Transaction, item_id: int) -> list[str]:
    """The levels of the cases the item is live-linked to."""
    q = (
        select(CaseRow.confidentiality)
        .join(CaseLinkRow, CaseLinkRow.case_id == CaseRow.id)
        .where(CaseLinkRow.item_id == item_id, CaseLinkRow.retired == 0)
    )
    return list(txn.s.scalars(q))


def live_items(txn: Transaction, number: str) -> list[int]:
    """Items live-linked to the case."""
    q = (
        select(CaseLinkRow.item_id)
        .join(CaseRow, CaseRow.id == CaseLinkRow.case_id)
        .where(CaseRow.number == number, CaseLinkRow.retired == 0)
        .distinct()
    )
    return sorted(txn.s.scalars(q))


def cases_of_badge(txn: Transaction, badge: str) -> list[str]:
    """Numbers of the cases whose handler, reviewer or approver has this badge."""
    officer = txn.s.scalars(select(OfficerRow.id).where(OfficerRow.badge == badge)).first()
    if officer is None:
        return []
    q = select(CaseRow.number).where(
        (CaseRow.handler_id == officer)
        | (CaseRow.reviewer_id == officer)
        | (CaseRow.approver_id == officer)
    )
    return sorted(txn.s.scalars(q))


def linked_case_numbers(txn: Transaction, item_id: int) -> list[str]:
    """Numbers of the cases the item is live-linked to."""
    q = (
        select(CaseRow.number)
        .join(CaseLinkRow, CaseLinkRow.case_id == CaseRow.id)
        .where(CaseLinkRow.item_id == item_id, CaseLinkRow.retired == 0)
    )
    return sorted(set(txn.s.scalars(q)))


def item_officer_badge(txn: Transaction, item_id: int) -> str | None:
    q = (
        select(OfficerRow.badge)
        .join(ItemRow, ItemRow.officer_id == OfficerRow.id)
        .where(ItemRow.id == item_id)
    )
    return txn.s.scalars(q).first()
