"""Invariant 2: a file leaves the device only when its stored copy re-verifies, nobody writes
it any more and it is still the file whose bytes were verified."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from ingest.context import Context
from ingest.pipeline.known import FLAG_EXTENDS, FLAG_NAME_REUSED
from ingest.pipeline.results import FileOutcome
from ingest.pipeline.run import STORED, FileResult, ingest_device
from ingest.pipeline.wipe import CHANGED, SETTLING
from ingest.pipeline.writers import WRITING


def _dock(ctx: Context, root: Path, **kw: Any) -> Any:
    kw.setdefault("settle_seconds", 0)
    return ingest_device(ctx, root, serial="BWC-W", officer=None, actor="test", wipe=True, **kw)


def _not_wiped(ctx: Context) -> list[tuple[int | None, dict[str, Any]]]:
    with ctx.catalog.read() as txn:
        found = [(e.item, json.loads(e.data)) for e in txn.log.events()]
    return [(i, d) for i, d in found if d.get("kind") == "not-wiped"]


def _wiped(ctx: Context) -> list[int]:
    """The items of the wiped_from_device events, in log order (each event names its item)."""
    with ctx.catalog.read() as txn:
        events = [e for e in txn.log.events() if e.type == "wiped_from_device"]
    ids = [e.item for e in events if e.item is not None]
    assert len(ids) == len(events), "a wiped_from_device event names no item"
    return ids


def test_wipe_deletes_only_verified_files_and_records_each(ctx: Context, camera: Path) -> None:
    """Every wiped file has a wiped_from_device event; the device folder ends empty."""
    report = _dock(ctx, camera)
    assert report.count("stored") == 4
    assert [p for p in camera.rglob("*") if p.is_file()] == []
    with ctx.catalog.read() as txn:
        wiped = [e for e in txn.log.events() if e.type == "wiped_from_device"]
        items = txn.items()
    assert sorted(_wiped(ctx)) == sorted(i.id for i in items)
    assert all(json.loads(e.data)["verified_before_wipe"] for e in wiped)


def test_file_whose_stored_copy_no_longer_verifies_stays_on_the_device(
    ctx: Context, camera: Path
) -> None:
    """A damaged stored object blocks the wipe of its source: the device copy is kept."""
    ingest_device(ctx, camera, serial="BWC-W", officer=None, actor="test")
    with ctx.catalog.read() as txn:
        victim = txn.items()[0]
    stored = ctx.store.path_for(victim.sha256)
    stored.chmod(0o644)
    stored.write_bytes(b"rotted")
    _dock(ctx, camera)
    left = [p for p in camera.rglob("*") if p.is_file()]
    assert [p.relative_to(camera).as_posix().encode() for p in left] == [victim.original_path]
    assert victim.id not in _wiped(ctx)


def test_a_file_rewritten_under_its_name_size_and_time_is_stored_before_it_is_wiped(
    ctx: Context, camera: Path
) -> None:
    """Other bytes under a recorded name, size and mtime are a new item, flagged; only that
    new item's verified bytes are wiped, never on the strength of the earlier item."""
    ingest_device(ctx, camera, serial="BWC-W", officer=None, actor="test")
    clip = sorted(camera.rglob("*.MP4"))[0]
    st = clip.stat()
    data = bytearray(clip.read_bytes())
    data[-1] ^= 0xFF
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = _dock(ctx, camera)
    stored = [f for f in report.files if f.result == STORED]
    assert [(f.path, f.sha256, f.flags) for f in stored] == [
        (clip.relative_to(camera).as_posix(), hashlib.sha256(data).hexdigest(),
         (FLAG_NAME_REUSED,))
    ]  # fmt: skip
    assert not clip.exists()
    with ctx.catalog.read() as txn:
        items = txn.items()
    earlier = [i.id for i in items if i.original_path.endswith(clip.name.encode())]
    assert len(earlier) == 2 and earlier[1] == stored[0].item
    assert sorted(_wiped(ctx)) == sorted(i.id for i in items if i.id != earlier[0])


_WRITER = textwrap.dedent(
    """
    import os, sys
    data = open(sys.argv[2], "rb").read()
    with open(sys.argv[1], "wb") as f:
        f.write(data[: 2 << 20])
        f.flush()
        os.fsync(f.fileno())
        print("paused", flush=True)  # holding the file open, as a recorder between bursts
        sys.stdin.readline()
        f.write(data[2 << 20 :])
    print("done", flush=True)
    """
)


