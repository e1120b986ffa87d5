"""A/V coverage in the case file and the archive that refuses open gaps, through the CLI."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest.cases.archive import ArchiveRefused
from ingest.cases.overdue import build_report
from ingest.context import Context
from tests.cases.conftest import Clip, at, dock, lay_out, register
from tests.cases.test_cases import CASE, Cli, _activity, _open_case
from tests.proxies.conftest import drain


def _gap_events(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    with ctx.catalog.read() as txn:
        return [
            (e.actor, json.loads(e.data)) for e in txn.log.events() if e.type == "gaps_accepted"
        ]


def _inspection_a_third_covered(ctx: Context, cli: Cli, clip: Clip, tmp_path: Path) -> None:
    """An inspection of 6 s of which J1's linked 2 s clip covers the first third."""
    _open_case(ctx, cli)
    register(ctx, badge="J1", serial="BWC-1")
    dock(ctx, lay_out(tmp_path / "cam", ("A.MP4", clip)), "BWC-1")
    doc = _activity(cli, "on-site-inspection", "J1", clip.start, clip.start + timedelta(seconds=6))
    assert [x["item"] for x in doc["linked"]] == [1]


def test_case_show_and_overdue_give_the_coverage_in_percent_and_the_open_span(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A linked clip does not make the activity covered: 33 %, the rest listed as open."""
    clip = clips["old"]
    _inspection_a_third_covered(ctx, cli, clip, tmp_path)
    code, text = cli("--json", "case", "show", CASE)
    [act] = json.loads(text)["activities"]
    assert code == 0 and act["coverage"]["percent"] == 33
    assert act["coverage"]["uncovered"] == [
        {"start": at(clip.end), "end": at(clip.start + timedelta(seconds=6))}
    ]
    assert act["coverage"]["covering_items"] == [1]
    code, text = cli("case", "show", CASE)
    assert "33% covered by undamaged video; uncovered" in text and "GAP" in text
    [gap] = build_report(ctx, actor="user:test").gaps
    assert gap.kind == "partly-covered" and gap.coverage is not None
    assert gap.coverage.percent == 33
    code, text = cli("--json", "overdue")
    [g] = json.loads(text)["gaps"]
    assert g["coverage"]["percent"] == 33 and len(g["coverage"]["uncovered"]) == 1


def test_archiving_a_case_with_a_gap_is_refused_without_a_reason_and_recorded_with_one(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Open A/V gaps block the archive; --accept-gaps --reason lets it through and leaves a
    gaps_accepted custody event with the reason and the coverage."""
    _inspection_a_third_covered(ctx, cli, clips["old"], tmp_path)
    drain(ctx)  # the review proxy exists: the case file is complete but for the gap
    assert cli("case", "close", CASE)[0] == 0
    with pytest.raises(ArchiveRefused) as err:
        cli("case", "archive", CASE)
    assert "has 1 open audio/video gap:" in str(err.value) and "33% covered" in str(err.value)
    with pytest.raises(ArchiveRefused):
        cli("case", "archive", CASE, "--accept-gaps")
    assert _gap_events(ctx) == []
    code, text = cli("--json", "case", "archive", CASE, "--accept-gaps", "--reason", "camera fell")
    assert code == 0 and json.loads(text)["status"] == "archived"
    [(actor, data)] = _gap_events(ctx)
    assert actor.startswith("user:") and data["reason"] == "camera fell"
    assert data["case"] == CASE and data["gaps"][0]["coverage"]["percent"] == 33


def test_archive_names_the_linked_items_whose_proxy_is_missing(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Before the worker made the review proxy, the case file is not complete: refused, with
    the item and what it lacks; no gap acceptance helps."""
    _inspection_a_third_covered(ctx, cli, clips["old"], tmp_path)
    assert cli("case", "close", CASE)[0] == 0
    with pytest.raises(ArchiveRefused) as err:
        cli("case", "archive", CASE, "--accept-gaps", "--reason", "camera fell")
    assert "#1: no review proxy yet, and no failure recorded" in str(err.value)
    assert _gap_events(ctx) == []
