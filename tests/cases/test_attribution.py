"""Officer attribution from GA/T 947 file names, checked against the device's assignment."""

from __future__ import annotations

import json
from pathlib import Path

from devices.profiles import DeviceProfile, load_profiles
from ingest.cases.overdue import build_report
from ingest.context import Context
from ingest.pipeline.facts import FLAG_OFFICER_MISMATCH
from ingest.pipeline.run import ingest_device
from tests.cases.conftest import Clip, lay_out, register


def _gat947() -> DeviceProfile:
    return next(p for p in load_profiles() if p.name == "gat947-recorder")


def _name(serial: str, badge: str, clip: Clip) -> str:
    return f"{serial}_{badge}_{clip.start.strftime('%Y%m%d%H%M%S')}.MP4"


def _acquired(ctx: Context) -> dict[str, dict[str, object]]:
    with ctx.catalog.read() as txn:
        evs = [json.loads(e.data) for e in txn.log.events() if e.type == "acquired"]
    return {str(d["path"]).rsplit("/", 1)[-1]: d for d in evs}


def test_file_name_naming_another_officer_than_the_holder_is_flagged_not_resolved(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """The holder stays the item's officer; the name's officer is recorded and the item
    flagged officer_mismatch. A name that agrees gets no flag."""
    register(ctx, badge="J200")
    register(ctx, badge="J100", serial="BWC1")
    other, same = _name("BWC1", "J200", clips["old"]), _name("BWC1", "J100", clips["old2"])
    cam = lay_out(tmp_path / "cam", (other, clips["old"]), (same, clips["old2"]))
    ingest_device(ctx, cam, serial="BWC1", officer=None, actor="user:test", profile=_gat947())
    with ctx.catalog.read() as txn:
        items = {i.original_path_display.rsplit("/", 1)[-1]: i for i in txn.items()}
    assert items[other].officer_badge == "J100" and items[same].officer_badge == "J100"
    assert FLAG_OFFICER_MISMATCH in items[other].facts.flags
    assert FLAG_OFFICER_MISMATCH not in items[same].facts.flags
    ev = _acquired(ctx)
    assert ev[other]["claimed_officer"] == "J200" and ev[other]["officer"] == "J100"
    assert ev[other]["officer_source"] == "assignment"
    assert FLAG_OFFICER_MISMATCH in ev[other]["flags"]  # type: ignore[operator]
    late = {x.item.item_id: x.item for x in build_report(ctx, actor="user:test").late}
    assert FLAG_OFFICER_MISMATCH in late[items[other].id].flags
    assert FLAG_OFFICER_MISMATCH not in late[items[same].id].flags


def test_unassigned_device_is_attributed_to_the_registered_officer_its_file_names_name(
    ctx: Context, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """Nobody held the device: the registered officer named in the file name is taken, and
    the acquired event says so; an unregistered number attributes nothing."""
    register(ctx, badge="J200")
    with ctx.catalog.write() as txn:
        txn.add_device(serial="BWC2", kind="body-camera", vendor="", model="", profile="",
                       registered=True, now=ctx.clock())  # fmt: skip
    named, unknown = _name("BWC2", "J200", clips["old"]), _name("BWC2", "X999", clips["old2"])
    cam = lay_out(tmp_path / "cam", (named, clips["old"]), (unknown, clips["old2"]))
    ingest_device(ctx, cam, serial="BWC2", officer=None, actor="user:test", profile=_gat947())
    with ctx.catalog.read() as txn:
        items = {i.original_path_display.rsplit("/", 1)[-1]: i for i in txn.items()}
    assert items[named].officer_badge == "J200" and items[unknown].officer_badge is None
    ev = _acquired(ctx)
    assert ev[named]["officer_source"] == "file-name" and ev[named]["officer"] == "J200"
    assert ev[unknown]["claimed_officer"] == "X999" and ev[unknown]["officer_source"] is None
