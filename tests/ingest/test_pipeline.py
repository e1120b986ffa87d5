"""Ingest of a docked device end to end, on SQLite and PostgreSQL, with real ffmpeg/exiftool."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import stat
import threading
import time
from pathlib import Path

import pytest

import i18n
from ingest.context import Context
from ingest.media.kinds import FLAG_EMPTY, TRANSCODE
from ingest.pipeline.acquire import SourceChanged, acquire
from ingest.pipeline.facts import FLAG_DAMAGED, FLAG_UNREADABLE
from ingest.pipeline.known import FLAG_NAME_REUSED
from ingest.pipeline.run import (
    ALREADY,
    FAILED,
    NOT_ACQUIRED,
    STORED,
    FileOutcome,
    FileResult,
    SessionOutcome,
    ingest_device,
)
from storage.catalog.jobs import JobKind, JobOps
from tests.conftest import CLIP1, CLIP_START
from tests.devices.deeptree import chain_path, make_chain, removed_after
from tests.ingest.conftest import NoProbe
from verify.log.events import encode_data


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _ingest(ctx: Context, root: Path, **kw):
    kw.setdefault("serial", "BWC-1")
    kw.setdefault("officer", None)
    return ingest_device(ctx, root, actor="test", **kw)


def test_docked_camera_is_stored_with_verified_hashes_and_custody_events(
    ctx: Context, camera: Path
) -> None:
    """Every file is filed under its SHA-256, read-only, with acquired/verified/stored events."""
    report = _ingest(ctx, camera)
    sources = sorted(p for p in camera.rglob("*") if p.is_file())
    assert report.count(STORED) == len(sources) == 4
    with ctx.catalog.read() as txn:
        items = txn.items()
        assert sorted(i.sha256 for i in items) == sorted(sha(p) for p in sources)
        for item in items:
            stored = ctx.store.path_for(item.sha256)
            assert sha(stored) == item.sha256
            assert stat.S_IMODE(stored.stat().st_mode) == 0o440
            events = txn.log.events_for_item(item.id)
            assert [e.type for e in events] == ["acquired", "verified", "stored"]
            assert all(json.loads(e.data)["sha256"] == item.sha256 for e in events)
            assert item.durable_at is not None and item.state == "stored"
        docked = [e for e in txn.log.events() if e.type == "device_docked"]
        assert len(docked) == 1 and json.loads(docked[0].data)["device"] == "BWC-1"
    assert report.checkpoint_size is not None and report.checkpoint_size > 0
    assert list((ctx.store.root / "checkpoints").glob("*.note"))
    assert not list(ctx.store.staging_dir.iterdir())


def test_metadata_is_read_from_the_stored_copy(ctx: Context, camera: Path) -> None:
    """Recording time, codecs, resolution and GPS come from the tools' reading of the copy."""
    _ingest(ctx, camera)
    with ctx.catalog.read() as txn:
        clip = next(i for i in txn.items() if i.original_path == f"DCIM/100MEDIA/{CLIP1}".encode())
    f = clip.facts
    assert f.time_source == "container"
    assert f.recorded_start is not None and f.recorded_start == CLIP_START
    assert (f.video_codec, f.audio_codec, f.width, f.height) == ("h264", "aac", 320, 240)
    assert f.duration_s is not None and 1.9 < f.duration_s < 2.2
    assert f.gps_lat == pytest.approx(31.2304, abs=1e-3)


def test_second_ingest_of_the_same_device_adds_nothing(ctx: Context, camera: Path) -> None:
    """Re-docking reports every file as already there and writes no item events."""
    _ingest(ctx, camera)
    with ctx.catalog.read() as txn:
        before_items = len(txn.items())
        before_events = [e.type for e in txn.log.events()]
    again = _ingest(ctx, camera)
    assert again.count(ALREADY) == before_items and again.count(STORED) == 0
    with ctx.catalog.read() as txn:
        assert len(txn.items()) == before_items
        new = [e.type for e in txn.log.events()][len(before_events) :]
    assert new == ["device_docked"]


