"""View copies for a party (issue 17): the lines burned into the picture by real ffmpeg."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.errors import UsageError
from ingest.export.fonts import cjk_font
from ingest.media import transcode as tc
from ingest.media.probe import ffprobe, require_tool
from ingest.media.simcam import make_clip, make_jpeg, make_wav
from ingest.media.sniff import MP4
from ingest.media.streams import summarize

HOSTILE = "张三'; drawtext=text=x:%{pts}\\"
LINES = (f"接收方 / Recipient: 当事人 {HOSTILE}", "案件 / Case: A-2026-0017",
         "日期 / Date: 2026-12-06", "用途 / Purpose: 查阅")  # fmt: skip
W, H = 640, 360
START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def gray_frame(path: Path, *, at_s: float, demuxer: str | None = None) -> bytes:
    """One decoded frame of ``path`` as W x H 8-bit gray pixels."""
    fmt = ["-f", demuxer] if demuxer else []
    out = subprocess.run(
        [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-ss", f"{at_s}", *fmt,
         "-i", str(path), "-frames:v", "1", "-vf", f"scale={W}:{H}",
         "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert len(out) == W * H
    return out


def region_diff(a: bytes, b: bytes, *, x0: int, y0: int, x1: int, y1: int) -> float:
    """The mean absolute difference of two gray frames inside a rectangle."""
    total = sum(abs(a[y * W + x] - b[y * W + x]) for y in range(y0, y1) for x in range(x0, x1))
    return total / ((x1 - x0) * (y1 - y0))


def duration(path: Path) -> float:
    got = ffprobe(path, container=MP4).data or {}
    return float(got["format"]["duration"])


def test_a_video_copy_has_the_lines_burned_in_at_top_and_bottom(tmp_path: Path) -> None:
    """The copy is H.264/AAC MP4, as long as its original, and its top and bottom bands differ
    from the original's while a corner with no text does not."""
    src = make_clip(tmp_path / "src.mp4", start=START, seconds=2, size=f"{W}x{H}", gps=None)
    dest = tmp_path / f"copy{tc.view_copy_suffix('video')}"
    tc.burn_in_copy(src, dest, lines=LINES, kind="video", font=cjk_font(), timeout_s=120)
    got = summarize(ffprobe(dest, container=MP4).data or {})
    assert (got.video_codec, got.audio_codec, got.width, got.height) == ("h264", "aac", W, H)
    assert abs(duration(dest) - duration(src)) < 0.1
    assert dest.read_bytes()[4:8] == b"ftyp" and b"moov" in dest.read_bytes()[:4096]  # faststart
    original, copy = gray_frame(src, at_s=1.0), gray_frame(dest, at_s=1.0)
    top = region_diff(original, copy, x0=12, y0=12, x1=200, y1=60)
    bottom = region_diff(original, copy, x0=12, y0=H - 60, x1=200, y1=H - 12)
    untouched = region_diff(original, copy, x0=W - 80, y0=H // 2 - 20, x1=W - 10, y1=H // 2 + 20)
    assert top > 20 and bottom > 20, (top, bottom)
    assert untouched < 5, untouched
    assert not list(tmp_path.glob(".*partial"))


def test_a_hostile_recipient_name_is_drawn_not_parsed(tmp_path: Path) -> None:
    """Quotes, a colon, %{pts} and a backslash in a name change nothing but the text: the
    frame with the hostile name differs from a plain one only inside the text band."""
    src = make_clip(tmp_path / "src.mp4", start=START, seconds=1, size=f"{W}x{H}", gps=None)
    plain, hostile = tmp_path / "plain.mp4", tmp_path / "hostile.mp4"
    tc.burn_in_copy(src, plain, lines=["张三"], kind="video", font=cjk_font(), timeout_s=120)
    tc.burn_in_copy(src, hostile, lines=[HOSTILE], kind="video", font=cjk_font(), timeout_s=120)
    a, b = gray_frame(plain, at_s=0.5), gray_frame(hostile, at_s=0.5)
    # the longer hostile line is drawn past where the plain one ends, on the same band
    assert region_diff(a, b, x0=90, y0=10, x1=300, y1=40) > 10
    assert region_diff(a, b, x0=0, y0=80, x1=W, y1=H // 2 - 30) < 5
    assert summarize(ffprobe(hostile, container=MP4).data or {}).video_codec == "h264"


def test_a_photo_copy_is_a_jpeg_with_the_lines_drawn(tmp_path: Path) -> None:
    """Photo: a JPEG whose bottom band differs from the original's."""
    src = make_jpeg(tmp_path / "src.jpg", taken=START)
    dest = tmp_path / f"copy{tc.view_copy_suffix('photo')}"
    tc.burn_in_copy(src, dest, lines=LINES, kind="photo", font=cjk_font(), timeout_s=60)
    assert dest.read_bytes()[:3] == b"\xff\xd8\xff"
    original = gray_frame(src, at_s=0, demuxer="jpeg_pipe")
    copy = gray_frame(dest, at_s=0, demuxer="jpeg_pipe")
    assert region_diff(original, copy, x0=8, y0=H - 40, x1=150, y1=H - 8) > 20


def test_an_audio_copy_is_aac_with_the_lines_in_its_metadata(tmp_path: Path) -> None:
    """Audio: AAC in M4A, as long as the original, its comment holding every line."""
    src = make_wav(tmp_path / "src.wav", seconds=2)
    dest = tmp_path / f"copy{tc.view_copy_suffix('audio')}"
    tc.burn_in_copy(src, dest, lines=LINES, kind="audio", font=cjk_font(), timeout_s=60)
    data = ffprobe(dest, container=MP4).data or {}
    assert summarize(data).audio_codec == "aac"
    assert abs(float(data["format"]["duration"]) - 2.0) < 0.1
    assert data["format"]["tags"]["comment"] == "\n".join(LINES)
    assert data["format"]["tags"]["title"] == LINES[0]


def test_a_failed_run_leaves_no_copy_and_names_the_error(tmp_path: Path) -> None:
    """A broken original or a timeout: TranscodeError, and neither the copy nor a partial file
    is left; no lines at all: refused before ffmpeg runs."""
    src = make_clip(tmp_path / "src.mp4", start=START, seconds=1, size="320x240", gps=None)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(src.read_bytes()[:4096])
    dest = tmp_path / "copy.mp4"
    with pytest.raises(tc.TranscodeError):
        tc.burn_in_copy(broken, dest, lines=LINES, kind="video", font=cjk_font(), timeout_s=60)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "src.mp4"]
    with pytest.raises(tc.TranscodeError, match="timed out"):
        tc.burn_in_copy(src, dest, lines=LINES, kind="video", font=cjk_font(), timeout_s=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "src.mp4"]
    with pytest.raises(UsageError, match="needs the lines"):
        tc.burn_in_copy(src, dest, lines=["", "\n"], kind="video", font=cjk_font(), timeout_s=9)


def test_a_kind_without_view_copies_is_refused() -> None:
    """Only video, audio and photo items have view copies."""
    assert [tc.view_copy_suffix(k) for k in ("video", "photo", "audio")] == [".mp4", ".jpg", ".m4a"]
    with pytest.raises(UsageError, match="no view copy"):
        tc.view_copy_suffix("document")


def test_a_silent_video_gets_a_silent_copy(tmp_path: Path) -> None:
    """A camera without a microphone: the copy has its one video stream and no audio."""
    src = tmp_path / "silent.mp4"
    subprocess.run(
        [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-f", "lavfi", "-i",
         "testsrc2=size=320x240:rate=25:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p",
         str(src)],
        check=True, timeout=60,
    )  # fmt: skip
    dest = tmp_path / "copy.mp4"
    tc.burn_in_copy(src, dest, lines=LINES, kind="video", font=cjk_font(), timeout_s=60)
    got = summarize(ffprobe(dest, container=MP4).data or {})
    assert (got.video_codec, got.audio_codec) == ("h264", None)
