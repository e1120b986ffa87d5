"""A simulated body camera: a folder laid out like one, filled with media made by ffmpeg.

Used by ``evidock demo``, the tests and the benchmarks. It is never evidence and never a
device: the tools run here on files this module made itself, with fixed arguments.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.media.probe import require_tool

GPS = (31.2304, 121.4737)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedFile:
    path: Path
    kind: str
    recorded_start: datetime
    truncated: bool = False


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [require_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", *args],
        check=True,
        timeout=300,
    )


def make_clip(
    dest: Path,
    *,
    start: datetime,
    seconds: float = 3.0,
    size: str = "1920x1080",
    gps: tuple[float, float] | None = GPS,
    faststart: bool = True,
) -> Path:
    """An H.264/AAC MP4 with a container creation time (UTC) and, optionally, GPS."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    meta = ["-metadata", f"creation_time={start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"]
    if gps is not None:
        meta += ["-metadata", f"location={gps[0]:+08.4f}{gps[1]:+09.4f}/"]
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}",
        "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "96k", "-shortest", *meta,
        *(["-movflags", "+faststart"] if faststart else []), str(dest),
    )  # fmt: skip
    return dest


def make_wav(dest: Path, *, seconds: float = 3.0) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        "-f", "lavfi", "-i", f"sine=frequency=660:sample_rate=48000:duration={seconds}",
        "-c:a", "pcm_s16le", str(dest),
    )  # fmt: skip
    return dest


def make_jpeg(dest: Path, *, taken: datetime, zone_offset: str = "+08:00") -> Path:
    """A photo with EXIF DateTimeOriginal (local time + offset) and GPS, written by exiftool."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=1:duration=1",
        "-frames:v", "1", str(dest),
    )  # fmt: skip
    hours, minutes = int(zone_offset[1:3]), int(zone_offset[4:6])
    sign = -1 if zone_offset[0] == "-" else 1
    local = taken.astimezone(UTC) + sign * timedelta(hours=hours, minutes=minutes)
    subprocess.run(
        [
            require_tool("exiftool"), "-q", "-overwrite_original",
            f"-DateTimeOriginal={local:%Y:%m:%d %H:%M:%S}",
            f"-OffsetTimeOriginal={zone_offset}",
            "-Make=evidock", "-Model=SimCam BWC-1",
            f"-GPSLatitude={GPS[0]}", "-GPSLatitudeRef=N",
            f"-GPSLongitude={GPS[1]}", "-GPSLongitudeRef=E",
            str(dest),
        ],
        check=True,
        timeout=60,
        capture_output=True,
    )  # fmt: skip
    return dest


def truncate(path: Path, fraction: float = 0.4) -> Path:
    size = path.stat().st_size
    os.truncate(path, int(size * fraction))
    return path


def make_camera(
    root: Path,
    *,
    start: datetime,
    clips: int = 2,
    seconds: float = 3.0,
    size: str = "1920x1080",
    with_audio: bool = True,
    with_photo: bool = True,
    with_truncated: bool = True,
    zone: str = "Asia/Shanghai",
) -> list[SimulatedFile]:
    """Lay out a camera: DCIM clips named by their local start time (the camera clock runs in
    ``zone``), a WAV, a photo, a truncated clip."""
    tz = ZoneInfo(zone)
    media = root / "DCIM" / "100MEDIA"
    made: list[SimulatedFile] = []
    t = start
    for _ in range(clips):
        name = f"REC_{t.astimezone(tz):%Y%m%d_%H%M%S}.MP4"
        made.append(
            SimulatedFile(
                path=make_clip(media / name, start=t, seconds=seconds, size=size),
                kind="video",
                recorded_start=t,
            )
        )
        t += timedelta(seconds=seconds + 60)
    if with_audio:
        wav = make_wav(root / "AUDIO" / f"AUD_{t.astimezone(tz):%Y%m%d_%H%M%S}.WAV")
        made.append(SimulatedFile(path=wav, kind="audio", recorded_start=t))
        t += timedelta(seconds=seconds + 60)
    if with_photo:
        jpg = make_jpeg(
            media / "IMG_0001.JPG", taken=t, zone_offset=t.astimezone(tz).isoformat()[-6:]
        )
        made.append(SimulatedFile(path=jpg, kind="photo", recorded_start=t))
        t += timedelta(seconds=60)
    if with_truncated:
        name = f"REC_{t.astimezone(tz):%Y%m%d_%H%M%S}.MP4"
        # moov at the end, as a camera that lost power writes it: the cut leaves no index
        clip = make_clip(media / name, start=t, seconds=seconds, size=size, faststart=False)
        made.append(
            SimulatedFile(path=truncate(clip), kind="video", recorded_start=t, truncated=True)
        )
    return made
