"""Whose recordings these are: the medium's identity first, file names last (issue 23, 8).

A file name is written by whoever wrote the file; a folder or USB serial is the medium's. A
recording is filed under the medium it came off, and a name claiming another camera is shown
and recorded next to it, never obeyed."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from devices.profiles import FLAG_SERIAL_MISMATCH, DeviceProfile, load_profiles
from devices.walk import open_root, walk
from ingest.cli.evidence import serial_lines
from ingest.context import Context
from ingest.output import Output
from ingest.pipeline.run import STORED, IngestReport, identify, ingest_device

AAAB = "DCIM/100GAT/AAAB_J0002_20261126090000_0001.MP4"
OWN = "DCIM/100GAT/BWC0001_J0001_20261126083000_0001.MP4"


@pytest.fixture
def gat() -> DeviceProfile:
    return next(p for p in load_profiles() if p.name == "gat947-recorder")


def _device(root: Path, media: dict[str, Path], *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(media["clip"], root / name)
    return root


def _register(ctx: Context, serial: str) -> None:
    with ctx.catalog.write() as txn:
        txn.add_device(serial=serial, kind="body-camera", vendor="", model="", profile="",
                       registered=True, now=ctx.clock())  # fmt: skip


def _identify(
    root: Path, profile: DeviceProfile, udev: str | None, *, mount: bool = False
) -> tuple[str, str]:
    fd = open_root(root)
    try:
        return identify(root, fd, walk(fd), profile, udev, is_mount=lambda p: mount)
    finally:
        os.close(fd)


def test_folder_holding_a_file_named_for_another_camera_keeps_it_and_flags_it(
    ctx: Context, gat: DeviceProfile, media: dict[str, Path], tmp_path: Path
) -> None:
    """BWC0001's folder with one file named for AAAB: filed under BWC0001, flagged with the
    serial its name claims, and the session's docking event lists the disagreement."""
    _register(ctx, "BWC0001")
    root = _device(tmp_path / "BWC0001", media, AAAB)
    report = ingest_device(ctx, root, serial=None, officer=None, actor="test", profile=gat)
    assert (report.device, report.serial_source) == ("BWC0001", "folder")
    assert [(f.path, f.result, f.flags) for f in report.files] == [
        (AAAB, STORED, (FLAG_SERIAL_MISMATCH,))
    ]
    assert report.serial_claims == ((AAAB.encode(), "AAAB"),)
    with ctx.catalog.read() as txn:
        assert txn.find_device("AAAB") is None
        (item,) = txn.items()
        assert item.device_serial == "BWC0001" and item.facts.flags == (FLAG_SERIAL_MISMATCH,)
        acquired = json.loads(txn.log.events_for_item(item.id)[0].data)
        docked = [json.loads(e.data) for e in txn.log.events() if e.type == "device_docked"]
    assert acquired["claimed_serial"] == "AAAB" and acquired["device"] == "BWC0001"
    assert acquired["flags"] == [FLAG_SERIAL_MISMATCH]
    assert docked[0]["serial_mismatch"] == [{"path": AAAB, "serial": "AAAB"}]


def test_folder_whose_file_names_agree_with_it_has_nothing_flagged(
    ctx: Context, gat: DeviceProfile, media: dict[str, Path], tmp_path: Path
) -> None:
    """Names that carry the folder's own serial: no flag, no note on the docking."""
    _register(ctx, "BWC0001")
    root = _device(tmp_path / "BWC0001", media, OWN)
    report = ingest_device(ctx, root, serial=None, officer=None, actor="test", profile=gat)
    assert report.device == "BWC0001" and report.serial_claims == ()
    assert [(f.result, f.flags) for f in report.files] == [(STORED, ())]
    with ctx.catalog.read() as txn:
        docked = [json.loads(e.data) for e in txn.log.events() if e.type == "device_docked"]
    assert "serial_mismatch" not in docked[0]


def test_udev_serial_wins_over_the_serial_in_file_names(gat: DeviceProfile, tmp_path: Path) -> None:
    """The USB serial is the medium's; a file name naming another camera does not move it."""
    root = tmp_path / "sdb1"
    (root / "DCIM" / "100GAT").mkdir(parents=True)
    (root / AAAB).write_bytes(b"x")
    assert _identify(root, gat, "BWC0007", mount=True) == ("BWC0007", "udev")


def test_file_names_that_disagree_pick_no_one(gat: DeviceProfile, tmp_path: Path) -> None:
    """With no medium identity, names claiming two serials do not elect the first: the serial
    comes from the path; names that all agree are used."""
    root = tmp_path / "sdb1"
    (root / "DCIM" / "100GAT").mkdir(parents=True)
    (root / AAAB).write_bytes(b"x")
    assert _identify(root, gat, None, mount=True) == ("AAAB", "filename")
    (root / OWN).write_bytes(b"y")
    serial, source = _identify(root, gat, None, mount=True)
    assert source == "path" and serial.startswith("folder-")


def test_a_mount_points_name_is_not_a_serial(gat: DeviceProfile, tmp_path: Path) -> None:
    """A medium without a USB serial mounted at 'sdb1' is not the device 'sdb1' (every camera
    docked in that bay would be); a plain folder's name is its identity."""
    root = tmp_path / "sdb1"
    (root / "DCIM" / "100GAT").mkdir(parents=True)
    (root / OWN).write_bytes(b"x")
    assert _identify(root, gat, None, mount=True) == ("BWC0001", "filename")
    assert _identify(root, gat, None, mount=False) == ("sdb1", "folder")


def test_ingest_output_names_the_files_that_claim_another_device() -> None:
    """evidock ingest's text says which files name another serial and where they were filed."""
    report = IngestReport(
        session=3, device="BWC0001", officer=None, files=(), serial_source="folder",
        serial_claims=((AAAB.encode(), "AAAB"), (b"DCIM/x\x1b[2J_J1_20261126083000.MP4", "X\x1b")),
    )  # fmt: skip
    buf = io.StringIO()
    serial_lines(Output(json_mode=False, zone=ZoneInfo("UTC"), stream=buf), report)
    assert buf.getvalue().splitlines() == [
        "WARNING: 2 files named for another device; they came off this medium and are filed "
        "under BWC0001 (folder), flagged serial_mismatch:",
        f"  {AAAB}  names AAAB",
        "  DCIM/x\\x1b[2J_J1_20261126083000.MP4  names X\\x1b",
        "Check which camera recorded them before linking them to a case.",
    ]
