"""Confidentiality that follows the cases (Art. 31, issue 16).

An item's level is the strictest level of the cases it is live-linked to. Whenever a link, an
unlink or a case's new level changes it, the item row changes and ``confidentiality_changed``
(item, from, to, actor) is appended in the same transaction; a case's own change is one too.
"""

from __future__ import annotations

from ingest.cases.vocab import strictest
from ingest.context import Context
from storage.catalog import confidentiality as rows
from storage.catalog.cases import CaseOps
from storage.catalog.session import Transaction
from storage.records import Event
from verify.log.events import EventType


def refresh_item(
    txn: Transaction, ctx: Context, item_id: int, *, actor: str, case: str | None = None
) -> Event | None:
    """Bring the item's level to the strictest of its cases; the event when it changed.
    ``case``: the case whose link, unlink or level change caused it."""
    new = strictest(rows.linked_case_levels(txn, item_id))
    old = rows.item_level(txn, item_id)
    if new == old:
        return None
    rows.set_item_level(txn, item_id, new)
    return ctx.custody.append(
        txn,
        type=EventType.CONFIDENTIALITY_CHANGED,
        actor=actor,
        item=item_id,
        data={"item": item_id, "from": old, "to": new, "case": case},
    )


def set_case_level(
    txn: Transaction, ctx: Context, number: str, level: str, *, actor: str, reason: str
) -> list[int]:
    """Give the case a new level (already checked against the vocabulary), then its items;
    returns the items whose level changed. The same level again is no change and no event."""
    case = CaseOps(txn).case(number)
    if case.confidentiality == level:
        return []
    rows.set_case_level(txn, number, level)
    ctx.custody.append(
        txn,
        type=EventType.CONFIDENTIALITY_CHANGED,
        actor=actor,
        data={"case": number, "from": case.confidentiality, "to": level, "reason": reason},
    )
    return [
        item
        for item in rows.live_items(txn, number)
        if refresh_item(txn, ctx, item, actor=actor, case=number) is not None
    ]
