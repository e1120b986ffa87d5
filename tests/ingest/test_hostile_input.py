"""What a hostile device can put on its medium, and what evidock does with each: the list of
issue 18, item 6. README's Reliability section has one row per case with the test that holds it.

A folder plays the device, as in the other ingest tests; the tools are the real ffprobe and
exiftool. Every case ends with the evidence stored exactly (or left on the device with the
reason recorded), the device not written, and nothing a terminal obeys in text output.
A file replaced during its copy is held where the copy and the walk are tested: see
``test_pipeline.py::test_file_changing_during_copy_is_not_recorded_as_verified`` and
``tests/devices/test_walk.py::test_file_replaced_by_*``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.config import parse
from ingest.context import Context, open_context
from ingest.media.kinds import FLAG_EMPTY, TRANSCODE
from ingest.pipeline.facts import FLAG_DAMAGED, FLAG_UNREADABLE
from ingest.pipeline.run import (
    ALREADY,
    FAILED,
    NOT_ACQUIRED,
    STORED,
    IngestReport,
    ingest_device,
)
from storage.catalog.jobs import JobOps
from storage.records import Item
from tests.devices.deeptree import removed_after
from tests.ingest.conftest import NoProbe, shows_no_controls

Stat = tuple[int, int, int, int, int]


def _ingest(ctx: Context, root: Path, **kw: Any) -> IngestReport:
    kw.setdefault("serial", "BWC-H")
    kw.setdefault("officer", None)
    return ingest_device(ctx, root, actor="test", **kw)


def _device_state(root: Path) -> dict[bytes, Stat]:
    """Every entry below ``root`` by its exact name: mode, size, mtime, change time and blocks
    (walked by folder fds, so paths longer than PATH_MAX are seen too)."""
    state: dict[bytes, Stat] = {}
    top = os.fsencode(root)
    for folder, dirs, files, fd in os.fwalk(top):
        for name in dirs + files:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            rel = os.path.join(folder, name)[len(top) + 1 :]
            state[rel] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_blocks)
    return state


def _events(ctx: Context, kind: str) -> list[dict[str, Any]]:
    with ctx.catalog.read() as txn:
        return [json.loads(e.data) for e in txn.log.events() if e.type == kind]


def _items(ctx: Context) -> dict[bytes, Item]:
    with ctx.catalog.read() as txn:
        return {i.original_path: i for i in txn.items()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- 1-4: names --------------------------------------------------------------------------------

NAME_MAX_CJK = "".join(chr(0x4E00 + n) for n in range(83)).encode() + b"ab.MP4"  # 255 bytes
NAMES = {
    "newline": b"DCIM/REC_0001\nFORGED REC_0002.MP4",
    "dash-rf": b"DCIM/-rf.mp4",
    "dash-help": b"DCIM/--help.MP4",
    "not-utf8": b"DCIM/\xff\xfe\x80REC.MP4",
    "255-bytes": b"DCIM/" + NAME_MAX_CJK,
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_a_hostile_file_name_is_stored_under_its_exact_bytes_and_the_tools_read_the_copy(
    ctx: Context, tmp_path: Path, media: dict[str, Path], name: bytes
) -> None:
    """The clip is stored under its name byte for byte and probed as a video (a name is never
    an argument of a tool), the device left exactly as it was."""
    assert len(NAME_MAX_CJK) == 255
    root = tmp_path / "device"
    (root / "DCIM").mkdir(parents=True)
    clip = media["clip"].read_bytes()
    with open(os.path.join(os.fsencode(root), name), "wb") as f:
        f.write(clip)
    before = _device_state(root)
    report = _ingest(ctx, root)
    assert [(f.raw_path, f.result) for f in report.files] == [(name, STORED)]
    item = _items(ctx)[name]
    assert item.sha256 == _sha(clip)
    assert (item.facts.video_codec, item.facts.audio_codec) == ("h264", "aac")
    assert not {FLAG_UNREADABLE, FLAG_DAMAGED} & set(item.facts.flags)
    [acquired] = _events(ctx, "acquired")
    assert acquired["path"] == name.decode("utf-8", "backslashreplace")
    assert acquired.get("path_hex") == (None if name != NAMES["not-utf8"] else name.hex())
    assert _device_state(root) == before


def test_entries_left_on_the_device_record_their_exact_name_when_it_is_not_utf8(
    ctx: Context, tmp_path: Path
) -> None:
    """A link and a file that stays for want of room, both named in bytes that are not UTF-8:
    their acquisition_failed events carry the exact name (path_hex), not only its display."""
    root = tmp_path / "device"
    (root / "DCIM").mkdir(parents=True)
    link, kept = b"DCIM/\xffLINK.MP4", b"DCIM/\xfeKEPT.MP4"
    os.symlink(b"/etc/passwd", os.path.join(os.fsencode(root), link))
    with open(os.path.join(os.fsencode(root), kept), "wb") as f:
        f.write(b"x" * 1000)
    answers = iter([1 << 40])  # the plan sees room; the copy, none
    report = _ingest(ctx, root, free_bytes=lambda: next(answers, 0), space_margin=0)
    assert {f.raw_path: f.result for f in report.files} == {link: NOT_ACQUIRED, kept: FAILED}
    failed = _events(ctx, "acquisition_failed")
    assert sorted((d["kind"], d["path"], d.get("path_hex")) for d in failed) == [
        ("no-space", "DCIM/\\xfeKEPT.MP4", kept.hex()),
        ("symlink", "DCIM/\\xffLINK.MP4", link.hex()),
    ]


def test_a_file_whose_path_is_longer_than_path_max_is_stored_under_its_exact_path(
    ctx: Context, tmp_path: Path, media: dict[str, Path]
) -> None:
    """16 folders and a file, each a 255-byte name of CJK characters drawn at random (4,351
    bytes, beyond PATH_MAX, within [dock] max_depth): opened folder by folder, stored, probed
    and recorded like any clip on both catalogs (PostgreSQL indexes the path's digest: the
    path is too long for a btree entry and does not compress), and known at the next docking."""
    root = tmp_path / "device"
    root.mkdir()
    pick = random.Random(18).randrange
    names = ["".join(chr(pick(0x4E00, 0x9FA5)) for _ in range(85)).encode() for _ in range(17)]
    path = b"/".join(names)
    assert {len(n) for n in names} == {255} and len(path) > os.pathconf(root, "PC_PATH_MAX")
    clip = media["clip"].read_bytes()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    for folder in names[:-1]:  # by folder fds: an absolute path this long cannot be opened
        os.mkdir(folder, dir_fd=fd)
        inner = os.open(folder, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    out = os.open(names[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
    os.write(out, clip)
    os.close(out)
    os.close(fd)
    with removed_after(root):
        before = _device_state(root)
        report = _ingest(ctx, root)
        again = _ingest(ctx, root)
        after = _device_state(root)
    assert [(f.raw_path, f.result) for f in report.files] == [(path, STORED)]
    item = _items(ctx)[path]
    assert item.sha256 == _sha(clip) and item.facts.video_codec == "h264"
    [acquired] = _events(ctx, "acquired")
    assert (acquired["path"], acquired["sha256"]) == (path.decode(), item.sha256)
    assert [(f.raw_path, f.result, f.item) for f in again.files] == [(path, ALREADY, item.id)]
    assert after == before


# -- 5: escape sequences in metadata -----------------------------------------------------------

ESCAPES = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, retitle the window, ring the bell


def test_escape_sequences_in_metadata_never_reach_the_terminal_and_json_keeps_them(
    cli: Callable[..., str], tmp_path: Path, media: dict[str, Path]
) -> None:
    """A photo's EXIF Make/Model/SerialNumber and a clip's QuickTime make/model/title hold
    terminal escapes: ingest, items and custody print no control character, and the JSON of
    items carries each value exactly."""
    root = tmp_path / "device" / "DCIM"
    root.mkdir(parents=True)
    photo = root / "IMG_0001.JPG"
    shutil.copy(media["jpg"], photo)
    subprocess.run(
        ["exiftool", "-q", "-overwrite_original", f"-Make={ESCAPES}", f"-Model=M{ESCAPES}",
         f"-SerialNumber=S{ESCAPES}", str(photo)],
        check=True, timeout=60,
    )  # fmt: skip
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(media["clip"]), "-map", "0", "-c", "copy",
         "-movflags", "use_metadata_tags", "-metadata", f"title={ESCAPES}",
         "-metadata", f"com.apple.quicktime.make={ESCAPES}",
         "-metadata", f"com.apple.quicktime.model=M{ESCAPES}", str(root / "REC_0001.MP4")],
        check=True, timeout=60,
    )  # fmt: skip
    shows_no_controls(cli("ingest", str(root.parent), "--device", "BWC-H"))
    shows_no_controls(cli("items"))
    docs = {d["original_path"]: d for d in json.loads(cli("--json", "items"))}
    assert {(p, d["make"], d["model"]) for p, d in docs.items()} == {
        ("DCIM/IMG_0001.JPG", ESCAPES, f"M{ESCAPES}"),
        ("DCIM/REC_0001.MP4", ESCAPES, f"M{ESCAPES}"),
    }
    assert docs["DCIM/IMG_0001.JPG"]["camera_serial"] == f"S{ESCAPES}"
    for doc in docs.values():
        shows_no_controls(cli("custody", str(doc["id"])))


# -- 6: a sparse 50 GB file on a small store --------------------------------------------------

SPARSE = 50 * 10**9


def test_a_sparse_50_gb_file_on_a_small_store_refuses_the_device_whole_and_leaves_it_untouched(
    small_store: Any, camera: Path
) -> None:
    """The 8 MiB tmpfs store's real free space against the apparent sizes: the docking is
    refused before any copy with the reason recorded (no-space), every file stays as it was
    (the sparse one still without a block), and nothing reaches staging, store or catalog."""
    sparse = camera / "DCIM" / "100MEDIA" / "HUGE.MP4"
    with open(sparse, "wb") as f:
        f.truncate(SPARSE)
    before = _device_state(camera)
    ctx = open_context(small_store, create=True)
    try:
        report = _ingest(ctx, camera, space_margin=1 << 20)  # a margin fit for a small store
        assert report.outcome == "refused" and report.count(STORED) == 0
        assert {f.result for f in report.files} == {NOT_ACQUIRED} and len(report.files) == 5
        reason = report.refused_reason or ""
        assert f"(the largest, DCIM/100MEDIA/HUGE.MP4, {SPARSE} bytes)" in reason
        failed = _events(ctx, "acquisition_failed")
        assert [(d["kind"], d["reason"], d["files_left_on_device"]) for d in failed] == [
            ("no-space", reason, 5)
        ]
        with ctx.catalog.read() as txn:
            assert txn.items() == []
            assert [s.outcome for s in txn.recent_sessions()] == ["refused"]
        assert not list(ctx.store.staging_dir.iterdir())
        assert list(ctx.store.iter_keys()) == []
    finally:
        ctx.close()
    assert _device_state(camera) == before
    assert before[b"DCIM/100MEDIA/HUGE.MP4"][4] == 0  # never written: still all hole


# -- 7: 10,000 empty files ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_ten_thousand_empty_files_are_each_stored_and_flagged_once_without_probes_or_proxies(
    ctx: Context, tmp_path: Path
) -> None:
    """10,000 files of no bytes: each is an item flagged 'empty' once, sharing one stored
    object; no exiftool or ffprobe is asked, no transcode job is queued."""
    device = tmp_path / "empties" / "DCIM"
    device.mkdir(parents=True)
    for n in range(10_000):
        (device / f"CLIP{n:05d}.MP4").touch()
    report = _ingest(ctx, device.parent, probe=NoProbe())
    assert report.outcome == "complete"
    assert report.count(STORED) == 10_000 and report.count(FAILED) == 0
    with ctx.catalog.read() as txn:
        items = txn.items()
        jobs = JobOps(txn).jobs(kinds=[TRANSCODE])
    assert len(items) == 10_000
    assert all(i.facts.flags.count(FLAG_EMPTY) == 1 and i.size == 0 for i in items)
    assert {i.sha256 for i in items} == {_sha(b"")}
    assert jobs == []
    assert list(ctx.store.iter_keys()) == [_sha(b"")]


# -- 8: symbolic links -------------------------------------------------------------------------


def test_symlink_loops_and_links_out_of_the_device_are_recorded_and_never_followed(
    ctx: Context, camera: Path, tmp_path: Path, media: dict[str, Path]
) -> None:
    """A link to itself, two links to each other, links to the folder and its parent, and a
    link to a folder outside: the walk ends, each is one acquisition_failed 'symlink' event,
    the camera's files are stored once each and nothing outside is read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(media["clip2"], outside / "PLANTED.MP4")
    links = {
        "DCIM/SELF.MP4": "SELF.MP4",
        "DCIM/PING.MP4": "PONG.MP4",
        "DCIM/PONG.MP4": "PING.MP4",
        "DCIM/100MEDIA/here": ".",
        "DCIM/100MEDIA/up": "..",
        "DCIM/escape": str(outside),
    }
    for link, target in links.items():
        os.symlink(target, camera / link)
    report = _ingest(ctx, camera)
    assert sorted(f.path for f in report.files if f.result == NOT_ACQUIRED) == sorted(links)
    assert report.count(STORED) == 4 and report.outcome == "complete"
    failed = _events(ctx, "acquisition_failed")
    assert sorted((d["path"], d["kind"], d["reason"]) for d in failed) == sorted(
        (link, "symlink", "symbolic link: not followed") for link in links
    )
    items = _items(ctx)
    assert len(items) == 4 and all(not p.startswith(b"DCIM/escape") for p in items)
    assert all((camera / link).is_symlink() for link in links)


