"""Export requests and their approval (Art. 30): who asks, for whom, why, and who approved.

A request names a case (its live-linked items) or items, a recipient and a purpose; an
approver or the evidence custodian approves it; only then can it be built. Each step is a
custody event in the transaction that writes the export row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import i18n
from i18n import _
from ingest.access.roles import Action, Level, Relation, decide
from ingest.context import Context
from ingest.errors import UsageError
from storage.catalog.caselinks import LinkOps
from storage.catalog.cases import CaseOps
from storage.catalog.exports import Export, ExportOps
from storage.catalog.session import Transaction
from storage.records import Person
from verify.log.events import EventType

PURPOSES = ("查阅", "复制", "诉讼", "复议")  # view, copy, litigation, administrative review


class ExportRefused(UsageError):
    code = "export-refused"


class ApprovalDenied(ExportRefused):
    """The person may not approve exports (recorded as ``access_denied``). ``recorded``: why,
    in English, for the custody event (the message is in the reader's language)."""

    code = "access-refused"

    def __init__(
        self, message: str, *, hint: str | None = None, recorded: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.recorded = message if recorded is None else recorded


def default_contents(purpose: str) -> tuple[bool, bool]:
    """(originals, view copies) when the request names neither: courts and reviewing bodies
    get the originals, parties who view or copy get view copies (Art. 30)."""
    return (True, False) if purpose in ("诉讼", "复议") else (False, True)


def request_export(
    txn: Transaction,
    ctx: Context,
    *,
    case: str | None,
    items: Sequence[int],
    recipient: str,
    purpose: str,
    originals: bool,
    copies: bool,
    actor: str,
) -> Export:
    """A new request (``export_requested``); refuses what could not be built."""
    if purpose not in PURPOSES:
        raise UsageError(
            _("unknown purpose {purpose!r}: one of {known}").format(
                purpose=purpose, known=", ".join(PURPOSES)
            ),
            hint=_("--purpose 查阅 (view), 复制 (copy), 诉讼 (litigation) or 复议 (review)"),
        )
    if not recipient.strip():
        raise UsageError(_("name the recipient"), hint=_('--for "party Zhang San"'))
    if (case is None) == (not items):
        raise UsageError(
            _("give a case or items, not both"),
            hint=_("evidock export request --case N ... or --item ID --item ID ..."),
        )
    if not originals and not copies:
        originals, copies = default_contents(purpose)
    if case is not None:
        found = CaseOps(txn).case(case)
        ids = sorted({k.item_id for k in LinkOps(txn).links(found.id, live_only=True)})
        if not ids:
            raise UsageError(
                _("case {case} has no linked items").format(case=case),
                hint=_("Link recordings first: evidock case link {case} ITEM ...").format(
                    case=case
                ),
            )
    else:
        ids = sorted(set(items))
        for i in ids:
            txn.item(i)  # NotFound names the item
    now = ctx.clock()
    export = ExportOps(txn).add(case_number=case, items=ids, recipient=recipient.strip(),
                                purpose=purpose, originals=originals, copies=copies,
                                requested_by=actor, now=now)  # fmt: skip
    ctx.custody.append(txn, type=EventType.EXPORT_REQUESTED, actor=actor,
                       data=export_data(export))  # fmt: skip
    return export


def approve_export(
    txn: Transaction, ctx: Context, export_id: int, *, actor: str, person: Person | None
) -> Export:
    """``export_approved`` by a person holding the approver or custodian role."""
    check_approver(person, actor)
    ops = ExportOps(txn)
    export = ops.get(export_id)
    if export.approved_at is not None:
        raise ExportRefused(
            _("export #{export} is already approved by {approver}").format(
                export=export.id, approver=export.approved_by
            ),
            hint=_("Build it: evidock export build {export} --out DIR").format(export=export.id),
        )
    export = ops.approve(export_id, by=actor, now=ctx.clock())
    ctx.custody.append(txn, type=EventType.EXPORT_APPROVED, actor=actor,
                       data=export_data(export))  # fmt: skip
    return export


def check_approver(person: Person | None, actor: str) -> None:
    """Refuse anyone who is not a known, enabled person with an approving role (pure)."""
    if person is None:
        with i18n.speaking(i18n.SOURCE):
            recorded = _not_registered(actor)
        raise ApprovalDenied(
            _not_registered(actor),
            hint=_(
                "An admin registers you and grants a role: evidock person add ...; "
                "evidock person grant USER approver"
            ),
            recorded=recorded,
        )
    allowed = decide(person.roles, Action.APPROVE_EXPORT, Level.NONE, Relation.NONE).allowed
    if person.disabled or not allowed:  # the one rule table (ingest.access.roles)
        with i18n.speaking(i18n.SOURCE):
            recorded = _no_role(person)
        raise ApprovalDenied(
            _no_role(person),
            hint=_("Ask an approver or the evidence custodian to approve it."),
            recorded=recorded,
        )


def _not_registered(actor: str) -> str:
    return _("{actor} is not a registered person and cannot approve an export").format(actor=actor)


def _no_role(person: Person) -> str:
    held = ", ".join(sorted(person.roles)) or _("none")
    if person.disabled:
        why = _(
            "{name} ({username}) holds neither the approver nor the custodian role "
            "(roles: {roles}; disabled)"
        )
    else:
        why = _(
            "{name} ({username}) holds neither the approver nor the custodian role (roles: {roles})"
        )
    return why.format(name=person.name, username=person.username, roles=held)


def record_denied(
    txn: Transaction,
    ctx: Context,
    export_id: int,
    *,
    actor: str,
    person: Person | None,
    why: str,
) -> None:
    """``access_denied``: someone without the role tried to approve an export (Art. 29).
    ``why`` is recorded as it is: give ``ApprovalDenied.recorded`` (English), not its message."""
    ctx.custody.append(
        txn,
        type=EventType.ACCESS_DENIED,
        actor=actor,
        data={"person": None if person is None else person.username,
              "roles": [] if person is None else sorted(person.roles),
              "action": "approve-export", "export": export_id, "why": why},
    )  # fmt: skip


def export_data(export: Export) -> dict[str, Any]:
    """What the request and approval events record of an export."""
    return {
        "export": export.id,
        "case": export.case_number,
        "items": list(export.items),
        "recipient": export.recipient,
        "purpose": export.purpose,
        "originals": export.originals,
        "copies": export.copies,
    }