def test_corrupt_media_is_stored_bit_for_bit_and_flagged(
    ctx: Context, camera: Path, media: dict[str, Path]
) -> None:
    """Garbage and a truncated clip are evidence too: stored, flagged, never skipped."""
    shutil.copy(media["garbage"], camera / "DCIM" / "BAD.MP4")
    shutil.copy(media["cut"], camera / "DCIM" / "CUT.MP4")
    report = _ingest(ctx, camera)
    assert report.count(FAILED) == 0
    with ctx.catalog.read() as txn:
        by_path = {i.original_path: i for i in txn.items()}
    bad, cut = by_path[b"DCIM/BAD.MP4"], by_path[b"DCIM/CUT.MP4"]
    assert bad.sha256 == sha(media["garbage"]) and FLAG_UNREADABLE in bad.facts.flags
    assert bad.facts.probe_errors
    assert cut.sha256 == sha(media["cut"]) and FLAG_DAMAGED in cut.facts.flags
    assert ctx.store.path_for(bad.sha256).read_bytes() == media["garbage"].read_bytes()


def test_symlink_to_outside_is_not_followed_and_is_recorded(
    ctx: Context, camera: Path, tmp_path: Path
) -> None:
    """A link out of the device is reported with its reason; the target is never read."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"not on the camera")
    os.symlink(secret, camera / "DCIM" / "LINK.MP4")
    report = _ingest(ctx, camera)
    skipped = [f for f in report.files if f.result == NOT_ACQUIRED]
    assert [f.path for f in skipped] == ["DCIM/LINK.MP4"]
    with ctx.catalog.read() as txn:
        assert sha(secret) not in {i.sha256 for i in txn.items()}
        failed = [json.loads(e.data) for e in txn.log.events() if e.type == "acquisition_failed"]
    assert failed == [
        {"device": "BWC-1", "session": report.session, "path": "DCIM/LINK.MP4",
         "kind": "symlink", "reason": "symbolic link: not followed"}
    ]  # fmt: skip


def test_non_utf8_names_are_kept_exactly(
    ctx: Context, camera: Path, media: dict[str, Path]
) -> None:
    """A GBK file name is recorded as its raw bytes; nothing is written under that name."""
    raw = "现场检查.mp4".encode("gbk")
    shutil.copy(media["clip"], os.path.join(os.fsencode(camera), raw))
    _ingest(ctx, camera)
    with ctx.catalog.read() as txn:
        item = next(i for i in txn.items() if i.original_path == raw)
    assert "\\x" in item.original_path_display
    assert ctx.store.path_for(item.sha256).name == item.sha256


def test_file_changing_during_copy_is_not_recorded_as_verified(
    ctx: Context, tmp_path: Path
) -> None:
    """A file still being written while it is copied is refused (source-changed)."""
    src = tmp_path / "growing.mp4"
    src.write_bytes(os.urandom(8 << 20))
    stop = threading.Event()

    def writer() -> None:
        with open(src, "ab") as f:
            while not stop.is_set():
                f.write(b"x")
                f.flush()
                time.sleep(0.0005)

    fd = os.open(src, os.O_RDONLY)
    t = threading.Thread(target=writer)
    t.start()
    try:
        time.sleep(0.01)
        with ctx.store.staging() as staging, pytest.raises(SourceChanged):
            acquire(fd, staging, chunk=4096)
    finally:
        stop.set()
        t.join()
        os.close(fd)
    assert not list(ctx.store.staging_dir.iterdir())
    with ctx.catalog.read() as txn:
        assert txn.items() == []


def test_officer_is_the_holder_of_the_device_at_recording_time(ctx: Context, camera: Path) -> None:
    """Without --officer, items go to whoever held the camera when it recorded."""
    from datetime import UTC, datetime

    with ctx.catalog.write() as txn:
        now = ctx.clock()
        txn.add_officer(badge="J7", name="Li", unit="", certificate_no="", now=now)
        txn.add_device(serial="BWC-1", kind="body-camera", vendor="", model="", profile="",
                       registered=True, now=now)  # fmt: skip
        txn.assign_device(serial="BWC-1", badge="J7", start=datetime(2026, 11, 1, tzinfo=UTC))
    _ingest(ctx, camera)
    with ctx.catalog.read() as txn:
        assert {i.officer_badge for i in txn.items()} == {"J7"}


def test_unregistered_device_is_ingested_and_marked_unregistered(
    ctx: Context, camera: Path
) -> None:
    """Evidence from an unknown serial is kept; the device shows up as not registered."""
    _ingest(ctx, camera, serial="UNKNOWN-9")
    with ctx.catalog.read() as txn:
        dev = txn.device("UNKNOWN-9")
        assert not dev.registered and dev.last_docked_at is not None
        assert len(txn.items(device="UNKNOWN-9")) == 4


def test_device_pulled_out_mid_session_ends_interrupted_and_next_docking_resumes(
    ctx: Context, camera: Path, tmp_path: Path
) -> None:
    """The medium vanishes during a copy: the session ends 'interrupted', nothing half-recorded,
    and docking the same files again takes exactly the ones that were missed."""
    for i in range(3):
        (camera / "DCIM" / f"BIG_{i}.MP4").write_bytes(os.urandom(32 << 20))
    backup = tmp_path / "backup"
    shutil.copytree(camera, backup)
    staging = ctx.store.staging_dir
    result: list = []
    t = threading.Thread(target=lambda: result.append(_ingest(ctx, camera)))
    t.start()
    deadline = time.monotonic() + 60
    while not any(staging.glob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.001)
    shutil.rmtree(camera)  # pulled out: every file not yet opened is gone
    t.join(timeout=120)
    report = result[0]
    assert report.outcome == "interrupted"
    with ctx.catalog.read() as txn:
        first = {i.original_path for i in txn.items()}
    assert len(first) < 7
    shutil.copytree(backup, camera)
    again = _ingest(ctx, camera)
    assert again.outcome == "complete"
    with ctx.catalog.read() as txn:
        paths = [i.original_path for i in txn.items()]
    assert len(paths) == len(set(paths)) == 7
    assert {f.result for f in again.files} <= {STORED, ALREADY}


def test_same_device_in_two_bays_at_once_stores_each_file_once(ctx: Context, camera: Path) -> None:
    """Two ingests of one camera racing each other: every file is recorded exactly once and
    the custody log stays one unforked chain."""
    reports: list = []
    threads = [
        threading.Thread(target=lambda: reports.append(_ingest(ctx, camera))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(reports) == 2
    with ctx.catalog.read() as txn:
        items = txn.items()
        events = list(txn.log.events())
    assert len(items) == 4 and len({i.original_path for i in items}) == 4
    assert sum(r.count(STORED) for r in reports) == 4
    assert [e.seq for e in events] == list(range(len(events)))
    acquired = [e.item for e in events if e.type == "acquired"]
    assert sorted(acquired) == sorted(i.id for i in items)


def test_device_with_folders_1200_levels_deep_stores_what_is_within_bounds_and_records_why(
    ctx: Context, camera: Path, media: dict[str, Path]
) -> None:
    """A chain of folders far deeper than Python's recursion limit: every file down to
    [dock] max_depth is stored, and the folder beyond is one acquisition_failed event with
    its reason, so what stays on the device is visible."""
    clip = media["clip"].read_bytes()
    make_chain(camera / "DEEP", 1200, {1: ("NEAR.MP4", clip), 40: ("FAR.MP4", b"far"),
                                        1100: ("LOST.MP4", b"lost")})  # fmt: skip
    with removed_after(camera / "DEEP"):
        report = _ingest(ctx, camera)
    assert report.outcome == "complete"
    assert report.count(STORED) == 6
    too_deep = "DEEP/" + chain_path(64).decode()
    assert [(f.path, f.result) for f in report.files if f.result != STORED] == [
        (too_deep, NOT_ACQUIRED)
    ]
    with ctx.catalog.read() as txn:
        paths = {i.original_path for i in txn.items()}
        failed = [json.loads(e.data) for e in txn.log.events() if e.type == "acquisition_failed"]
    assert {b"DEEP/d/NEAR.MP4", b"DEEP/" + chain_path(40) + b"/FAR.MP4"} < paths
    assert failed == [
        {"device": "BWC-1", "session": report.session, "path": too_deep, "kind": "too-deep",
         "reason": "folder more than 64 levels deep: not entered, what it holds stays on the "
                   "device (the limit is [dock] max_depth)"}
    ]  # fmt: skip


# -- issue 23: already acquired means the same bytes; room on the store; empty files ----------


def _events(ctx: Context) -> list[tuple[str, int | None, dict]]:
    with ctx.catalog.read() as txn:
        return [(e.type, e.item, json.loads(e.data)) for e in txn.log.events()]


def test_a_rewritten_file_with_the_same_name_size_and_mtime_is_a_new_flagged_item(
    ctx: Context, camera: Path
) -> None:
    """A camera reusing a name, size and time for another recording: the second docking
    stores it as a second item with its own hash, flagged, with the reason in its result."""
    _ingest(ctx, camera)
    clip = camera / "DCIM" / "100MEDIA" / CLIP1
    st = clip.stat()
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0xFF
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = _ingest(ctx, camera)
    (new,) = [f for f in again.files if f.result == STORED]
    assert (new.path, new.sha256) == (f"DCIM/100MEDIA/{CLIP1}", sha(clip))
    assert FLAG_NAME_REUSED in new.flags
    with ctx.catalog.read() as txn:
        (first, second) = txn.items_at_path(
            txn.device("BWC-1").id, clip.relative_to(camera).as_posix().encode()
        )
    assert new.reason is not None and new.reason.startswith(
        f"another recording was taken under this name before (item #{first.id}: "
        f"{first.size} bytes, sha256 {first.sha256[:12]}); these are other bytes"
    )
    assert second.id == new.item and second.sha256 == sha(clip) != first.sha256
    assert FLAG_NAME_REUSED in second.facts.flags
    acquired = [d for t, i, d in _events(ctx) if t == "acquired" and i == second.id]
    assert FLAG_NAME_REUSED in acquired[0]["flags"]
    assert again.count(ALREADY) == 3


def test_the_same_bytes_redocked_from_a_new_file_are_already_and_add_no_item_events(
    ctx: Context, camera: Path
) -> None:
    """The same bytes under the same name, now another inode (copied back from a backup):
    found by their hash, 'already', no new item and no event but the docking's own."""
    _ingest(ctx, camera)
    before = _events(ctx)
    clip = camera / "DCIM" / "100MEDIA" / CLIP1
    copy = clip.with_suffix(".tmp")
    shutil.copy2(clip, copy)
    os.replace(copy, clip)
    again = _ingest(ctx, camera)
    assert again.count(ALREADY) == 4 and again.count(STORED) == 0
    with ctx.catalog.read() as txn:
        assert len(txn.items()) == 4
    assert [t for t, _, _ in _events(ctx)[len(before) :]] == ["device_docked"]