# -- 10: a file that makes ffprobe eat time ----------------------------------------------------


def _box(kind: bytes, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return struct.pack(">I", 8 + len(body)) + kind + body


def _full(kind: bytes, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", flags), *parts)


def mp4_declaring_samples(count: int) -> bytes:
    """A 5 KB MP4 whose one video track declares ``count`` one-byte samples: ffprobe builds an
    index entry for each (about 0.2 s and 24 MB per million), exiftool reads only the boxes."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _full(b"mvhd", 0, struct.pack(">IIIIIH", 0, 0, 1000, count, 0x10000, 0x100),
                 bytes(10), matrix, bytes(24), struct.pack(">I", 2))  # fmt: skip
    tkhd = _full(b"tkhd", 3, struct.pack(">IIIII", 0, 0, 1, 0, count), bytes(16), matrix,
                 struct.pack(">II", 16 << 16, 16 << 16))  # fmt: skip
    mdhd = _full(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, 1000, count, 0x55C4, 0))
    hdlr = _full(b"hdlr", 0, bytes(4), b"vide", bytes(12), b"v\0")
    sample_entry = _box(b"mp4v", bytes(6), struct.pack(">H", 1), bytes(16),
                        struct.pack(">HHIIIH", 16, 16, 0x480000, 0x480000, 0, 1), bytes(32),
                        struct.pack(">Hh", 24, -1))  # fmt: skip

    def head(mdat_at: int) -> bytes:
        stbl = _box(
            b"stbl",
            _full(b"stsd", 0, struct.pack(">I", 1), sample_entry),
            _full(b"stts", 0, struct.pack(">III", 1, count, 1)),
            _full(b"stsc", 0, struct.pack(">IIII", 1, 1, count, 1)),
            _full(b"stsz", 0, struct.pack(">II", 1, count)),
            _full(b"stco", 0, struct.pack(">II", 1, mdat_at)),
        )
        dinf = _box(b"dinf", _full(b"dref", 0, struct.pack(">I", 1), _full(b"url ", 1)))
        minf = _box(b"minf", _full(b"vmhd", 1, bytes(8)), dinf, stbl)
        trak = _box(b"trak", tkhd, _box(b"mdia", mdhd, hdlr, minf))
        ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isommp41")
        return ftyp + _box(b"moov", mvhd, trak)

    return head(len(head(0)) + 8) + _box(b"mdat", bytes(4096))


CRAFTED = mp4_declaring_samples(80_000_000)
BETWEEN_THE_TOOLS = "between exiftool's and ffprobe's times on CRAFTED"


@pytest.fixture
def probe_ctx(
    tmp_path: Path, catalog_url: str, request: pytest.FixtureRequest
) -> Iterator[Context]:
    """A new dock whose [probe] timeout_s is the test's parameter. BETWEEN_THE_TOOLS: the
    geometric mean of what a fresh exiftool (start and read) and ffprobe take on CRAFTED here
    and now, so the test holds on a fast machine and a loaded one alike: the timeout is
    calibrated, not asserted. The mean leaves each tool the same factor of margin: ffprobe's
    own time on this file varies 2-3x from run to run (it allocates gigabytes), and a third
    of one slow run was once shorter than a fast run."""
    timeout = request.param
    if timeout == BETWEEN_THE_TOOLS:
        sample = tmp_path / "calibrate.mp4"
        sample.write_bytes(CRAFTED)
        exif = max(_seconds(["exiftool", "-j", "-G", "-n", str(sample)]) for _ in range(2))
        ffprobe = _seconds(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                            "json", str(sample)])  # fmt: skip
        timeout = math.sqrt(exif * ffprobe)
    settings = parse(
        {"probe": {"timeout_s": timeout}},
        env={"EVIDOCK_HOME": str(tmp_path / "home"), "EVIDOCK_CATALOG_URL": catalog_url,
             "EVIDOCK_DOCK_NAME": "dock-test"},
        source="tests",
    )  # fmt: skip
    ctx = open_context(settings, create=True)
    yield ctx
    ctx.close()


def _seconds(cmd: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, capture_output=True, check=False, timeout=600)
    return time.monotonic() - started


@pytest.mark.parametrize("probe_ctx", [BETWEEN_THE_TOOLS], indirect=True)
def test_an_mp4_that_makes_ffprobe_eat_time_is_stored_and_flagged_when_its_probe_times_out(
    probe_ctx: Context, tmp_path: Path
) -> None:
    """80 million samples declared in 5 KB (ffprobe needs seconds and GBs for its index): with
    [probe] timeout_s well under what ffprobe needs for it and well over what exiftool needs,
    exiftool reads the stored copy, ffprobe is killed at the timeout,
    and the item is stored bit for bit, flagged damaged with the reason."""
    crafted = CRAFTED
    root = tmp_path / "device" / "DCIM"
    root.mkdir(parents=True)
    (root / "REC_0001.MP4").write_bytes(crafted)
    report = _ingest(probe_ctx, root.parent)
    assert [(f.path, f.result) for f in report.files] == [("DCIM/REC_0001.MP4", STORED)]
    item = _items(probe_ctx)[b"DCIM/REC_0001.MP4"]
    assert item.sha256 == _sha(crafted)
    assert probe_ctx.store.path_for(item.sha256).read_bytes() == crafted
    assert item.facts.mime_type == "video/mp4"  # exiftool's reading
    assert item.facts.probe_errors == ("ffprobe: ffprobe timed out",)
    assert FLAG_DAMAGED in item.facts.flags


@pytest.mark.parametrize("probe_ctx", [0.001], indirect=True)
def test_tools_that_cannot_answer_within_the_probe_timeout_leave_every_file_stored_and_flagged(
    probe_ctx: Context, camera: Path
) -> None:
    """[probe] timeout_s = 1 ms, shorter than exiftool takes to start or ffprobe to run: the
    docking still stores each file, flagged unreadable with both tools' timeouts."""
    report = _ingest(probe_ctx, camera)
    assert report.outcome == "complete" and report.count(STORED) == 4
    for item in _items(probe_ctx).values():
        assert FLAG_UNREADABLE in item.facts.flags
        assert item.facts.probe_errors[0] == "exiftool: exiftool timed out"
        assert "ffprobe: ffprobe timed out" in item.facts.probe_errors
