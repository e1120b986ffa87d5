"""Custody events of a case's life (issue 14): opened, closed, archived, each naming its actor.

The catalog's case row is a projection of these events; ``verify`` compares the two.
"""

from __future__ import annotations

from ingest.context import Context
from ingest.output import iso
from storage.catalog.caserecords import Case
from storage.catalog.session import Transaction
from storage.records import Event


def log_case(txn: Transaction, ctx: Context, case: Case, type: str) -> Event:
    """Append the ``case_opened`` / ``case_closed`` / ``case_archived`` event of ``case`` as the
    catalog now holds it, in the transaction that changed the row."""
    match type:
        case "case_opened":
            actor = case.opened_by
            data = {
                "case": case.number,
                "title": case.title,
                "enforcement_type": case.enforcement_type,
                "procedure": case.procedure,
                "handler": case.handler,
                "reviewer": case.reviewer,
                "approver": case.approver,
                "confidentiality": case.confidentiality,
                "opened_at": iso(case.opened_at),
            }
        case "case_closed":
            actor = case.closed_by or ""
            data = {
                "case": case.number,
                "closed_at": iso(case.closed_at),
                "archive_due_at": iso(case.archive_due_at),
            }
        case "case_archived":
            actor = case.archived_by or ""
            data = {"case": case.number, "archived_at": iso(case.archived_at)}
        case _:
            raise ValueError(f"not a case event: {type!r}")
    return ctx.custody.append(txn, type=type, actor=actor, data=data)
