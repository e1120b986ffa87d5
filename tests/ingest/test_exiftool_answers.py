"""The persistent exiftool: each answer belongs to the file it was asked about, whatever text a
photo carries, and an answer has a size bound and a deadline."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ingest.context import Context
from ingest.media.probe import ExifTool, MediaProbe
from ingest.media.simcam import make_jpeg
from ingest.pipeline.facts import FLAG_NO_METADATA, SRC_CONTAINER
from ingest.pipeline.run import STORED, ingest_device
from tests.procs import gone, wait_until

TAKEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
TAKEN_EXIF = "2026:03:04 13:06:07"  # DateTimeOriginal as make_jpeg writes it (+08:00)
# text tags exiftool prints from a JPEG's EXIF; sizes within one 64 KiB APP1 segment
TAG_LIMITS = {"UserComment": 40_000, "ImageDescription": 1500, "Artist": 1500,
              "Copyright": 1500, "XPComment": 1500, "Make": 1500, "Model": 1500}  # fmt: skip


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A plain JPEG (made by ffmpeg) to write hostile text onto, and a legitimate photo."""
    d = tmp_path_factory.mktemp("exif")
    legit = make_jpeg(d / "legit.jpg", taken=TAKEN)
    plain = d / "plain.jpg"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=size=160x120:rate=1:duration=1", "-frames:v", "1", str(plain)],
        check=True, timeout=60,
    )  # fmt: skip
    yield plain, legit


def write_tags(plain: Path, dest: Path, tags: dict[str, str]) -> Path:
    shutil.copyfile(plain, dest)
    args = [f"-{tag}={value}" for tag, value in tags.items()]
    subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(dest)],
                   check=True, timeout=60, capture_output=True)  # fmt: skip
    return dest


# exiftool's own configuration language (Perl), for the tests only: a composite tag whose value
# takes an hour to compute when a photo's UserComment is "hang". Real exiftool, a real hang.
HANG_CONFIG = """%Image::ExifTool::UserDefined = (
    'Image::ExifTool::Composite' => {
        EvidockTestHang => {
            Require => 'EXIF:UserComment',
            ValueConv => 'sleep 3600 if $val eq "hang"; $val',
        },
    },
);
1;
"""
HANG_TIMEOUT_S = 3.0  # exiftool starts and reads a photo in well under a second


@pytest.fixture
def hang_config(tmp_path: Path) -> Path:
    config = tmp_path / "hang.config"
    config.write_text(HANG_CONFIG)
    return config


def _marker_text(limit: int) -> st.SearchStrategy[str]:
    """'{ready1}'..'{ready999}' markers among newlines, braces and padding, repeated."""
    piece = st.one_of(
        st.integers(1, 999).map(lambda n: f"{{ready{n}}}"),
        st.sampled_from(["\n", "\r\n", " ", "\t", "{ready}", "}\n{", "]\n", "\n{ready"]),
        st.text(alphabet="abcxyz0123456789 {}[]:,\"'", max_size=12),
    )
    unit = st.lists(piece, min_size=1, max_size=12).map("".join)
    return st.tuples(st.integers(0, 16), unit, st.integers(1, 4000)).map(
        lambda t: (" " * t[0] + t[1] * t[2])[:limit]
    )


hostile_files = st.lists(
    st.fixed_dictionaries({tag: _marker_text(limit) for tag, limit in TAG_LIMITS.items()}),
    min_size=1,
    max_size=3,
)
# With the old '{readyN}' counter (1 for '-ver', then 2, 3, ...) one of these eight ends an
# exiftool output buffer exactly on its own marker, whatever the length of what precedes it.
ALIGNED = [{"UserComment": " " * pad + f"{{ready{pad + 2}}}" * 4900} for pad in range(8)]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.data_too_large, HealthCheck.large_base_example,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@example(files=ALIGNED)
@given(files=hostile_files)
def test_text_tags_holding_ready_markers_cannot_shift_answers_to_other_files(
    photos: tuple[Path, Path], tmp_path: Path, files: list[dict[str, str]]
) -> None:
    """Photos whose UserComment, ImageDescription, Artist, Copyright, XPComment, Make and Model
    hold '{readyN}' markers with padding and newlines, then a legitimate photo, all through one
    exiftool: every answer is its own file's, and the photo keeps its time."""
    plain, legit = photos
    paths = [write_tags(plain, tmp_path / f"hostile-{i}.jpg", tags) for i, tags in enumerate(files)]
    tool = ExifTool()
    tool.start()
    try:
        answers = [tool.read(p) for p in [*paths, legit]]
    finally:
        tool.close()
    assert [(a.error, (a.data or {}).get("SourceFile")) for a in answers] == [
        (None, str(p)) for p in [*paths, legit]
    ]
    assert (answers[-1].data or {}).get("EXIF:DateTimeOriginal") == TAKEN_EXIF


