"""Cases, activities and links on SQLite and PostgreSQL, through the commands people type."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import i18n
from ingest.cases.links import autolink_case
from ingest.cases.overdue import build_report
from ingest.cases.rules import RULE_IMPORTANT, RULE_WINDOW
from ingest.context import Context
from tests.cases.conftest import Clip, at, dock, lay_out, register

Cli = Callable[..., tuple[int, str]]
CASE = "凤里执罚〔2026〕12号"


def words(text: str) -> list[str]:
    return text.split()


def _open_case(ctx: Context, cli: Cli, *officers: str) -> None:
    for badge in ("H1", "R1", "A1", *officers):
        register(ctx, badge=badge)
    code, _ = cli(*words("case open 凤里执罚[2026]12号 --type penalty --handler H1 --reviewer R1"),
                  "--approver", "A1")  # fmt: skip
    assert code == 0


def _activity(cli: Cli, kind: str, officers: str, start: datetime, end: datetime,
              *extra: str) -> dict[str, Any]:  # fmt: skip
    """``evidock case activity add``; returns its JSON document (activity and links made)."""
    flags = [a for b in officers.split() for a in ("--officer", b)]
    code, text = cli("--json", "case", "activity", "add", CASE, "--type", kind, *flags,
                     "--from", at(start), "--to", at(end), *extra)  # fmt: skip
    assert code == 0
    doc: dict[str, Any] = json.loads(text)
    return doc


def _case_links(cli: Cli) -> list[dict[str, Any]]:
    code, text = cli("--json", "case", "show", CASE)
    assert code == 0
    links: list[dict[str, Any]] = json.loads(text)["links"]
    return links


def _events(ctx: Context, item: int) -> list[tuple[str, str, dict[str, Any]]]:
    with ctx.catalog.read() as txn:
        return [
            (e.type, e.actor, json.loads(e.data))
            for e in txn.log.events_for_item(item)
            if e.type in ("linked", "unlinked")
        ]


def test_inspection_without_video_is_a_gap_until_a_clip_is_linked(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """An on-site inspection (Art. 16) with no linked video is a counted gap; linking a clip
    that spans its window closes it, and the link is a custody event with who and why."""
    _open_case(ctx, cli, "J9")
    register(ctx, badge="J1", serial="BWC-1")
    dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"])), "BWC-1")
    doc = _activity(cli, "现场检查（勘验）", "J9", clips["old"].start, clips["old"].end,
                    "--place", "凤里路12号")  # fmt: skip
    assert doc["linked"] == [] and doc["activity"]["requires_av"]
    [gap] = build_report(ctx, actor="user:test").gaps
    assert gap.activity.record_type == "on-site-inspection" and gap.kind == "nothing-recorded"
    code, _ = cli("case", "link", CASE, "1", "--stage", "investigation", "--activity",
                  str(gap.activity.id), "--why", "J9 borrowed J1's camera")  # fmt: skip
    assert code == 0
    assert build_report(ctx, actor="user:test").gaps == ()
    [(kind, actor, data)] = _events(ctx, 1)
    assert kind == "linked" and actor.startswith("user:")
    assert data["how"] == "manual" and data["why"] == "J9 borrowed J1's camera"
    assert data["case"] == CASE and data["stage"] == "investigation"


def test_recordings_are_linked_automatically_by_officer_and_window(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Items of the activity's officers inside its window are linked by 'officer-window',
    whether the activity is recorded before or after the docking; others are not."""
    _open_case(ctx, cli)
    register(ctx, badge="J1", serial="BWC-1")
    register(ctx, badge="J2", serial="BWC-2")
    old, older = clips["old"], clips["older"]
    _activity(cli, "sampling", "J1", old.start, old.end)  # before the docking
    dock(ctx, lay_out(tmp_path / "c1", ("A.MP4", old), ("B.MP4", older)), "BWC-1")
    assert [(k["item"], k["how"]) for k in _case_links(cli)] == [(1, RULE_WINDOW)]
    dock(ctx, lay_out(tmp_path / "c2", ("C.MP4", old)), "BWC-2")  # J2 was not at the sampling
    doc = _activity(cli, "inquiry", "J1 J2", older.start, older.end)  # after the docking
    assert [(x["item"], x["rule"]) for x in doc["linked"]] == [(2, RULE_WINDOW)]
    assert sorted((k["item"], k["how"]) for k in _case_links(cli)) == [
        (1, RULE_WINDOW),
        (2, RULE_WINDOW),
    ]
    [(kind, _, data)] = _events(ctx, 1)
    assert kind == "linked" and data["how"] == RULE_WINDOW and "window" in data["why"]