def test_a_recording_still_open_for_writing_is_not_wiped_until_its_writer_is_done(
    ctx: Context, tmp_path: Path
) -> None:
    """A recorder pausing mid-file keeps it open: the docking stores what is there but leaves
    the file, saying who writes it; once the writer is done the next docking stores all
    6 MB and only then wipes."""
    device = tmp_path / "recorder"
    (device / "REC").mkdir(parents=True)
    target = device / "REC" / "REC_0001.WAV"
    source = tmp_path / "whole.bin"
    data = os.urandom(6 << 20)
    source.write_bytes(data)
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), str(source)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline() == "paused\n"
        first = _dock(ctx, device)
        assert target.stat().st_size == 2 << 20  # still there, still being written
        (partial,) = first.files
        assert partial.result == STORED and partial.size == 2 << 20
        command = Path(f"/proc/{writer.pid}/comm").read_text().strip()
        assert partial.reason is not None and partial.reason.endswith(
            f"; not wiped from the device: still open for writing by pid {writer.pid} "
            f"({command}); it stays on the device"
        )  # after what the probes said of these random bytes
        assert [(i, d["code"]) for i, d in _not_wiped(ctx)] == [(partial.item, WRITING)]
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline() == "done\n"
    finally:
        if writer.stdin is not None:
            writer.stdin.close()
        writer.wait(timeout=60)
        if writer.stdout is not None:
            writer.stdout.close()
    assert target.stat().st_size == 6 << 20
    second = _dock(ctx, device)
    (whole,) = second.files
    assert (whole.result, whole.size, whole.sha256) == (
        STORED, 6 << 20, hashlib.sha256(data).hexdigest(),
    )  # fmt: skip
    assert FLAG_EXTENDS in whole.flags and FLAG_NAME_REUSED not in whole.flags
    assert ctx.store.path_for(hashlib.sha256(data).hexdigest()).read_bytes() == data
    assert not target.exists()
    assert _wiped(ctx) == [whole.item]
    with ctx.catalog.read() as txn:
        kinds = [e.type for e in txn.log.events_for_item(whole.item)]
    assert kinds == ["acquired", "verified", "stored", "wiped_from_device"]


def test_a_file_changed_after_its_verified_copy_is_not_wiped(ctx: Context, camera: Path) -> None:
    """A file that grew, and one rewritten with its size and mtime put back, after their
    copies were verified stay on the device with the reason, for the next docking to copy."""
    grown, rewritten = sorted((camera / "DCIM" / "100MEDIA").glob("*.MP4"))

    def meddle(r: FileResult) -> None:
        if r.path.endswith(grown.name):
            with open(grown, "ab") as f:
                f.write(b"more")
        elif r.path.endswith(rewritten.name):
            st = rewritten.stat()
            data = bytearray(rewritten.read_bytes())
            data[100] ^= 0xFF
            rewritten.write_bytes(bytes(data))
            os.utime(rewritten, ns=(st.st_atime_ns, st.st_mtime_ns))

    report = _dock(ctx, camera, on_file=meddle)
    assert grown.exists() and rewritten.exists()
    left = {p for p in camera.rglob("*") if p.is_file()}
    assert left == {grown, rewritten}
    by_path = {f.path: f for f in report.files}
    for p in (grown, rewritten):
        reason = by_path[p.relative_to(camera).as_posix()].reason
        assert reason is not None and reason.startswith(
            "not wiped from the device: changed since its copy was verified"
        )
    assert sorted(d["code"] for _, d in _not_wiped(ctx)) == [CHANGED, CHANGED]
    again = _dock(ctx, camera)
    assert sorted(f.path for f in again.files if f.result == STORED) == sorted(
        p.relative_to(camera).as_posix() for p in (grown, rewritten)
    )
    assert [p for p in camera.rglob("*") if p.is_file()] == []


def test_a_file_that_changed_within_the_settle_time_is_not_wiped(
    ctx: Context, camera: Path
) -> None:
    """A file whose last change is more recent than the settle time stays, with the reason."""
    report = _dock(ctx, camera, settle_seconds=3600)
    assert report.count(STORED) == 4
    assert len([p for p in camera.rglob("*") if p.is_file()]) == 4
    assert _wiped(ctx) == []
    assert [d["code"] for _, d in _not_wiped(ctx)] == [SETTLING] * 4
    assert all(f.reason and "3600 s without change" in f.reason for f in report.files)


def test_two_names_that_display_alike_are_each_wiped_as_their_own_item(
    ctx: Context, tmp_path: Path
) -> None:
    """The byte 0xFF and the typed text '\\xff' display alike; each file is wiped as its own
    item (one wiped_from_device each), never as the other one."""
    import os

    root = tmp_path / "device"
    root.mkdir()
    names = [b"a\xff.jpg", b"a\\xff.jpg"]
    for i, name in enumerate(names):
        path = os.path.join(os.fsencode(root), name)
        with open(path, "wb") as f:
            f.write(b"recording %d" % i)
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    report = ingest_device(ctx, root, serial="BWC-W", officer=None, actor="test", wipe=True,
                            settle_seconds=0)  # fmt: skip
    assert report.count(FileOutcome.STORED) == 2
    assert list(root.iterdir()) == []
    with ctx.catalog.read() as txn:
        items = txn.items()
    assert sorted(_wiped(ctx)) == sorted(i.id for i in items)
