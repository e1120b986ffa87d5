"""Every compliance fact is in the custody log: an edit of a catalog row fails verify (issue 14).

Each test files a small scenario (two late recordings, one excused, a fresh one linked to an
open case), edits one row with plain SQL behind evidock's back, and checks the problem verify
reports: its code, the item or case, the field, the value from the log and the value found.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ingest.cases.agreement import CatalogDisagrees
from ingest.cases.decisions import Step, next_step, record_decision, role_badge
from ingest.cases.lifecycle import log_case
from ingest.cases.links import link_items, unlink_item
from ingest.cases.offload import excuse
from ingest.cases.stages import change_stage
from ingest.cases.vocab import STAGES
from ingest.cli.audit import verify_run
from ingest.context import Context
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from storage.catalog.decisions import DecisionOps
from storage.catalog.facts import text_time
from tests.cases.conftest import Clip, at, dock, lay_out, register

CASE = "凤里执罚〔2026〕7号"


@dataclass(frozen=True)
class Filed:
    late: int  # recorded 30 h ago, flagged late, not excused
    excused: int  # recorded 30 h ago, flagged late, excused by user:chief
    fresh: int  # recorded 1 h ago, linked to CASE
    officer: str


def _sql(ctx: Context, statement: str, **params: Any) -> list[Any]:
    with ctx.catalog.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _open_case(ctx: Context, number: str, handler: str) -> None:
    with ctx.catalog.write() as txn:
        case = CaseOps(txn).add_case(
            NewCase(number=number, title="占道经营", enforcement_type="penalty",
                    procedure="general", handler=handler, reviewer="J2", approver="J3",
                    confidentiality="none", opened_at=ctx.clock() - timedelta(hours=2),
                    opened_by="user:handler")
        )  # fmt: skip
        log_case(txn, ctx, case, "case_opened")


@pytest.fixture
def filed(ctx: Context, clips: dict[str, Clip], tmp_path: Path) -> Filed:
    register(ctx, badge="J1", serial="BWC-1")
    register(ctx, badge="J2")
    register(ctx, badge="J3")
    cam = lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"]), ("REC_2.MP4", clips["old2"]),
                  ("REC_3.MP4", clips["fresh"]))  # fmt: skip
    _, hook = dock(ctx, cam, "BWC-1")
    late, excused = sorted(hook.late)
    [fresh] = [r[0] for r in _sql(ctx, "SELECT id FROM evidence_item") if r[0] not in hook.late]
    excuse(ctx, item_ids=[excused], reason="field work", returned_at=None, actor="user:chief")
    _open_case(ctx, CASE, "J1")
    link_items(ctx, number=CASE, item_ids=[fresh], stage="investigation", activity_id=None,
               why="seen on the clip", actor="user:handler")  # fmt: skip
    return Filed(late=late, excused=excused, fresh=fresh, officer="J1")


Found = tuple[str, str, str, str]


def _problems(ctx: Context, *, item: int | None = None, case: str | None = None) -> list[Found]:
    report, _, _ = verify_run(ctx.settings, item=item, quick=True, case=case)
    return [(p.code, p.subject, p.expected, p.found) for p in report.problems]


def test_filed_scenario_verifies_clean(ctx: Context, filed: Filed) -> None:
    """Docking, late flags, an excuse, a case and a link leave a catalog that agrees."""
    assert _problems(ctx) == []
    assert _problems(ctx, item=filed.late) == []
    assert _problems(ctx, case=CASE) == []


@pytest.mark.parametrize(
    ("column", "field", "new"),
    [
        ("recorded_start", "recorded_start", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("recorded_end", "recorded_end", datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC)),
        ("durable_at", "durable_at", datetime(2026, 1, 2, 3, 5, 0, tzinfo=UTC)),
        ("state", "state", "pending"),
        ("time_source", "time_source", "file-mtime"),
    ],
)
def test_edited_item_fact_is_caught_with_its_field_and_values(
    ctx: Context, filed: Filed, column: str, field: str, new: object
) -> None:
    """An item's recorded start/end, durable_at, state or time source edited: item-fact-mismatch
    naming the item, the field, the logged value and the edited one."""
    [(old,)] = _sql(ctx, f"SELECT {column} FROM evidence_item WHERE id = :i", i=filed.late)
    stored = _naive(new) if isinstance(new, datetime) else new
    _sql(ctx, f"UPDATE evidence_item SET {column} = :v WHERE id = :i", v=stored, i=filed.late)
    want = text_time(old) if isinstance(new, datetime) else old
    got = text_time(new) if isinstance(new, datetime) else new
    expected = ("item-fact-mismatch", f"item #{filed.late}, field {field}",
                f"{want!r} (custody log)", f"{got!r} (catalog)")  # fmt: skip
    found = _problems(ctx)
    assert expected in found
    assert expected in _problems(ctx, item=filed.late)


def test_edited_officer_of_an_item_is_caught(ctx: Context, filed: Filed) -> None:
    """officer_id pointed at another officer: the log's officer J1 against the catalog's J2."""
    _sql(ctx, "UPDATE evidence_item SET officer_id = (SELECT id FROM officer WHERE badge = 'J2') "
              "WHERE id = :i", i=filed.late)  # fmt: skip
    assert _problems(ctx) == [
        ("item-fact-mismatch", f"item #{filed.late}, field officer", "'J1' (custody log)",
         "'J2' (catalog)"),
    ]  # fmt: skip


def test_offload_row_edited_so_the_late_item_disappears_is_caught(
    ctx: Context, filed: Filed, cli: Callable[..., tuple[int, str]]
) -> None:
    """delay_s lowered: the late item vanishes from overdue, verify names the field, and
    overdue --fail-on-overdue refuses to report (exit 1)."""
    [(delay,)] = _sql(ctx, "SELECT delay_s FROM offload_check WHERE item_id = :i", i=filed.late)
    _sql(ctx, "UPDATE offload_check SET delay_s = 60 WHERE item_id = :i", i=filed.late)
    assert _problems(ctx) == [
        ("offload-mismatch", f"offload check of item #{filed.late}, field delay_s",
         f"'{round(delay, 3):.3f}' (custody log)", "'60.000' (catalog)"),
    ]  # fmt: skip
    with pytest.raises(CatalogDisagrees) as refused:
        cli("overdue", "--fail-on-overdue")
    assert refused.value.exit_code == 1
    assert str(refused.value) == (
        "the catalog disagrees with its custody log for the items of this report: "
        f"[offload-mismatch] offload check of item #{filed.late}, field delay_s: expected "
        f"'{round(delay, 3):.3f}' (custody log), found '60.000' (catalog)"
    )


def test_offload_row_deleted_is_caught(ctx: Context, filed: Filed) -> None:
    """The measurement row of a late item deleted: its late flag is still in the log."""
    _sql(ctx, "DELETE FROM offload_check WHERE item_id = :i", i=filed.late)
    [(code, subject, _, found)] = _problems(ctx)
    assert (code, subject, found) == (
        "offload-mismatch",
        f"offload check of item #{filed.late}: its row is gone from the catalog",
        "no row",
    )


def test_forged_excuse_row_is_caught(ctx: Context, filed: Filed) -> None:
    """An excuse row no 'excused' event records: excuse-unlogged, with what the row claims."""
    _sql(ctx, "INSERT INTO offload_excuse (item_id, reason, granted_by, granted_at, event_seq) "
              "VALUES (:i, 'forged', 'user:chief', :t, 3)",
         i=filed.late, t=datetime(2026, 12, 1, 8, 0))  # fmt: skip
    assert _problems(ctx) == [
        ("excuse-unlogged", "excuse of event #3: no custody event records it",
         "no such row (the log has none)",
         f"item='{filed.late}', reason='forged', granted_by='user:chief', "
         "granted_at='2026-12-01T08:00:00.000000+00:00'"),
    ]  # fmt: skip


def test_edited_excuse_row_is_caught(ctx: Context, filed: Filed) -> None:
    """The grantor of a real excuse rewritten: excuse-mismatch on granted_by."""
    _sql(ctx, "UPDATE offload_excuse SET granted_by = 'user:nobody'")
    [(code, subject, expected, found)] = _problems(ctx)
    assert code == "excuse-mismatch" and subject.endswith(", field granted_by")
    assert (expected, found) == ("'user:chief' (custody log)", "'user:nobody' (catalog)")


def test_forged_case_link_is_caught(ctx: Context, filed: Filed) -> None:
    """A link row no 'linked' event records (an A/V gap would vanish): link-unlogged, also by
    verify --case and verify --item."""
    _sql(ctx, "INSERT INTO case_link (case_id, item_id, stage, how, why, linked_by, linked_at, "
              "linked_seq, retired) SELECT id, :i, 'investigation', 'manual', '', 'user:x', :t, "
              "2, 0 FROM enforcement_case",
         i=filed.late, t=datetime(2026, 12, 1, 8, 0))  # fmt: skip
    for found in (_problems(ctx), _problems(ctx, case=CASE), _problems(ctx, item=filed.late)):
        assert [(c, s) for c, s, _, _ in found] == [
            ("link-unlogged", "case link of event #2: no custody event records it")
        ]


def test_edited_case_link_stage_is_caught(ctx: Context, filed: Filed) -> None:
    """A real link moved to another stage: link-mismatch on stage."""
    _sql(ctx, "UPDATE case_link SET stage = 'decision'")
    [(code, subject, expected, found)] = _problems(ctx, case=CASE)
    assert code == "link-mismatch" and subject.endswith(", field stage")
    assert (expected, found) == ("'investigation' (custody log)", "'decision' (catalog)")


def test_verify_case_command_reports_the_case_problems_as_json(
    ctx: Context, filed: Filed, cli: Callable[..., tuple[int, str]]
) -> None:
    """'evidock --json verify --case N' exits 1 with the link problem and names the case."""
    _sql(ctx, "UPDATE case_link SET why = 'edited'")
    code, out = cli("--json", "verify", "--quick", "--case", CASE)
    doc = json.loads(out)
    assert code == 1 and doc["checked"]["case"] == CASE
    assert [(p["code"], p["expected"], p["found"]) for p in doc["problems"]] == [
        ("link-mismatch", "'seen on the clip' (custody log)", "'edited' (catalog)")
    ]


def test_edited_case_row_is_caught(ctx: Context, filed: Filed) -> None:
    """A case marked archived and its handler swapped in the catalog: case-mismatch per field."""
    _sql(ctx, "UPDATE enforcement_case SET status = 'archived', "
              "handler_id = (SELECT id FROM officer WHERE badge = 'J2')")  # fmt: skip
    expected = [
        ("case-mismatch", f"case {CASE}, field status", "'open' (custody log)",
         "'archived' (catalog)"),
        ("case-mismatch", f"case {CASE}, field handler", "'J1' (custody log)",
         "'J2' (catalog)"),
    ]  # fmt: skip
    assert sorted(_problems(ctx)) == sorted(expected)
    assert sorted(_problems(ctx, case=CASE)) == sorted(expected)


def test_edited_device_assignment_is_caught(
    ctx: Context, cli: Callable[..., tuple[int, str]]
) -> None:
    """A device registered and handed over by the CLI (both events): its assignment rewritten
    to another officer is a device-mismatch listing the logged and the found holders."""
    register(ctx, badge="J1")
    register(ctx, badge="J2")
    assert cli("device", "add", "BWC-9", "--officer", "J1")[0] == 0
    assert _problems(ctx) == []
    [(start,)] = _sql(ctx, "SELECT start_at FROM device_assignment")
    _sql(ctx, "UPDATE device_assignment SET officer_id = (SELECT id FROM officer WHERE "
              "badge = 'J2')")  # fmt: skip
    when = text_time(start)
    assert _problems(ctx) == [
        ("device-mismatch", "device BWC-9, field assignments",
         f"'J1 from {when} to now' (custody log)", f"'J2 from {when} to now' (catalog)"),
    ]  # fmt: skip


def test_edited_activity_window_is_caught(
    ctx: Context, filed: Filed, cli: Callable[..., tuple[int, str]]
) -> None:
    """An activity added by the CLI (activity_added) whose end is moved in the catalog, which
    would shrink an A/V gap: activity-mismatch on end_at, also by verify --case."""
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    code, _ = cli("case", "activity", "add", CASE, "--type", "on-site-inspection",
                  "--officer", "J1", "--from", at(start),
                  "--to", at(start + timedelta(hours=1)))  # fmt: skip
    assert code == 0 and _problems(ctx) == []
    [(activity,)] = _sql(ctx, "SELECT id FROM case_activity")
    _sql(ctx, "UPDATE case_activity SET end_at = :t", t=_naive(start + timedelta(minutes=5)))
    expected = [
        ("activity-mismatch", f"activity {activity}, field end_at",
         "'2026-11-26T10:00:00.000000+00:00' (custody log)",
         "'2026-11-26T09:05:00.000000+00:00' (catalog)"),
    ]  # fmt: skip
    assert _problems(ctx) == expected
    assert _problems(ctx, case=CASE) == expected


# -- random histories, one random edit ---------------------------------------------------------

# (table, key column, column, how to change it); each changes a field a report uses
_EDITS: list[tuple[str, str, str, str]] = [
    ("evidence_item", "id", "recorded_start", "time"),
    ("evidence_item", "id", "recorded_end", "time"),
    ("evidence_item", "id", "durable_at", "time"),
    ("evidence_item", "id", "state", "state"),
    ("evidence_item", "id", "officer_id", "officer"),
    ("offload_check", "item_id", "delay_s", "number"),
    ("offload_check", "item_id", "reference_end", "time"),
    ("offload_check", "item_id", "late_flag_seq", "null"),
    ("offload_excuse", "id", "reason", "text"),
    ("offload_excuse", "id", "returned_at", "time"),
    ("offload_excuse", "id", "granted_by", "text"),
    ("case_link", "id", "stage", "text"),
    ("case_link", "id", "why", "text"),
    ("case_link", "id", "linked_by", "text"),
    ("case_link", "id", "retired", "retired"),
    ("enforcement_case", "id", "status", "text"),
    ("enforcement_case", "id", "procedure", "text"),
    ("enforcement_case", "id", "closed_at", "time"),
    ("enforcement_case", "id", "stage", "text"),
    ("case_decision", "id", "outcome", "text"),
    ("case_decision", "id", "opinion", "text"),
    ("case_decision", "id", "officer_id", "officer"),
    ("case_decision", "id", "decided_at", "time"),
]


def _rows(ctx: Context, table: str, key: str, column: str) -> list[tuple[Any, Any]]:
    where = " WHERE late_flag_seq IS NOT NULL" if table == "offload_check" else ""
    return [(r[0], r[1]) for r in _sql(ctx, f"SELECT {key}, {column} FROM {table}{where} "
                                            f"ORDER BY {key}")]  # fmt: skip


def _changed(kind: str, old: Any, key: Any, delta: int, ctx: Context) -> Any:
    match kind:
        case "time":
            base = old if isinstance(old, datetime) else datetime(2026, 12, 1, 8, 0)
            return base + timedelta(seconds=delta)
        case "state":
            return "pending" if old == "stored" else "stored"
        case "officer":
            ids = [r[0] for r in _sql(ctx, "SELECT id FROM officer ORDER BY id")]
            return next(i for i in ids if i != old)
        case "number":
            return (old or 0) - delta
        case "null":
            return None
        case "retired":
            return 0 if old else key
        case _:
            return f"{old or ''}~{delta}"


def _op(ctx: Context, filed: Filed, op: tuple[str, int], n: int) -> None:
    """One step of a history; steps that evidock refuses are skipped (that is not the test)."""
    what, pick = op
    items = [filed.late, filed.excused, filed.fresh]
    item = items[pick % 3]
    try:
        match what:
            case "link":
                link_items(ctx, number=CASE, item_ids=[item], stage="investigation",
                           activity_id=None, why=f"step {n}", actor="user:handler")  # fmt: skip
            case "unlink":
                unlink_item(ctx, number=CASE, item_id=item, reason=f"step {n}",
                            actor="user:handler")  # fmt: skip
            case "excuse":
                excuse(ctx, item_ids=[filed.late], reason=f"step {n}", returned_at=None,
                       actor="user:chief")  # fmt: skip
            case "decide":
                _decide(ctx, pick, n)
            case "stage":
                with ctx.catalog.write() as txn:
                    case = CaseOps(txn).case(CASE)
                    to = list(STAGES)[pick % len(STAGES)]
                    change_stage(txn, ctx, case, to, at=ctx.clock(), reason=f"step {n}",
                                 actor="user:handler")  # fmt: skip
            case "case":
                number = f"2026-H{n}-{pick}"
                _open_case(ctx, number, "J1")
                if pick % 2:
                    with ctx.catalog.write() as txn:
                        now = ctx.clock()
                        closed = CaseOps(txn).close_case(number, at=now, by="user:handler",
                                                         due=now + timedelta(days=30))  # fmt: skip
                        log_case(txn, ctx, closed, "case_closed")
    except Exception as e:
        if type(e).__name__ not in ("UsageError", "AlreadyExists"):
            raise


def _decide(ctx: Context, pick: int, n: int) -> None:
    """The next step of CASE's approval by the officer in its role; odd picks send it back."""
    with ctx.catalog.write() as txn:
        case = CaseOps(txn).case(CASE)
        step = next_step(DecisionOps(txn).decisions(case.id)) or "propose"
        outcome = {"propose": None, "review": ("agree", "disagree")[pick % 2],
                   "approve": ("approve", "reject")[pick % 2]}[step]  # fmt: skip
        record_decision(txn, ctx, case, Step(step=step, outcome=outcome,
                                             officer=role_badge(case, step) or "",
                                             opinion=f"step {n}", reasons="r"),
                        actor="user:handler")  # fmt: skip