BIG = 64 << 20  # a sparse file's apparent size


def test_a_device_whose_files_do_not_all_fit_is_refused_up_front_and_left_untouched(
    ctx: Context, camera: Path
) -> None:
    """A sparse 64 MiB file on a store with room for everything else: the docking is refused
    before any copy (issue 18: whole or nothing), every file stays as it was, the session is
    closed 'refused' and one 'acquisition_failed' event (no-space) says what is needed."""
    sparse = camera / "DCIM" / "100MEDIA" / "HUGE.MP4"
    with open(sparse, "wb") as f:
        f.truncate(BIG)
    before = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in camera.rglob("*")}
    rest = sum(p.stat().st_size for p in camera.rglob("*") if p.is_file() and p != sparse)
    room = rest + (1 << 20)
    seen: list[FileResult] = []
    report = _ingest(ctx, camera, free_bytes=lambda: room, space_margin=0, on_file=seen.append)
    assert report.outcome == "refused" and report.count(STORED) == 0
    assert {f.result for f in seen} == {NOT_ACQUIRED} and len(seen) == 5
    assert report.refused_reason == (
        "not enough free space on the evidence store for this "
        f"device: its 5 files to copy need {rest + (BIG)} bytes (the largest, "
        f"DCIM/100MEDIA/HUGE.MP4, {BIG} bytes) and 0 bytes are kept free, {room} bytes are "
        "free; nothing was copied, the device is untouched: make room on the store, then dock "
        "it again"
    )
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in camera.rglob("*")} == before
    with ctx.catalog.read() as txn:
        assert txn.items() == []
        [session] = txn.recent_sessions()
    assert session.outcome == "refused"
    failed = [d for t, _, d in _events(ctx) if t == "acquisition_failed"]
    assert [(d["kind"], d["reason"], d["files_left_on_device"]) for d in failed] == [
        ("no-space", report.refused_reason, 5)
    ]
    assert not list(ctx.store.staging_dir.iterdir())
    fits = _ingest(ctx, camera, free_bytes=lambda: rest + 2 * BIG, space_margin=0)
    assert fits.count(STORED) == 5 and fits.outcome == "complete"  # room made: all taken


