"""A catalog row that no custody event registers (inserted with SQL behind evidock's back) is
a problem of its own class: an officer, a device, an activity or a case (issue 14)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from ingest.cli.audit import verify_run
from ingest.context import Context
from tests.cases.test_cases import CASE, Cli, _open_case

T = datetime(2026, 12, 1, 8, 0)  # naive UTC, as the catalog stores times

_ROWS: dict[str, tuple[str, str, str]] = {
    # class: (INSERT, the problem code, its subject)
    "officer": (
        "INSERT INTO officer (badge, name, unit, certificate_no, created_at) "
        "VALUES ('X9', 'nobody', '', '', :t)",
        "officer-unlogged",
        "officer X9: no custody event records it",
    ),
    "device": (
        "INSERT INTO device (serial, kind, vendor, model, profile, registered, created_at) "
        "VALUES ('FORGED-1', 'body-camera', '', '', '', true, :t)",
        "device-unlogged",
        "device FORGED-1: no custody event records it",
    ),
    "activity": (
        "INSERT INTO case_activity (case_id, stage, record_type, place, start_at, end_at, "
        "no_av_reason, note, created_at, created_by) SELECT id, 'investigation', 'inquiry', "
        "'', :t, :t, '', '', :t, 'user:x' FROM enforcement_case",
        "activity-unlogged",
        "activity {id}: no custody event records it",
    ),
    "case": (
        "INSERT INTO enforcement_case (number, title, enforcement_type, procedure, handler_id, "
        "confidentiality, status, opened_at, opened_by) SELECT 'FORGED-2026-1', '', 'penalty', "
        "'simple', id, 'none', 'open', :t, 'user:x' FROM officer WHERE badge = 'H1'",
        "case-unlogged",
        "case FORGED-2026-1: no custody event records it",
    ),
}


def _sql(ctx: Context, statement: str, **params: Any) -> None:
    with ctx.catalog.engine.begin() as conn:
        conn.execute(text(statement), params)


@pytest.mark.parametrize("kind", sorted(_ROWS))
def test_a_row_no_event_registers_is_reported_with_its_own_code(
    ctx: Context, cli: Cli, kind: str
) -> None:
    """Officers, a device and a case made by the commands verify clean; one more row of the
    class inserted with SQL is reported with its code, what the log expects and what is found."""
    _open_case(ctx, cli)
    assert cli("device", "add", "BWC-7", "--officer", "H1")[0] == 0
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.problems == ()
    insert, code, subject = _ROWS[kind]
    _sql(ctx, insert, t=T)
    with ctx.catalog.engine.begin() as conn:
        [activity] = conn.execute(text("SELECT coalesce(max(id), 0) FROM case_activity")).one()
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    found = [(p.code, p.subject, p.expected) for p in report.problems]
    assert found == [(code, subject.format(id=activity), "no such row (the log has none)")]
    exit_code, out = cli("--json", "verify", "--quick")
    assert exit_code == 1 and [p["code"] for p in json.loads(out)["problems"]] == [code]
    if kind in ("activity", "case"):  # also for the one case: verify --case
        number = CASE if kind == "activity" else "FORGED-2026-1"
        report, _, _ = verify_run(ctx.settings, item=None, quick=True, case=number)
        assert [p.code for p in report.problems] == [code]
