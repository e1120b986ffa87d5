"""The ffmpeg adapter and the completeness check, without a catalog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.media import transcode as tc
from ingest.media.probe import ffprobe
from ingest.media.simcam import make_clip
from ingest.media.sniff import MP4
from ingest.media.streams import VIDEO_PROXY, incomplete, summarize
from tests.conftest import CLIP_START

CRASH_MOOV_TRAK = {  # ffprobe of ../shared/media/real/crash_moov-trak.mp4, abridged
    "streams": [
        {"index": 0, "codec_type": "video", "width": 0, "height": 0, "duration": "1.079000"},
        {
            "index": 1,
            "codec_type": "audio",
            "codec_name": "aac",
            "channels": 2,
            "duration": "1.060000",
        },
    ],
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "1.079000"},
}
AUDIO_ONLY_PROXY = {
    "streams": [{"index": 0, "codec_type": "audio", "codec_name": "aac", "duration": "1.069"}],
    "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "1.070000"},
}


def test_a_proxy_that_lost_a_stream_is_not_complete() -> None:
    """What plain ffmpeg makes of crash_moov-trak (audio only) is refused."""
    problems = incomplete(VIDEO_PROXY, summarize(CRASH_MOOV_TRAK), summarize(AUDIO_ONLY_PROXY))
    assert problems == ["source has 1 video stream(s), proxy has 0"]


@pytest.mark.parametrize(("size", "expected"), [("1920x1080", (1280, 720)),
                                                ("1080x1920", (404, 720))])  # fmt: skip
def test_a_clip_is_scaled_to_fit_720p_keeping_its_aspect_ratio(
    tmp_path: Path, size: str, expected: tuple[int, int]
) -> None:
    """1080p landscape and portrait clips: at most 1280x720, even sizes, aspect kept, and the
    progress reaches 100 %."""
    src = make_clip(tmp_path / "src.mp4", start=CLIP_START,
                    seconds=1, size=size, gps=None)  # fmt: skip
    out = tmp_path / "proxy.mp4"
    cmd = tc.video_proxy(src, out, container=MP4, video=0, audio=1, channels=1,
                         preset="ultrafast", crf=28)  # fmt: skip
    seen: list[float] = []
    tc.run(cmd, timeout_s=120, duration_s=1.0, on_progress=seen.append)
    got = summarize(ffprobe(out, container=MP4).data or {})
    assert (got.width, got.height) == expected and got.video_codec == "h264"
    assert seen and seen[-1] == 100.0


def test_ffmpeg_is_killed_at_its_timeout_and_its_error_is_reported(tmp_path: Path) -> None:
    """A run past its timeout is killed; a failing run reports ffmpeg's own error line."""
    src = make_clip(tmp_path / "src.mp4", start=CLIP_START,
                    seconds=2, size="320x240", gps=None)  # fmt: skip
    slow = tc.video_proxy(src, tmp_path / "o.mp4", container=MP4, video=0, audio=1,
                          channels=1, preset="placebo", crf=0)  # fmt: skip
    with pytest.raises(tc.TranscodeError, match="timed out"):
        tc.run(slow, timeout_s=0.01, duration_s=2.0)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    bad = tc.video_proxy(garbage, tmp_path / "o2.mp4", container=MP4, video=0, audio=None,
                         channels=0, preset="veryfast", crf=28)  # fmt: skip
    with pytest.raises(tc.TranscodeError, match="ffmpeg failed"):
        tc.run(bad, timeout_s=60, duration_s=None)


def test_ffmpeg_runs_below_acquisition_and_dies_with_its_worker() -> None:
    """The command is wrapped: parent-death signal, idle I/O class, CPU niceness."""
    prefix = tc.priority_prefix(10)
    assert "--pdeathsig" in prefix and "-c3" in prefix
    assert prefix[-3:][1:] == ("-n", "10")
