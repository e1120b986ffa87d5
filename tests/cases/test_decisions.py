"""Art. 32 internal approval and Art. 4 stages as custody events, through the commands people
type, on SQLite and PostgreSQL; verify rebuilds both from the log and catches edited rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

import i18n
from ingest.cli.audit import verify_run
from ingest.context import Context
from ingest.errors import UsageError
from tests.cases.test_cases import CASE, Cli, _open_case

Found = tuple[str, str, str, str]


def _sql(ctx: Context, statement: str, **params: Any) -> list[Any]:
    with ctx.catalog.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def _problems(ctx: Context, *, case: str | None = None) -> list[Found]:
    report, _, _ = verify_run(ctx.settings, item=None, quick=True, case=case)
    return [(p.code, p.subject, p.expected, p.found) for p in report.problems]


def _decide(cli: Cli, step: str, badge: str, *extra: str) -> dict[str, Any]:
    code, out = cli("--json", "case", "decide", CASE, "--step", step, "--as", badge, *extra)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)["decision"]
    return doc


def _events(ctx: Context, type: str) -> list[tuple[str, dict[str, Any]]]:
    with ctx.catalog.read() as txn:
        return [(e.actor, json.loads(e.data)) for e in txn.log.events() if e.type == type]


def _approved(cli: Cli) -> None:
    """H1 proposes, R1 agrees, A1 approves."""
    _decide(cli, "propose", "H1", "--opinion", "罚款200元", "--reasons", "占道经营，证据确凿")
    _decide(cli, "review", "R1", "--outcome", "agree", "--opinion", "同意")
    _decide(cli, "approve", "A1", "--outcome", "approve", "--opinion", "批准")


def test_approval_chain_is_recorded_by_its_people_and_shown(ctx: Context, cli: Cli) -> None:
    """Proposal, review and approval are case_decision events naming their officer and role;
    case show lists the chain with the steps' names in the reader's language; verify agrees."""
    _open_case(ctx, cli)
    _approved(cli)
    events = _events(ctx, "case_decision")
    assert [(d["step"], d["outcome"], d["officer"], d["role"]) for _, d in events] == [
        ("propose", None, "H1", "handler"),
        ("review", "agree", "R1", "reviewer"),
        ("approve", "approve", "A1", "approver"),
    ]
    assert events[0][1]["reasons"] == "占道经营，证据确凿"
    assert all(actor.startswith("user:") for actor, _ in events)
    code, out = cli("case", "show", CASE)
    assert code == 0
    assert "(Art. 32): approved" in out
    assert "handler's proposal  by H1" in out
    assert "review agreed  by R1" in out
    assert "reasons: 占道经营，证据确凿" in out
    with i18n.speaking("zh"):
        _, out = cli("case", "show", CASE)
    assert "承办人提出意见" in out
    assert "审核人审核 同意" in out and "批准人批准 批准" in out
    doc = json.loads(cli("--json", "case", "show", CASE)[1])
    assert [d["step"] for d in doc["decisions"]] == ["propose", "review", "approve"]
    assert _problems(ctx) == [] and _problems(ctx, case=CASE) == []


def test_steps_out_of_order_or_by_the_wrong_officer_are_refused(ctx: Context, cli: Cli) -> None:
    """A review needs a proposal, an approval a review; only the case's reviewer reviews; a
    proposal needs reasons; an approved chain takes no more steps. Nothing is recorded."""
    _open_case(ctx, cli)
    with pytest.raises(UsageError, match="waits for handler's proposal"):
        _decide(cli, "review", "R1", "--outcome", "agree", "--opinion", "同意")
    with pytest.raises(UsageError, match="needs its reasons"):
        _decide(cli, "propose", "H1", "--opinion", "罚款")
    _decide(cli, "propose", "H1", "--opinion", "罚款", "--reasons", "事实清楚")
    with pytest.raises(UsageError, match="waits for review, not approval"):
        _decide(cli, "approve", "A1", "--outcome", "approve", "--opinion", "批准")
    with pytest.raises(UsageError, match="H1 is not the reviewer of case") as err:
        _decide(cli, "review", "H1", "--outcome", "agree", "--opinion", "同意")
    assert err.value.hint == "Act as the reviewer: --as R1"
    with pytest.raises(UsageError, match="needs an outcome"):
        _decide(cli, "review", "R1", "--opinion", "同意")
    with pytest.raises(UsageError, match="cannot conclude 'approve'"):
        _decide(cli, "review", "R1", "--outcome", "approve", "--opinion", "同意")
    _decide(cli, "review", "R1", "--outcome", "agree", "--opinion", "同意")
    _decide(cli, "approve", "A1", "--outcome", "approve", "--opinion", "批准")
    with pytest.raises(UsageError, match="already approved"):
        _decide(cli, "propose", "H1", "--opinion", "再议", "--reasons", "x")
    assert len(_events(ctx, "case_decision")) == 3
    assert _problems(ctx) == []


def test_disagreement_and_rejection_send_the_case_back_keeping_the_history(
    ctx: Context, cli: Cli
) -> None:
    """Disagree -> a new proposal; reject -> a new proposal; the earlier rounds stay."""
    _open_case(ctx, cli)
    _decide(cli, "propose", "H1", "--opinion", "罚款500元", "--reasons", "r1")
    _decide(cli, "review", "R1", "--outcome", "disagree", "--opinion", "过重")
    with pytest.raises(UsageError, match="waits for handler's proposal"):
        _decide(cli, "approve", "A1", "--outcome", "approve", "--opinion", "批准")
    _decide(cli, "propose", "H1", "--opinion", "罚款200元", "--reasons", "r2")
    _decide(cli, "review", "R1", "--outcome", "agree", "--opinion", "同意")
    _decide(cli, "approve", "A1", "--outcome", "reject", "--opinion", "证据不足")
    _, out = cli("case", "show", CASE)
    assert "awaiting the handler's proposal (sent back)" in out
    with i18n.speaking("zh"):
        _, out = cli("case", "show", CASE)
    assert "待承办人提出意见（已退回）" in out
    _approved(cli)
    doc = json.loads(cli("--json", "case", "show", CASE)[1])
    assert [(d["step"], d["outcome"]) for d in doc["decisions"]] == [
        ("propose", None), ("review", "disagree"), ("propose", None), ("review", "agree"),
        ("approve", "reject"), ("propose", None), ("review", "agree"), ("approve", "approve"),
    ]  # fmt: skip
    assert _problems(ctx) == []


def test_a_step_refused_is_explained_in_chinese_to_a_chinese_reader(ctx: Context, cli: Cli) -> None:
    """The wrong officer, a step out of order, a stage moved back without a reason: under zh
    each refusal says in Chinese what is wrong and what to do; nothing is recorded."""
    _open_case(ctx, cli)
    with i18n.speaking("zh"):
        with pytest.raises(UsageError) as wrong:
            _decide(cli, "review", "H1", "--outcome", "agree", "--opinion", "同意")
        _decide(cli, "propose", "H1", "--opinion", "罚款", "--reasons", "事实清楚")
        with pytest.raises(UsageError) as early:
            _decide(cli, "approve", "A1", "--outcome", "approve", "--opinion", "批准")
        assert cli("case", "stage", CASE, "decision")[0] == 0
        with pytest.raises(UsageError) as back:
            cli("case", "stage", CASE, "investigation")
    assert str(wrong.value) == f"H1 不是案件 {CASE} 的审核人；审核人为 R1"
    assert wrong.value.hint == "请以审核人身份操作：--as R1"
    assert str(early.value) == f"案件 {CASE} 当前应进行“审核人审核”，而不是“批准人批准”"
    assert early.value.hint == (
        f"请先记录“审核人审核”步骤：evidock case decide {CASE} --step review ..."
    )
    assert str(back.value) == f"案件 {CASE} 将从“审查决定”回退到“调查取证”；阶段只能向前推进"
    assert back.value.hint == "请说明回退原因：--reason 原因（记入保管链日志）。"
    assert len(_events(ctx, "case_decision")) == 1


def test_edited_forged_or_deleted_decision_rows_are_caught(ctx: Context, cli: Cli) -> None:
    """A decision row whose outcome is rewritten (a rejection made an approval), one forged
    with SQL and one deleted: decision-mismatch, decision-unlogged, decision-missing."""
    _open_case(ctx, cli)
    _decide(cli, "propose", "H1", "--opinion", "罚款", "--reasons", "r")
    _decide(cli, "review", "R1", "--outcome", "agree", "--opinion", "同意")
    review = _decide(cli, "approve", "A1", "--outcome", "reject", "--opinion", "不批准")
    seq = review["event"]
    _sql(ctx, "UPDATE case_decision SET outcome = 'approve' WHERE event_seq = :s", s=seq)
    expected = [("decision-mismatch", f"decision of event #{seq}, field outcome",
                 "'reject' (custody log)", "'approve' (catalog)")]  # fmt: skip
    assert _problems(ctx) == expected
    assert _problems(ctx, case=CASE) == expected
    _sql(ctx, "UPDATE case_decision SET outcome = 'reject' WHERE event_seq = :s", s=seq)
    _sql(ctx, "INSERT INTO case_decision (case_id, step, outcome, officer_id, opinion, reasons, "
              "decided_at, decided_by, event_seq) SELECT c.case_id, 'approve', 'approve', "
              "c.officer_id, 'forged', '', c.decided_at, 'user:x', 1 FROM case_decision c "
              "WHERE c.event_seq = :s", s=seq)  # fmt: skip
    [(code, subject, _, _)] = _problems(ctx, case=CASE)
    assert (code, subject) == ("decision-unlogged",
                               "decision of event #1: no custody event records it")  # fmt: skip
    _sql(ctx, "DELETE FROM case_decision WHERE event_seq IN (1, :s)", s=seq)
    [(code, subject, _, found)] = _problems(ctx)
    assert (code, subject, found) == (
        "decision-missing",
        f"decision of event #{seq}: its row is gone from the catalog",
        "no row",
    )


def test_stage_moves_forward_and_back_only_with_a_reason(ctx: Context, cli: Cli) -> None:
    """A case opens at initiation; it moves forward freely (skipping is fine), back only with
    a reason; each move is a case_stage_changed event with from, to, at and actor."""
    _open_case(ctx, cli)
    doc = json.loads(cli("--json", "case", "show", CASE)[1])
    assert doc["case"]["stage"] == "initiation"
    assert cli("case", "stage", CASE, "investigation")[0] == 0
    assert cli("case", "stage", CASE, "审查决定")[0] == 0
    with pytest.raises(UsageError, match="would move back") as err:
        cli("case", "stage", CASE, "investigation")
    assert "--reason" in err.value.hint
    with pytest.raises(UsageError, match="already at"):
        cli("case", "stage", CASE, "decision")
    assert cli("case", "stage", CASE, "investigation", "--reason", "补充调查")[0] == 0
    assert cli("case", "stage", CASE, "execution")[0] == 0
    moves = [(d["from"], d["to"], d["reason"]) for _, d in _events(ctx, "case_stage_changed")]
    assert moves == [
        ("initiation", "investigation", None),
        ("investigation", "decision", None),
        ("decision", "investigation", "补充调查"),
        ("investigation", "execution", None),
    ]
    _, out = cli("case", "show", CASE)
    assert "stage service and execution" in out
    assert _problems(ctx) == []


def test_edited_stage_of_a_case_is_caught(ctx: Context, cli: Cli) -> None:
    """The stage column rewritten behind evidock's back: case-mismatch on stage."""
    _open_case(ctx, cli)
    with pytest.raises(UsageError, match="before the case opened"):
        cli("case", "stage", CASE, "investigation", "--at",
            (datetime.now(UTC) - timedelta(days=1)).isoformat())  # fmt: skip
    assert cli("case", "stage", CASE, "investigation")[0] == 0
    _sql(ctx, "UPDATE enforcement_case SET stage = 'archiving'")
    expected = [("case-mismatch", f"case {CASE}, field stage", "'investigation' (custody log)",
                 "'archiving' (catalog)")]  # fmt: skip
    assert _problems(ctx) == expected
    assert _problems(ctx, case=CASE) == expected