def test_items_the_camera_marked_important_are_linked_by_their_own_rule(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Outside the window but marked important (a predicate) and near it: 'camera-important'."""
    _open_case(ctx, cli)
    register(ctx, badge="J1", serial="BWC-1")
    later = clips["old"].end + timedelta(hours=3)
    _activity(cli, "hearing", "J1", later, later + timedelta(minutes=30))
    cam = lay_out(tmp_path / "cam", ("IMP_0001.MP4", clips["old"]), ("REC.MP4", clips["older"]))
    dock(ctx, cam, "BWC-1", is_important=lambda i: b"IMP_" in i.original_path)
    assert [(k["item"], k["how"]) for k in _case_links(cli)] == [(1, RULE_IMPORTANT)]


def test_unlinked_item_is_kept_in_history_and_never_relinked_by_the_rules(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Unlink needs a reason, is an 'unlinked' event, and the rules leave the item out."""
    _open_case(ctx, cli)
    register(ctx, badge="J1", serial="BWC-1")
    _activity(cli, "sampling", "J1", clips["old"].start, clips["old"].end)
    dock(ctx, lay_out(tmp_path / "cam", ("A.MP4", clips["old"])), "BWC-1")
    code, _ = cli("case", "unlink", CASE, "1", "--reason", "recorded for another case")
    assert code == 0
    assert autolink_case(ctx, CASE, actor="user:test") == []
    kinds = [(k, d["how"], d["why"]) for k, _, d in _events(ctx, 1)]
    assert [k[:2] for k in kinds] == [("linked", RULE_WINDOW), ("unlinked", "manual")]
    assert kinds[1][2] == "recorded for another case"
    [link] = _case_links(cli)
    assert link["unlink_reason"] == "recorded for another case" and link["unlinked_by"]
    assert [g.kind for g in build_report(ctx, actor="user:test").gaps] == ["no-video-linked"]


def test_case_closed_31_days_ago_and_not_archived_is_listed(ctx: Context, cli: Cli) -> None:
    """Art. 27: archive within 30 days of closing; overdue until archived."""
    _open_case(ctx, cli)
    now = ctx.clock()
    cli(*words("case open 2026-0013 --type inspection --procedure simple --handler H1"),
        "--opened", at(now - timedelta(days=40)))  # fmt: skip
    code, text = cli("case", "close", "2026-0013", "--at", at(now - timedelta(days=31)))
    assert code == 0 and "30 days, Art. 27" in text
    cli("case", "close", CASE)  # closed today: not overdue
    report = build_report(ctx, actor="user:test")
    assert [c.number for c in report.archives] == ["2026-0013"] and report.overdue_count == 1
    code, _ = cli("case", "archive", "2026-0013")
    assert code == 0
    assert build_report(ctx, actor="user:test").archives == ()
    earlier = build_report(ctx, at=now - timedelta(minutes=1), actor="user:test")
    assert [c.number for c in earlier.archives] == ["2026-0013"]


def test_case_show_names_stages_and_record_types_in_the_readers_language(
    ctx: Context, cli: Cli
) -> None:
    """Reports say '调查取证' and '听证' to a Chinese reader, 'investigation and evidence' and
    'hearing' to an English one (the codes stay in the catalog); an activity whose A/V was not
    suitable, with the reason written down, is shown apart (Art. 16)."""
    _open_case(ctx, cli, "J1")
    start = ctx.clock() - timedelta(days=3)
    _activity(cli, "hearing", "J1", start, start + timedelta(hours=1),
              "--no-av-reason", "party objected; minutes taken")  # fmt: skip
    code, text = cli("case", "show", CASE)
    assert code == 0
    assert "penalty, general procedure" in text
    assert "investigation and evidence / hearing" in text
    assert "exempt: party objected" in text
    with i18n.speaking("zh"):
        code, zh = cli("case", "show", CASE)
    assert code == 0
    assert "行政处罚" in zh and "一般程序" in zh and "调查取证 / 听证" in zh
    assert "investigation and evidence" not in zh and "party objected; minutes taken" in zh
    report = build_report(ctx, actor="user:test")
    assert report.gaps == () and len(report.gaps_exempt) == 1
