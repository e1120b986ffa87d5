"""Devices have a life (issue 20): retired, lost, in repair and back in service are custody
events with their reason; a retired or broken device is not "not docked", a lost one is its own
alarm, and an edit of the status history behind evidock's back fails verify."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import i18n
from ingest.cli.audit import verify_run
from ingest.context import Context
from ingest.errors import UsageError
from ingest.metrics.catalog import catalog_families
from tests.cases.conftest import Clip, dock, lay_out, register

Cli = Callable[..., tuple[int, str]]


def _overdue(cli: Cli) -> dict[str, Any]:
    code, out = cli("--json", "overdue")
    assert code in (0, 3)
    doc: dict[str, Any] = json.loads(out)
    return doc


def _undocked(cli: Cli) -> list[str]:
    return [d["device"] for d in _overdue(cli)["devices_not_docked"]]


def _problems(ctx: Context) -> list[tuple[str, str]]:
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    return [(p.code, p.subject) for p in report.problems]


def test_a_retired_or_repaired_device_is_not_undocked_and_a_returned_one_is_again(
    ctx: Context, cli: Cli
) -> None:
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=3))
    register(ctx, badge="J2", serial="BWC-2", since=timedelta(days=3))
    assert sorted(_undocked(cli)) == ["BWC-1", "BWC-2"]
    assert cli("device", "retire", "BWC-1", "--reason", "屏幕损坏 broken screen")[0] == 0
    assert cli("device", "repair", "BWC-2", "--reason", "电池鼓包 swollen battery")[0] == 0
    assert _undocked(cli) == []
    assert cli("device", "return", "BWC-2", "--reason", "修好 repaired")[0] == 0
    assert _undocked(cli) == ["BWC-2"]
    code, out = cli("device", "list")
    assert code == 0 and "retired" in out and "in service" in out
    with i18n.speaking("zh"):
        code, out = cli("device", "list")
    assert code == 0 and "已报废" in out and "在用" in out
    doc = json.loads(cli("--json", "device", "list")[1])
    assert {d["serial"]: d["status"] for d in doc} == {"BWC-1": "retired", "BWC-2": "in-service"}
    assert _problems(ctx) == []


def test_a_retired_device_stays_retired(ctx: Context, cli: Cli) -> None:
    register(ctx, badge="J1", serial="BWC-1")
    assert cli("device", "retire", "BWC-1", "--reason", "old")[0] == 0
    with pytest.raises(UsageError, match="retired"):  # main() makes it exit 2
        cli("device", "return", "BWC-1", "--reason", "changed my mind")


def test_a_lost_device_is_its_own_alarm_with_its_last_docking(ctx: Context, cli: Cli) -> None:
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=3))
    code, out = cli("device", "lost", "BWC-1", "--reason", "巡逻时遗失 lost on patrol")
    assert code == 0 and "遗失" in out
    lost = _overdue(cli)["devices_lost"]
    assert [(d["device"], d["officer"], d["last_docked_at"]) for d in lost] == [
        ("BWC-1", "J1", None)
    ]
    assert _undocked(cli) == []
    with ctx.catalog.read() as txn:
        families = {f.name: f for f in catalog_families(txn, ctx, at=ctx.clock())}
    [(labels, seconds)] = families["evidock_device_lost_seconds"].samples
    assert labels == ("BWC-1",) and seconds >= 0
    assert cli("device", "return", "BWC-1", "--reason", "找回 found")[0] == 0
    assert _overdue(cli)["devices_lost"] == []


def test_an_edited_status_history_fails_verify(ctx: Context, cli: Cli) -> None:
    register(ctx, badge="J1", serial="BWC-1")
    assert cli("device", "add", "BWC-7", "--officer", "J1")[0] == 0
    assert cli("device", "lost", "BWC-7", "--reason", "lost on patrol")[0] == 0
    assert _problems(ctx) == []
    with ctx.catalog.engine.begin() as conn:  # the loss turned into a repair behind our back
        conn.execute(text("UPDATE device_status SET status = 'repair'"))
    assert _problems(ctx) == [("device-mismatch", "device BWC-7, field statuses")]
    with ctx.catalog.engine.begin() as conn:  # or removed altogether
        conn.execute(text("DELETE FROM device_status"))
    assert _problems(ctx) == [("device-mismatch", "device BWC-7, field statuses")]


def test_an_officer_correction_changes_reports_keeps_the_original_and_verifies(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A shared camera's clip filed under J1 is J2's: `evidock correct` moves it, the late
    report names J2, the log keeps J1 in the correction, and an edit back to J1 fails verify."""
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=3))
    register(ctx, badge="J2")
    report, _ = dock(ctx, lay_out(tmp_path / "cam", ("a.mp4", clips["old"])), "BWC-1")
    [item] = [f.item for f in report.files if f.item is not None]
    code, out = cli("correct", str(item), "--officer", "J2", "--reason", "共用记录仪 shared")
    assert code == 0 and "J1 → J2" in out
    late = _overdue(cli)["late"]["unexcused"]
    assert [(x["item"], x["officer"]) for x in late] == [(item, "J2")]
    with ctx.catalog.read() as txn:
        [ev] = [e for e in txn.log.events_for_item(item) if e.type == "metadata_corrected"]
    assert json.loads(ev.data)["was"] == {"officer": "J1"}
    assert _problems(ctx) == []
    with ctx.catalog.engine.begin() as conn:
        conn.execute(text("UPDATE evidence_item SET officer_id = "
                          "(SELECT id FROM officer WHERE badge = 'J1')"))  # fmt: skip
    assert _problems(ctx) == [("item-fact-mismatch", f"item #{item}, field officer")]
