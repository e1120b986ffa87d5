"""The 24-hour rule on SQLite and PostgreSQL, with generated clips recorded 30 h ago."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.cases.compliance import FUTURE
from ingest.cases.offload import excuse
from ingest.cases.overdue import build_report
from ingest.context import Context
from ingest.errors import UsageError
from storage.errors import AlreadyExists
from storage.records import MediaFacts, NewItem
from tests.cases.conftest import Clip, dock, lay_out, register


def _events(ctx: Context, item: int, kind: str) -> list[dict[str, object]]:
    with ctx.catalog.read() as txn:
        return [json.loads(e.data) for e in txn.log.events_for_item(item) if e.type == kind]


def test_recording_offloaded_30_hours_after_it_ended_is_flagged_late(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Delay = durable_at - recorded end > 24 h: listed late, with one late_flagged event."""
    register(ctx, badge="J1", serial="BWC-1")
    _, hook = dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"])), "BWC-1")
    assert len(hook.late) == 1
    report = build_report(ctx, actor="user:test")
    [late] = report.late
    assert late.item.item_id == hook.late[0] and not report.late_excused
    assert late.judgement.delay is not None and late.judgement.delay > timedelta(hours=29)
    assert report.overdue_count == 1
    [flag] = _events(ctx, late.item.item_id, "late_flagged")
    assert flag["reference_source"] == "recorded" and flag["deadline_hours"] == 24
    after_again = dock(ctx, tmp_path / "cam", "BWC-1")[1]
    assert after_again.measured == 0  # nothing new in the second docking
    assert len(_events(ctx, late.item.item_id, "late_flagged")) == 1


