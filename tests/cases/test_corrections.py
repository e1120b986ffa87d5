"""`evidock correct --clock-offset`: a camera clock set right, the 24-hour rule measured again,
the original kept in the custody log (issue 20, item 6)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingest.cases.corrections import parse_clock_offset
from ingest.cli.audit import verify_run
from ingest.context import Context
from ingest.errors import UsageError
from tests.cases.conftest import Clip, dock, lay_out, register

Cli = Callable[..., tuple[int, str]]


def _late(cli: Cli) -> list[int]:
    code, out = cli("--json", "overdue")
    assert code in (0, 3)
    doc: dict[str, Any] = json.loads(out)
    return [x["item"] for x in doc["late"]["unexcused"]]


def _problems(ctx: Context) -> list[tuple[str, str]]:
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    return [(p.code, p.subject) for p in report.problems]


def _events(ctx: Context, item: int) -> list[tuple[str, dict[str, Any]]]:
    with ctx.catalog.read() as txn:
        found = [(e.type, json.loads(e.data)) for e in txn.log.events_for_item(item)]
    return found


def _item(ctx: Context, tmp_path: Path, clip: Clip) -> int:
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=3))
    report, _ = dock(ctx, lay_out(tmp_path / "cam", ("a.mp4", clip)), "BWC-1")
    [item] = [f.item for f in report.files if f.item is not None]
    return item


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("+8h", timedelta(hours=8)),
        ("-1d2h30m", -timedelta(days=1, hours=2, minutes=30)),
        ("+00:05:30", timedelta(minutes=5, seconds=30)),
        ("-90s", -timedelta(seconds=90)),
    ],
)
def test_a_clock_offset_is_read_with_its_sign(written: str, offset: timedelta) -> None:
    """+ the camera was ahead of the true time, - behind; days, hours, minutes or h:mm:ss."""
    assert parse_clock_offset(written) == offset


@pytest.mark.parametrize("written", ["8h", "+", "+0h", "soon", "+8x", "-1:5"])
def test_a_clock_offset_without_a_sign_or_a_span_is_refused(written: str) -> None:
    """An offset must say which way the clock was wrong, and by how much."""
    with pytest.raises(UsageError):
        parse_clock_offset(written)


def test_a_slow_camera_clock_corrected_clears_the_late_flag_and_keeps_the_original(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A clip the camera dated 30 h ago was late; its clock ran 8 h slow: the correction moves
    it to 22 h ago, a late_cleared event names the correction, the report no longer lists it,
    the log keeps the camera's time, and verify agrees -- until the catalog is edited back."""
    item = _item(ctx, tmp_path, clips["old"])
    assert _late(cli) == [item]
    code, out = cli("correct", str(item), "--clock-offset=-8h", "--reason", "时钟慢8小时")
    assert code == 0 and "late flag is cleared" in out
    assert _late(cli) == []
    events = _events(ctx, item)
    [(_, corrected)] = [(t, d) for t, d in events if t == "metadata_corrected"]
    [(_, cleared)] = [(t, d) for t, d in events if t == "late_cleared"]
    seq = {t: i for i, (t, _) in enumerate(events)}
    assert seq["late_flagged"] < seq["metadata_corrected"] < seq["late_cleared"]
    assert corrected["time_source"] == "corrected" and corrected["clock_offset_s"] == -8 * 3600
    assert corrected["was"]["recorded_start"] != corrected["recorded_start"]
    assert cleared["reference_source"] == "corrected" and cleared["delay_s"] < 24 * 3600
    assert _problems(ctx) == []
    with ctx.catalog.engine.begin() as conn:  # the flag put back behind the log's back
        conn.execute(text("UPDATE offload_check SET late_flag_seq = 1"))
    assert _problems(ctx) == [
        ("offload-mismatch", f"offload check of item #{item}: no custody event records it")
    ]


def test_a_fast_camera_clock_corrected_makes_an_item_late(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A clip dated an hour ago by a camera 26 h fast was really offloaded 27 h after it
    ended: flagged late, the flag naming the correction; an edit of the corrected time fails
    verify."""
    item = _item(ctx, tmp_path, clips["fresh"])
    assert _late(cli) == []
    code, out = cli("correct", str(item), "--clock-offset", "+1d2h", "--reason", "时钟快26小时")
    assert code == 0 and "now offloaded after the 24-hour deadline" in out
    assert _late(cli) == [item]
    [(_, flag)] = [(t, d) for t, d in _events(ctx, item) if t == "late_flagged"]
    [corr] = [d for t, d in _events(ctx, item) if t == "metadata_corrected"]
    assert flag["correction"] is not None and flag["delay_s"] > 24 * 3600
    assert corr["was"]["time_source"] != "corrected"
    assert _problems(ctx) == []
    with ctx.catalog.engine.begin() as conn:
        conn.execute(text("UPDATE evidence_item SET time_source = 'metadata'"))
    assert ("item-fact-mismatch", f"item #{item}, field time_source") in _problems(ctx)


def test_a_correction_without_a_reason_or_a_value_is_refused(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Nothing is recorded for an empty reason or a correction that names nothing."""
    item = _item(ctx, tmp_path, clips["fresh"])
    with pytest.raises(UsageError, match="reason"):
        cli("correct", str(item), "--clock-offset", "+1h", "--reason", " ")
    with pytest.raises(UsageError, match="nothing to correct"):
        cli("correct", str(item), "--reason", "why")
    assert [t for t, _ in _events(ctx, item) if t == "metadata_corrected"] == []