def test_an_answer_beyond_its_size_bound_is_an_error_and_the_next_file_is_read(
    photos: tuple[Path, Path], tmp_path: Path
) -> None:
    """exiftool saying more than max_answer_bytes is stopped; the next file gets its own answer."""
    plain, legit = photos
    big = write_tags(plain, tmp_path / "big.jpg", {"UserComment": "x" * 40_000})
    tool = ExifTool(max_answer_bytes=16 * 1024)
    tool.start()
    try:
        answers = [tool.read(big), tool.read(legit), tool.read(big)]
    finally:
        tool.close()
    too_big = "exiftool's answer exceeded 16384 bytes; its metadata was not read"
    assert [(a.error, a.data) for a in (answers[0], answers[2])] == [(too_big, None)] * 2
    assert answers[1].error is None and answers[1].data is not None
    assert answers[1].data["SourceFile"] == str(legit)
    assert answers[1].data["EXIF:DateTimeOriginal"] == TAKEN_EXIF


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_photo_whose_metadata_is_too_large_is_stored_and_flagged(
    ctx: Context, photos: tuple[Path, Path], tmp_path: Path
) -> None:
    """The file over the bound is still stored, flagged metadata_unreadable; the photo after it
    keeps its EXIF time."""
    plain, legit = photos
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    write_tags(plain, card / "A_BIG.JPG", {"UserComment": "x" * 40_000})
    shutil.copyfile(legit, card / "B_LEGIT.JPG")
    with MediaProbe(max_answer_bytes=16 * 1024) as probe:
        report = ingest_device(ctx, card.parent, serial="CAM-X", officer=None, actor="test",
                               probe=probe)  # fmt: skip
    assert [f.result for f in report.files] == [STORED, STORED]
    with ctx.catalog.read() as txn:
        items = {i.original_path_display: i.facts for i in txn.items()}
    big, photo = items["DCIM/A_BIG.JPG"], items["DCIM/B_LEGIT.JPG"]
    assert FLAG_NO_METADATA in big.flags
    assert big.probe_errors == (
        "exiftool: exiftool's answer exceeded 16384 bytes; its metadata was not read",
    )
    assert photo.flags == () and photo.time_source == SRC_CONTAINER
    assert photo.recorded_start == TAKEN


def test_a_file_that_makes_exiftool_hang_is_killed_at_the_deadline_and_the_next_file_is_read(
    photos: tuple[Path, Path], tmp_path: Path, hang_config: Path
) -> None:
    """The exiftool stuck on a file is killed when its deadline passes (an error for that file
    only); a new exiftool reads the next file."""
    plain, legit = photos
    hang = write_tags(plain, tmp_path / "hang.jpg", {"UserComment": "hang"})
    tool = ExifTool(timeout_s=HANG_TIMEOUT_S, config_file=hang_config)
    tool.start()
    try:
        first = tool.pid
        stuck = tool.read(hang)
        killed = tool.pid
        after = tool.read(legit)
        second = tool.pid
    finally:
        tool.close()
    assert (stuck.error, stuck.data) == ("exiftool timed out", None)
    assert first is not None and killed is None
    assert not Path(f"/proc/{first}").exists()  # killed and reaped, not left hanging
    assert second is not None and second != first
    assert after.error is None and after.data is not None
    assert after.data["SourceFile"] == str(legit)
    assert after.data["EXIF:DateTimeOriginal"] == TAKEN_EXIF


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_photo_that_makes_exiftool_hang_is_stored_and_flagged(
    ctx: Context, photos: tuple[Path, Path], tmp_path: Path, hang_config: Path
) -> None:
    """The file exiftool hangs on is still stored, byte for byte, and flagged
    metadata_unreadable with the reason; the photo after it keeps its EXIF time."""
    plain, legit = photos
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    hang = write_tags(plain, card / "A_HANG.JPG", {"UserComment": "hang"})
    shutil.copyfile(legit, card / "B_LEGIT.JPG")
    with MediaProbe(timeout_s=HANG_TIMEOUT_S, exiftool_config=hang_config) as probe:
        report = ingest_device(ctx, card.parent, serial="CAM-H", officer=None, actor="test",
                               probe=probe)  # fmt: skip
    assert [f.result for f in report.files] == [STORED, STORED]
    with ctx.catalog.read() as txn:
        items = {i.original_path_display: i for i in txn.items()}
    hung, photo = items["DCIM/A_HANG.JPG"].facts, items["DCIM/B_LEGIT.JPG"].facts
    stored = ctx.store.path_for(items["DCIM/A_HANG.JPG"].sha256)
    assert stored.read_bytes() == hang.read_bytes()
    assert FLAG_NO_METADATA in hung.flags
    assert hung.probe_errors == ("exiftool: exiftool timed out",)
    assert photo.flags == () and photo.time_source == SRC_CONTAINER
    assert photo.recorded_start == TAKEN


def test_an_exiftool_that_died_between_files_is_replaced_for_the_next_one(
    photos: tuple[Path, Path],
) -> None:
    """exiftool killed from outside while idle: the next file starts a new one and is read."""
    _, legit = photos
    tool = ExifTool()
    tool.start()
    try:
        first = tool.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: gone(first), 30)
        answer = tool.read(legit)
        second = tool.pid
    finally:
        tool.close()
    assert second is not None and second != first
    assert not Path(f"/proc/{first}").exists()  # reaped, no zombie left
    assert answer.error is None and answer.data is not None
    assert answer.data["EXIF:DateTimeOriginal"] == TAKEN_EXIF


def test_exiftool_loads_no_configuration_file_it_finds(
    photos: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A '.ExifTool_config' (Perl code) in the working directory, where exiftool looks for one
    when HOME is unset as in its environment here, is not loaded: the file reads normally."""
    plain, _ = photos
    hang = write_tags(plain, tmp_path / "hang.jpg", {"UserComment": "hang"})
    (tmp_path / ".ExifTool_config").write_text(HANG_CONFIG)
    monkeypatch.chdir(tmp_path)
    tool = ExifTool(timeout_s=HANG_TIMEOUT_S)
    tool.start()
    try:
        answer = tool.read(hang)
    finally:
        tool.close()
    assert answer.error is None and answer.data is not None
    assert answer.data["EXIF:UserComment"] == "hang"
    assert "Composite:EvidockTestHang" not in answer.data
