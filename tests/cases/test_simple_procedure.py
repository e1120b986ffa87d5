"""Art. 21: the simple procedure's record types, and its acts likely to cause an administrative
dispute (``--disputed``), which need audio/video measured like the Art. 16 ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ingest.cases.overdue import build_report
from ingest.cases.vocab import RECORD_TYPES, lookup
from ingest.cli.audit import verify_run
from ingest.context import Context
from tests.cases.conftest import Clip, at, dock, lay_out, register
from tests.cases.test_cases import CASE, Cli, words


def _open_simple(ctx: Context, cli: Cli) -> None:
    register(ctx, badge="J1", serial="BWC-1")
    code, _ = cli(*words("case open 凤里执罚[2026]12号 --type penalty --procedure simple "
                         "--handler J1"))  # fmt: skip
    assert code == 0


def _fine(cli: Cli, clip: Clip, *extra: str) -> dict[str, Any]:
    """An on-the-spot fine collection by J1 over the clip's window."""
    code, text = cli("--json", "case", "activity", "add", CASE, "--type", "当场收缴罚款",
                     "--officer", "J1", "--from", at(clip.start), "--to", at(clip.end),
                     *extra)  # fmt: skip
    assert code == 0
    doc: dict[str, Any] = json.loads(text)
    return doc


def _activity_events(ctx: Context) -> list[dict[str, Any]]:
    with ctx.catalog.read() as txn:
        return [json.loads(e.data) for e in txn.log.events() if e.type == "activity_added"]


def test_disputed_simple_procedure_act_without_recordings_is_a_gap(
    ctx: Context, cli: Cli, clips: dict[str, Clip]
) -> None:
    """--disputed: A/V required (Art. 21), recorded in the activity_added event; with nothing
    linked it is an open gap in case show and overdue; the same act not disputed is not."""
    _open_simple(ctx, cli)
    clip = clips["old"]
    plain = _fine(cli, clip)
    assert plain["activity"]["requires_av"] is False
    doc = _fine(cli, clip, "--disputed")
    assert doc["activity"]["requires_av"] is True and doc["activity"]["disputed"] is True
    assert [e["disputed"] for e in _activity_events(ctx)] == [False, True]
    _, text = cli("case", "show", CASE)
    assert "on-the-spot fine collection" in text
    assert "A/V required (Art. 21): 0% covered by undamaged video" in text and "GAP" in text
    [gap] = [g for g in build_report(ctx, actor="user:test").gaps if g.counts]
    assert gap.activity.id == doc["activity"]["id"] and gap.article == "Art. 21"
    _, text = cli("--json", "overdue")
    [g] = [g for g in json.loads(text)["gaps"] if g["requires_av"]]
    assert g["coverage"]["percent"] == 0
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.problems == ()


def test_disputed_act_covered_by_an_undamaged_clip_is_covered(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """J1's undamaged clip spanning the fine collection is linked and covers it: no gap."""
    _open_simple(ctx, cli)
    clip = clips["old"]
    dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clip)), "BWC-1")
    doc = _fine(cli, clip, "--disputed")
    assert [x["item"] for x in doc["linked"]] == [1]
    _, text = cli("case", "show", CASE)
    assert "A/V required (Art. 21): 100% covered by undamaged video" in text
    assert "GAP" not in text
    assert [g for g in build_report(ctx, actor="user:test").gaps if g.counts] == []


def test_an_edited_disputed_flag_is_caught(ctx: Context, cli: Cli, clips: dict[str, Clip]) -> None:
    """The flag cleared in the catalog (the gap would vanish): activity-mismatch."""
    _open_simple(ctx, cli)
    doc = _fine(cli, clips["old"], "--disputed")
    with ctx.catalog.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE case_activity SET disputed = false")
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert [(p.code, p.subject, p.expected, p.found) for p in report.problems] == [
        ("activity-mismatch", f"activity {doc['activity']['id']}, field disputed",
         "'yes' (custody log)", "'no' (catalog)"),
    ]  # fmt: skip


def test_simple_procedure_record_types_are_named_in_both_languages() -> None:
    """Each Art. 21 item has a record type a user can type in Chinese or English."""
    art21 = [t.code for t in RECORD_TYPES.values() if t.article == "Art. 21"]
    assert art21 == ["simple-basis", "simple-steps", "simple-statement",
                     "simple-statement-review", "simple-filing", "on-the-spot-fine"]  # fmt: skip
    assert lookup(RECORD_TYPES, "向街道备案", "record type").code == "simple-filing"
    assert lookup(RECORD_TYPES, "on-the-spot fine collection", "record type").code == (
        "on-the-spot-fine"
    )
    assert not any(RECORD_TYPES[c].requires_av for c in art21)  # only when disputed
