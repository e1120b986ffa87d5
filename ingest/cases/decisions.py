"""Art. 32 internal approval, recorded step by step: the handler (承办人) proposes an opinion
with its reasons, the reviewer (审核人) reviews it, the approver (批准人) approves or rejects it.

Each step is a ``case_decision`` custody event naming the officer who decided, appended in the
transaction that adds its ``case_decision`` row; rows are never changed. A disagreement or a
rejection sends the case back to a new proposal; the earlier rounds stay in the chain.

``check_step`` and ``next_step`` are pure; ``record_decision`` is the thin writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
ROLES = {PROPOSE: "handler", REVIEW: "reviewer", APPROVE: "approver"}
_ROLE_ZH = {"handler": "承办人", "reviewer": "审核人", "approver": "批准人"}
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
    role = ROLES[step.step]
    who = f"{_ROLE_ZH[role]} {role}"
    if case.status == ARCHIVED:
        raise UsageError(f"case {case.number} is {label(STATUSES, case.status)}; "
                         "its approval is closed")  # fmt: skip
    expected = role_badge(case, step.step)
    if expected is None:
        raise UsageError(
            f"case {case.number} names no {who} (Art. 32)",
            hint="A simple-procedure case opened without one has no internal approval.",
        )
    if step.officer != expected:
        raise UsageError(
            f"{step.officer} is not the {who} of case {case.number}; the {role} is {expected}",
            hint=f"Act as the {role}: --as {expected}",
        )
    allowed = STEP_OUTCOMES[step.step]
    if step.outcome is None and allowed:
        raise UsageError(
            f"{label(DECISION_STEPS, step.step)} needs an outcome",
            hint=f"Add --outcome {' or '.join(allowed)}.",
        )
    if step.outcome is not None and step.outcome not in allowed:
        raise UsageError(
            f"{label(DECISION_STEPS, step.step)} cannot conclude {step.outcome!r}",
            hint=(f"Use --outcome {' or '.join(allowed)}." if allowed
                  else "A proposal takes no --outcome; give --opinion and --reasons."),
        )  # fmt: skip
    if not step.opinion.strip():
        raise UsageError("a decision needs its opinion (意见)", hint="Add --opinion TEXT.")
    if step.step == PROPOSE and not step.reasons.strip():
        raise UsageError(
            "the handler's proposal needs its reasons (理由, Art. 32)", hint="Add --reasons TEXT."
        )
    wanted = next_step(chain)
    if wanted is None:
        raise UsageError(
            f"case {case.number} is already approved; its chain is complete",
            hint=f"See it: evidock case show {case.number}",
        )
    if step.step != wanted:
        raise UsageError(
            f"case {case.number} waits for {label(DECISION_STEPS, wanted)}, not "
            f"{label(DECISION_STEPS, step.step)}",
            hint=f"Record the {wanted} step first: evidock case decide {case.number} "
            f"--step {wanted} ...",
        )


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
    """'待审核 awaiting review', '已批准 approved', ... for ``case show``."""
    wanted = next_step(chain)
    if wanted is None:
        return label(OUTCOMES, "approve")
    back = bool(chain) and chain[-1].outcome in BACK_TO_PROPOSAL
    waiting = {
        PROPOSE: "待承办人提出意见 awaiting the handler's proposal",
        REVIEW: "待审核 awaiting review",
        APPROVE: "待批准 awaiting approval",
    }[wanted]
    return waiting + (" (sent back 退回)" if back else "")
