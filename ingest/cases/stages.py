"""A case's current stage (Art. 4: initiation, investigation, decision, execution, archiving).

Stages move forward (a stage may be skipped); moving back is allowed only with a reason
written down. Each change is a ``case_stage_changed`` event (from, to, at,
reason, actor) in the transaction that updates the case row. ``check_stage`` is pure.
"""

from __future__ import annotations

from datetime import datetime

from i18n import _
from ingest.cases.vocab import STAGES, STATUSES, label
from ingest.context import Context
from ingest.errors import UsageError
from storage.catalog.caserecords import Case
from storage.catalog.cases import ARCHIVED, CaseOps
from storage.catalog.session import Transaction
from verify.log.events import EventType, data_time

ORDER = tuple(STAGES)


def check_stage(case: Case, to: str, *, at: datetime, now: datetime, reason: str) -> None:
    """Refuse a change to the same stage, a change back without a reason, or a bad time."""
    if case.status == ARCHIVED:
        raise UsageError(
            _("case {number} is {status}; its stage stays as it was archived").format(
                number=case.number, status=label(STATUSES, case.status)
            )
        )
    if to == case.stage:
        raise UsageError(
            _("case {number} is already at {stage}").format(
                number=case.number, stage=label(STAGES, to)
            )
        )
    backward = case.stage in ORDER and ORDER.index(to) < ORDER.index(case.stage)
    if backward and not reason.strip():
        raise UsageError(
            _("case {number} would move back from {stage} to {to}; stages move forward").format(
                number=case.number, stage=label(STAGES, case.stage), to=label(STAGES, to)
            ),
            hint=_("Say why it goes back: --reason TEXT (recorded in the custody log)."),
        )
    if at > now:
        raise UsageError(_("a stage cannot change in the future"), hint=_("Give a past --at."))
    if at < case.opened_at:
        raise UsageError(_("a stage cannot change before the case opened"), hint=_("Check --at."))


def change_stage(txn: Transaction, ctx: Context, case: Case, to: str, *, at: datetime,
                 reason: str, actor: str) -> Case:  # fmt: skip
    """Check and record the change: the event, then the case row."""
    check_stage(case, to, at=at, now=ctx.clock(), reason=reason)
    ctx.custody.append(
        txn,
        type=EventType.CASE_STAGE_CHANGED,
        actor=actor,
        data={"case": case.number, "from": case.stage, "to": to, "at": data_time(at),
              "reason": reason or None},
    )  # fmt: skip
    return CaseOps(txn).set_stage(case.number, to)