def test_a_refusal_reads_in_chinese_for_the_officer_and_in_english_in_the_custody_log(
    ctx: Context, camera: Path
) -> None:
    """Under zh the bay and the receipt say why in Chinese; the 'acquisition_failed' event
    keeps the English source text, whatever language the dock speaks (issue 20)."""
    sparse = camera / "DCIM" / "100MEDIA" / "HUGE.MP4"
    with open(sparse, "wb") as f:
        f.truncate(BIG)
    with i18n.speaking("zh"):
        report = _ingest(ctx, camera, free_bytes=lambda: 1 << 20, space_margin=0)
    assert report.outcome == "refused"
    assert report.refused_reason is not None
    assert report.refused_reason.startswith("证据存储库空间不足，设备上的文件未作任何改动：")
    assert "5 个待复制文件共需" in report.refused_reason
    assert {f.reason for f in report.files} == {report.refused_reason}
    [event] = [d for t, _, d in _events(ctx) if t == "acquisition_failed"]
    assert event["reason"].startswith(
        "not enough free space on the evidence store for this device: its 5 files to copy"
    )


def test_a_file_is_not_started_when_the_store_filled_up_meanwhile(
    ctx: Context, camera: Path
) -> None:
    """The free space is asked again before each copy: a store that filled up during the
    docking leaves the remaining files on the device, each with the reason."""
    answers = iter([1 << 40, 1 << 40])  # the plan and the first copy see room; then none
    report = _ingest(ctx, camera, free_bytes=lambda: next(answers, 0), space_margin=0)
    assert [f.result for f in report.files] == [STORED, FAILED, FAILED, FAILED]
    assert {f.code for f in report.files[1:]} == {"no-space"}
    assert len([p for p in camera.rglob("*") if p.is_file()]) == 4