_histories = st.lists(
    st.tuples(st.sampled_from(["link", "unlink", "excuse", "case", "decide", "stage"]),
              st.integers(0, 5)),
    max_size=5,
)  # fmt: skip


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(history=_histories, edit=st.sampled_from(_EDITS), which=st.integers(0, 50),
       delta=st.integers(1, 10 * 86400))  # fmt: skip
def test_any_single_field_edit_after_a_random_history_is_caught(
    ctx: Context,
    filed: Filed,
    history: list[tuple[str, int]],
    edit: tuple[str, str, str, str],
    which: int,
    delta: int,
) -> None:
    """After random linking, unlinking, excusing, case opening/closing, approval steps and
    stage changes the catalog agrees with its log; then any one edit of a report field fails
    verify (and is undone)."""
    for n, op in enumerate(history):
        _op(ctx, filed, op, n)
    assert _problems(ctx) == []
    table, key, column, kind = edit
    rows = _rows(ctx, table, key, column)
    if not rows:
        return
    row_key, old = rows[which % len(rows)]
    new = _changed(kind, old, row_key, delta, ctx)
    stored = _naive(new) if isinstance(new, datetime) and new.tzinfo else new
    update = f"UPDATE {table} SET {column} = :v WHERE {key} = :k"
    try:
        _sql(ctx, update, v=stored, k=row_key)
    except IntegrityError:
        return  # the database itself refuses this edit (a second live link of the item)
    try:
        found = _problems(ctx)
        assert found, f"{table}.{column} of {row_key}: {old!r} -> {new!r} passed verify"
    finally:
        restored = _naive(old) if isinstance(old, datetime) and old.tzinfo else old
        _sql(ctx, update, v=restored, k=row_key)
