"""Art. 32 internal approval, recorded step by step: the handler (承办人) proposes an opinion
with its reasons, the reviewer (审核人) reviews it, the approver (批准人) approves or rejects it.
Roles and steps are stored by their English codes; people read them in their language.

Each step is a ``case_decision`` custody event naming the officer who decided, appended in the
transaction that adds its ``case_decision`` row; rows are never changed. A disagreement or a
rejection sends the case back to a new proposal; the earlier rounds stay in the chain.

``check_step`` and ``next_step`` are pure; ``record_decision`` is the thin writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from i18n import N_, _
from ingest.cases.vocab import DECISION_STEPS, OUTCOMES, STATUSES, label
from ingest.context import Context
from ingest.errors import UsageError
from storage.catalog.caserecords import Case, Decision, NewDecision
from storage.catalog.cases import ARCHIVED
from storage.catalog.decisions import DecisionOps
from storage.catalog.session import Transaction
from verify.log.events import EventType, data_time

PROPOSE, REVIEW, APPROVE = "propose", "review", "approve"
# what each step may conclude; a proposal concludes nothing
STEP_OUTCOMES: dict[str, tuple[str, ...]] = {
    PROPOSE: (),
    REVIEW: ("agree", "disagree"),
    APPROVE: ("approve", "reject"),
}
ROLES = {PROPOSE: "handler", REVIEW: "reviewer", APPROVE: "approver"}  # codes, in the events
ROLE_NAMES = {"handler": N_("handler"), "reviewer": N_("reviewer"), "approver": N_("approver")}
"""What people call each role (N_-marked: shown with ``_()``)."""
_WAITING = {
    PROPOSE: N_("awaiting the handler's proposal"),
    REVIEW: N_("awaiting review"),
    APPROVE: N_("awaiting approval"),
}
BACK_TO_PROPOSAL = frozenset({"disagree", "reject"})


def next_step(chain: Sequence[Decision]) -> str | None:
    """The step the case waits for; None once it is approved."""
    if not chain:
        return PROPOSE
    last = chain[-1]
    if last.outcome in BACK_TO_PROPOSAL:
        return PROPOSE
    if last.step == PROPOSE:
        return REVIEW
    if last.step == REVIEW:
        return APPROVE
    return None  # approved


def role_badge(case: Case, step: str) -> str | None:
    """The badge of the officer the case names for ``step``."""
    return {PROPOSE: case.handler, REVIEW: case.reviewer, APPROVE: case.approver}[step]


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """A step as typed, checked: who may take it, with what outcome."""

    step: str
    outcome: str | None
    officer: str
    opinion: str
    reasons: str


def check_step(case: Case, chain: Sequence[Decision], step: Step) -> None:
    """Refuse a step out of order, by an officer not in the role, or with a wrong outcome."""
    who = _(ROLE_NAMES[ROLES[step.step]])
    number, this = case.number, label(DECISION_STEPS, step.step)
    if case.status == ARCHIVED:
        raise UsageError(
            _("case {number} is {status}; its approval is closed").format(
                number=number, status=label(STATUSES, case.status)
            )
        )
    expected = role_badge(case, step.step)
    if expected is None:
        raise UsageError(
            _("case {number} names no {role} (Art. 32)").format(number=number, role=who),
            hint=_("A simple-procedure case opened without one has no internal approval."),
        )
    if step.officer != expected:
        raise UsageError(
            _("{officer} is not the {role} of case {number}; the {role} is {expected}").format(
                officer=step.officer, role=who, number=number, expected=expected
            ),
            hint=_("Act as the {role}: --as {expected}").format(role=who, expected=expected),
        )
    allowed = STEP_OUTCOMES[step.step]
    if step.outcome is None and allowed:
        raise UsageError(
            _("{step} needs an outcome").format(step=this),
            hint=_("Add --outcome {choices}.").format(choices=_either(allowed)),
        )
    if step.outcome is not None and step.outcome not in allowed:
        raise UsageError(
            _("{step} cannot conclude {outcome}").format(step=this, outcome=repr(step.outcome)),
            hint=(_("Use --outcome {choices}.").format(choices=_either(allowed)) if allowed
                  else _("A proposal takes no --outcome; give --opinion and --reasons.")),
        )  # fmt: skip
    if not step.opinion.strip():
        raise UsageError(_("a decision needs its opinion"), hint=_("Add --opinion TEXT."))
    if step.step == PROPOSE and not step.reasons.strip():
        raise UsageError(
            _("the handler's proposal needs its reasons (Art. 32)"), hint=_("Add --reasons TEXT.")
        )
    wanted = next_step(chain)
    if wanted is None:
        raise UsageError(
            _("case {number} is already approved; its chain is complete").format(number=number),
            hint=_("See it: evidock case show {number}").format(number=number),
        )
    if step.step != wanted:
        raise UsageError(
            _("case {number} waits for {wanted}, not {step}").format(
                number=number, wanted=label(DECISION_STEPS, wanted), step=this
            ),
            hint=_(
                "Record the {wanted} step first: evidock case decide {number} --step {code} ..."
            ).format(wanted=label(DECISION_STEPS, wanted), number=number, code=wanted),
        )


def _either(codes: tuple[str, ...]) -> str:
    """'agree or disagree': the outcomes a step may conclude, as typed."""
    *first, last = codes
    if not first:
        return last
    return _("{first} or {last}").format(first=", ".join(first), last=last)


def record_decision(txn: Transaction, ctx: Context, case: Case, step: Step, *, actor: str
                    ) -> Decision:  # fmt: skip
    """Check ``step`` against the chain of ``case`` and record it: event, then row."""
    ops = DecisionOps(txn)
    check_step(case, ops.decisions(case.id), step)
    now = ctx.clock()
    ev = ctx.custody.append(
        txn,
        type=EventType.CASE_DECISION,
        actor=actor,
        data={"case": case.number, "step": step.step, "outcome": step.outcome,
              "officer": step.officer, "role": ROLES[step.step], "opinion": step.opinion,
              "reasons": step.reasons, "decided_at": data_time(now)},
    )  # fmt: skip
    return ops.add(
        NewDecision(case_id=case.id, step=step.step, outcome=step.outcome, officer=step.officer,
                    opinion=step.opinion, reasons=step.reasons, decided_at=now,
                    decided_by=actor, event_seq=ev.seq)
    )  # fmt: skip


def chain_state(chain: Sequence[Decision]) -> str:
    """'awaiting review', 'approved', ... for ``case show``, in the reader's language."""
    wanted = next_step(chain)
    if wanted is None:
        return label(OUTCOMES, "approve")
    waiting = _(_WAITING[wanted])
    if chain and chain[-1].outcome in BACK_TO_PROPOSAL:
        return _("{state} (sent back)").format(state=waiting)
    return waiting