def test_empty_files_are_stored_and_flagged_once_without_probes_or_proxy_jobs(
    ctx: Context, tmp_path: Path
) -> None:
    """200 empty files: each stored with one 'empty' flag, no exiftool/ffprobe, no transcode."""
    device = tmp_path / "empties" / "DCIM"
    device.mkdir(parents=True)
    for n in range(200):
        (device / f"CLIP{n:04d}.MP4").touch()
    report = _ingest(ctx, device.parent, probe=NoProbe())
    assert report.count(STORED) == 200 and report.count(FAILED) == 0
    with ctx.catalog.read() as txn:
        items = txn.items()
        jobs = JobOps(txn).jobs(kinds=[TRANSCODE])
    assert len(items) == 200
    assert all(i.facts.flags.count(FLAG_EMPTY) == 1 and i.size == 0 for i in items)
    assert {i.sha256 for i in items} == {hashlib.sha256(b"").hexdigest()}
    assert jobs == []
    assert ctx.store.path_for(hashlib.sha256(b"").hexdigest()).read_bytes() == b""
    again = _ingest(ctx, device.parent, probe=NoProbe())
    assert again.count(ALREADY) == 200


def test_each_stage_of_an_ingest_is_reported_in_order(ctx: Context, tmp_path: Path) -> None:
    """The stage hook sees the walk, the docking, every step of each new file in order, and the
    end; a file's later steps may come while the next one is already copied."""
    root = tmp_path / "cam"
    root.mkdir()
    (root / "A.MP4").write_bytes(os.urandom(1000))
    (root / "B.MP4").write_bytes(os.urandom(2000))
    first: list[str] = []
    _ingest(ctx, root, on_stage=first.append)
    again: list[str] = []
    _ingest(ctx, root, on_stage=again.append)
    per_file = ["copied", "synced", "read-back", "probed", "filed", "recorded"]
    assert first[:2] == ["walked", "docked"] and first[-2:] == ["closed", "checkpoint"]
    steps = first[2:-2]
    assert sorted(steps) == sorted(per_file * 2)
    for step in per_file:  # each step of A before the same step of B, and in order per file
        a, b = (n for n, s in enumerate(steps) if s == step)
        assert a < b
    for earlier, later in itertools.pairwise(per_file):
        assert steps.index(earlier) < steps.index(later)
        assert max(n for n, s in enumerate(steps) if s == earlier) < max(
            n for n, s in enumerate(steps) if s == later
        )
    assert again == ["walked", "docked", "closed", "checkpoint"]  # both files already stored


def test_outcomes_and_job_kinds_are_recorded_as_their_plain_strings(
    ctx: Context, camera: Path
) -> None:
    """Enum members write the same custody-event bytes and catalog values as the strings."""
    as_enums = {"r": FileOutcome.STORED, "o": SessionOutcome.INCOMPLETE, "k": JobKind.UPLOAD}
    as_str = {"r": "stored", "o": "incomplete", "k": "upload"}
    assert (
        encode_data(as_enums)
        == encode_data(as_str)
        == '{"k":"upload","o":"incomplete","r":"stored"}'
    )
    report = _ingest(ctx, camera)
    with ctx.catalog.read() as txn:
        session = next(s for s in txn.recent_sessions() if s.id == report.session)
        jobs = JobOps(txn).jobs(kinds=[JobKind.TRANSCODE])
    assert type(session.outcome) is str and session.outcome == "complete"
    assert {(type(j.kind), j.kind, j.state) for j in jobs} == {(str, "transcode", "queued")}
