"""Invariant 2: a file leaves the device only when its stored copy re-verifies."""

from __future__ import annotations

import json
from pathlib import Path

from ingest.context import Context
from ingest.pipeline import ingest_device


def test_wipe_deletes_only_verified_files_and_records_each(ctx: Context, camera: Path) -> None:
    """Every wiped file has a wiped_from_device event; the device folder ends empty."""
    report = ingest_device(ctx, camera, serial="BWC-W", officer=None, actor="test", wipe=True)
    assert report.count("stored") == 4
    assert [p for p in camera.rglob("*") if p.is_file()] == []
    with ctx.catalog.read() as txn:
        wiped = [e for e in txn.log.events() if e.type == "wiped_from_device"]
        items = txn.items()
    assert sorted(e.item for e in wiped) == sorted(i.id for i in items)
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
    ingest_device(ctx, camera, serial="BWC-W", officer=None, actor="test", wipe=True)
    left = [p for p in camera.rglob("*") if p.is_file()]
    assert [p.relative_to(camera).as_posix().encode() for p in left] == [victim.original_path]
    with ctx.catalog.read() as txn:
        assert victim.id not in {e.item for e in txn.log.events() if e.type == "wiped_from_device"}


def test_a_file_recorded_earlier_is_wiped_only_if_its_bytes_are_still_the_items(
    ctx: Context, camera: Path
) -> None:
    """At a later docking the device file is hashed again before it is wiped: other bytes
    under the same name, size and time stay on the device."""
    import os

    ingest_device(ctx, camera, serial="BWC-W", officer=None, actor="test")
    clip = sorted(camera.rglob("*.MP4"))[0]
    st = clip.stat()
    data = bytearray(clip.read_bytes())
    data[-1] ^= 0xFF
    clip.write_bytes(bytes(data))
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    ingest_device(ctx, camera, serial="BWC-W", officer=None, actor="test", wipe=True)
    assert clip.exists()
    left = [p for p in camera.rglob("*") if p.is_file()]
    assert left == [clip]


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
        os.utime(path, ns=(1_800_000_000_000_000_000, 1_800_000_000_000_000_000))
    report = ingest_device(ctx, root, serial="BWC-W", officer=None, actor="test", wipe=True)
    assert report.count("stored") == 2
    assert list(root.iterdir()) == []
    with ctx.catalog.read() as txn:
        wiped = [e.item for e in txn.log.events() if e.type == "wiped_from_device"]
        items = txn.items()
    assert sorted(wiped) == sorted(i.id for i in items)