def test_excused_late_item_is_shown_apart_and_the_excuse_is_a_custody_event(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A return time covering the delay excuses the item; the report lists it apart, and an
    evaluation as of before the excuse still shows it unexcused."""
    register(ctx, badge="J1", serial="BWC-1")
    _, hook = dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"])), "BWC-1")
    item = hook.late[0]
    before = ctx.clock()
    returned = ctx.clock() - timedelta(hours=2)
    outcome = excuse(
        ctx,
        item_ids=[item],
        reason="field work in the hills",
        returned_at=returned,
        actor="user:custodian",
    )
    assert [e.item_id for e in outcome.granted] == [item]
    report = build_report(ctx, actor="user:test")
    assert not report.late and [x.item.item_id for x in report.late_excused] == [item]
    assert report.late_excused[0].judgement.excused_by is not None
    assert report.overdue_count == 0
    [ev] = _events(ctx, item, "excused")
    assert ev["reason"] == "field work in the hills" and ev["basis"] == "returned"
    with ctx.catalog.read() as txn:
        actors = [e.actor for e in txn.log.events_for_item(item) if e.type == "excused"]
    assert actors == ["user:custodian"]
    earlier = build_report(ctx, at=before, actor="user:test", measure_first=False)
    assert [x.item.item_id for x in earlier.late] == [item]


def test_return_time_that_does_not_cover_the_delay_is_refused(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Offloaded 29 h after the officer's return is late from there too: no excuse recorded."""
    register(ctx, badge="J1", serial="BWC-1")
    _, hook = dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"])), "BWC-1")
    with pytest.raises(UsageError) as err:
        excuse(
            ctx,
            item_ids=list(hook.late),
            reason="field work",
            returned_at=ctx.clock() - timedelta(hours=29),
            actor="user:c",
        )
    assert "after the officer's return" in str(err.value)
    assert _events(ctx, hook.late[0], "excused") == []
    assert len(build_report(ctx, actor="user:test").late) == 1


def test_whole_dock_session_is_excused_and_on_time_items_are_left_alone(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """--session excuses each late item of the docking; an on-time one gets no event."""
    register(ctx, badge="J1", serial="BWC-1")
    cam = lay_out(
        tmp_path / "cam",
        ("A.MP4", clips["old"]),
        ("B.MP4", clips["old2"]),
        ("C.MP4", clips["fresh"]),
    )
    report, hook = dock(ctx, cam, "BWC-1")
    outcome = excuse(
        ctx,
        session_id=report.session,
        reason="continuous night operation",
        returned_at=None,
        actor="user:c",
    )
    assert sorted(e.item_id for e in outcome.granted) == sorted(hook.late)
    assert len(outcome.refused) == 1 and "within the deadline" in outcome.refused[0][1]
    rep = build_report(ctx, actor="user:test")
    assert not rep.late and len(rep.late_excused) == 2


def test_camera_clock_in_2099_is_flagged_and_never_makes_an_item_on_time(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A future recording time is a clock problem; lateness is measured from the earliest
    plausible time (here the device's start of service), so the item shows late."""
    register(ctx, badge="J1", serial="BWC-1")
    cam = lay_out(tmp_path / "cam", ("REC_2099.MP4", clips["future"]), mtime=clips["future"].end)
    _, hook = dock(ctx, cam, "BWC-1")
    report = build_report(ctx, actor="user:test")
    [problem] = report.clock_problems
    assert problem.check is not None and FUTURE in problem.check.clock_problems
    assert problem.check.reference_source == "in-service-since"
    assert [x.item.item_id for x in report.late] == [problem.item_id] == list(hook.late)


def test_device_not_docked_for_25_hours_is_listed(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """A camera assigned 25 h ago and never docked is listed; a docked one is not, until the
    report is evaluated 25 h later."""
    register(ctx, badge="J1", serial="BWC-IDLE", since=timedelta(hours=25))
    register(ctx, badge="J2", serial="BWC-DOCKED")
    dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"])), "BWC-DOCKED")
    now = build_report(ctx, actor="user:test")
    assert [d.device.serial for d in now.devices] == ["BWC-IDLE"]
    assert now.devices[0].undocked_for >= timedelta(hours=25)
    later = build_report(ctx, at=ctx.clock() + timedelta(hours=25), actor="user:test")
    assert [d.device.serial for d in later.devices] == ["BWC-DOCKED", "BWC-IDLE"]


def test_item_not_durable_after_the_deadline_is_listed_pending(ctx: Context) -> None:
    """Acquired but not yet in the system of record 30 h after recording: pending, overdue."""
    register(ctx, badge="J1", serial="BWC-1")
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        dev = txn.device("BWC-1")
        session = txn.open_session(
            dock_id=ctx.dock.id, device_id=dev.id, source="/x", now=now - timedelta(hours=2)
        )
        end = now - timedelta(hours=30)
        item = txn.insert_item(
            NewItem(
                sha256="a" * 64,
                size=1,
                device_id=dev.id,
                officer_id=None,
                session_id=session,
                original_path=b"A.MP4",
                original_path_display="A.MP4",
                source_mtime_ns=int(end.timestamp() * 1e9),
                acquired_at=now - timedelta(hours=2),
                facts=MediaFacts(recorded_start=end - timedelta(minutes=1), recorded_end=end),
            ),
            state="stored",
            durable_at=None,
        )
    report = build_report(ctx, actor="user:test")
    assert [x.item.item_id for x in report.pending] == [item.id] and not report.late
    assert report.overdue_count == 1
    early = build_report(ctx, at=now - timedelta(hours=7), actor="user:test")
    assert early.pending == ()


def test_back_registered_camera_clip_47_hours_old_is_reported_late(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    """Registering a camera after it recorded is no evidence that its clock is wrong: camera
    and file time agree 47 h back, so the clip is late, measured from its recorded end."""
    assert cli("officer", "add", "J1", "--name", "Officer J1")[0] == 0
    assert cli("device", "add", "BWC-9", "--officer", "J1")[0] == 0
    cam = lay_out(tmp_path / "cam", ("REC_47.MP4", clips["47h"]))
    _, hook = dock(ctx, cam, "BWC-9")
    report = build_report(ctx, actor="user:test")
    [late] = report.late
    assert list(hook.late) == [late.item.item_id] and report.clock_problems == ()
    assert late.item.check is not None and late.item.check.reference_source == "recorded"
    assert late.item.check.reference_end == clips["47h"].end
    assert late.judgement.delay is not None and late.judgement.delay > timedelta(hours=46)


def test_earlier_assignment_is_refused_without_a_reason_and_added_as_an_event_with_one(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path, cli: Callable[..., tuple[int, str]]
) -> None:
    """History is added to, never rewritten: an earlier custody needs --reason, becomes a
    device_assigned event, and attributes the clips recorded in it."""
    assert cli("officer", "add", "J1", "--name", "Officer J1")[0] == 0
    assert cli("device", "add", "BWC-9", "--officer", "J1")[0] == 0
    earlier = (clips["47h"].start - timedelta(hours=1)).isoformat()
    with pytest.raises(AlreadyExists) as err:
        cli("device", "assign", "BWC-9", "J1", "--from", earlier)
    assert "history is never rewritten" in str(err.value) and "--reason" in err.value.hint
    code, out = cli(
        "--json", "device", "assign", "BWC-9", "J1", "--from", earlier, "--reason", "handed out Fri"
    )
    assert code == 0 and json.loads(out)["until"] is not None
    with ctx.catalog.read() as txn:
        [ev] = [e for e in txn.log.events() if e.type == "device_assigned" and "reason" in e.data]
    assert json.loads(ev.data)["reason"] == "handed out Fri"
    assert json.loads(ev.data)["officer"] == "J1" and ev.actor.startswith("user:")
    _, hook = dock(ctx, lay_out(tmp_path / "cam", ("REC_47.MP4", clips["47h"])), "BWC-9")
    report = build_report(ctx, actor="user:test")
    assert [x.item.officer_badge for x in report.late] == ["J1"]
    assert [x.item.item_id for x in report.late] == list(hook.late)
