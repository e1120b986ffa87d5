"""What a recording is, from what the tools said: pure functions over their JSON output.

Times: a container time with an explicit zone or in UTC wins; then local-time metadata read in
the device clock's zone; then a timestamp in the file name; last the file's mtime, which marks
the end of a recording. The chosen source is always recorded next to the time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.cases.rules import OFFICER_MISMATCH
from ingest.media.kinds import FLAG_NOT_MEDIA, FLAG_PLAYLIST
from ingest.media.probe import ProbeResult
from storage.records import MediaFacts

SRC_CONTAINER = "container"
SRC_LOCAL = "metadata-local"
SRC_FILENAME = "filename"
SRC_MTIME = "file-mtime"

FLAG_UNREADABLE = "media_unreadable"
FLAG_DAMAGED = "media_damaged"
FLAG_NO_METADATA = "metadata_unreadable"
FLAG_NO_TIME = "time_from_mtime"
FLAG_CLOCK_FUTURE = "clock_in_future"
FLAG_IMPORTANT = "camera_marked_important"  # ingest.cases.rules links these
FLAG_OFFICER_MISMATCH = OFFICER_MISMATCH  # the file name names another officer than the holder

OFFICER_ASSIGNED = "assignment"
OFFICER_FILENAME = "file-name"

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_EXIF_DT = re.compile(
    r"^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_NAME_DT = re.compile(
    r"(?<!\d)(20\d{2})[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])[-_T ]?"
    r"([01]\d|2[0-3])[-_.:]?([0-5]\d)[-_.:]?([0-5]\d)(?!\d)"
)
# Tags whose value carries its own zone (or is UTC by the format's definition).
_ZONED_TAGS = (
    "Keys:CreationDate",
    "QuickTime:CreationDate",
    "H264:DateTimeOriginal",
    "XMP:DateTimeOriginal",
)
_UTC_TAGS = ("QuickTime:CreateDate", "QuickTime:MediaCreateDate", "QuickTime:TrackCreateDate")
_LOCAL_TAGS = (
    "EXIF:DateTimeOriginal",
    "EXIF:CreateDate",
    "RIFF:DateTimeOriginal",
    "DV:DateTimeOriginal",
    "Composite:DateTimeOriginal",
    "MakerNotes:DateTimeOriginal",
)
_DURATION_TAGS = (
    "QuickTime:Duration",
    "Composite:Duration",
    "M2TS:Duration",
    "DV:Duration",
    "RIFF:Duration",
)


def parse_exif_time(value: object, zone: ZoneInfo, *, assume_utc: bool = False) -> datetime | None:
    """An exiftool date ('YYYY:MM:DD HH:MM:SS[.f][±HH:MM]') as aware UTC, or None if unset."""
    if not isinstance(value, str):
        return None
    m = _EXIF_DT.match(value.strip())
    if not m:
        return None
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    micro = round(float(frac) * 1_000_000) if frac else 0
    try:
        naive = datetime(y, mo, d, h, mi, s, min(micro, 999_999))
    except ValueError:
        return None
    off = m.group(8)
    if off == "Z" or (off is None and assume_utc):
        dt = naive.replace(tzinfo=UTC)
    elif off:
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        dt = (naive - sign * delta).replace(tzinfo=UTC)
    else:
        dt = naive.replace(tzinfo=zone).astimezone(UTC)
    return dt if dt >= _EARLIEST else None


def parse_iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    dt = dt.astimezone(UTC)
    return dt if dt >= _EARLIEST else None


def filename_time(name: str, zone: ZoneInfo, pattern: str | None = None) -> datetime | None:
    """A 'YYYYMMDD[-_]HHMMSS'-style timestamp in a file name, read in the device's zone.

    A profile's ``pattern`` names the timestamp as group ``start`` (14 digits once the
    separators are dropped)."""
    if pattern is not None:
        pm = re.search(pattern, name)
        if not pm or "start" not in pm.groupdict():
            return None
        digits = re.sub(r"\D", "", pm.group("start"))
        m = _NAME_DT.fullmatch(digits) if len(digits) == 14 else None
    else:
        m = _NAME_DT.search(name)
    if not m:
        return None
    try:
        y, mo, d, h, mi, s = (int(g) for g in m.groups())
        naive = datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None
    return naive.replace(tzinfo=zone).astimezone(UTC)


def derive_facts(
    result: ProbeResult,
    *,
    file_name: str,
    mtime_ns: int,
    device_zone: ZoneInfo,
    now: datetime,
    time_pattern: str | None = None,
    important_pattern: str | None = None,
) -> MediaFacts:
    exif: Mapping[str, Any] = result.exif.data or {}
    ff: Mapping[str, Any] = (result.ffprobe.data if result.ffprobe else None) or {}
    fmt: Mapping[str, Any] = ff.get("format", {}) or {}
    streams = [s for s in ff.get("streams", []) or [] if isinstance(s, dict)]
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)

    duration = _duration(fmt, exif)
    start, source = _start_time(exif, fmt, file_name, device_zone, time_pattern)
    flags: list[str] = []
    if important_pattern is not None and re.search(important_pattern, file_name):
        flags.append(FLAG_IMPORTANT)
    if start is not None:
        end = start + timedelta(seconds=duration) if duration else start
    else:
        end = datetime.fromtimestamp(mtime_ns / 1e9, UTC)
        start = end - timedelta(seconds=duration) if duration else end
        source = SRC_MTIME
        flags.append(FLAG_NO_TIME)
    if start > now + timedelta(hours=1):
        flags.append(FLAG_CLOCK_FUTURE)

    errors: list[str] = []
    exif_failed = result.exif.data is None or result.exif.error is not None
    if result.exif.error:
        errors.append(f"exiftool: {result.exif.error}")
    ff_failed = result.ffprobe is not None and result.ffprobe.error is not None
    if result.ffprobe is not None and result.ffprobe.error:
        errors.append(f"ffprobe: {result.ffprobe.error}")
    if result.sniffed.container is None:
        flags.append(FLAG_NOT_MEDIA)
        if result.sniffed.playlist is not None:
            flags.append(FLAG_PLAYLIST)
        errors.append(f"ffprobe: not run: {result.sniffed.describe()}")
    if exif_failed and (result.ffprobe is None or ff_failed):
        flags.append(FLAG_UNREADABLE)
    elif ff_failed:
        flags.append(FLAG_DAMAGED)
    elif exif_failed:
        flags.append(FLAG_NO_METADATA)

    width = _int(video.get("width")) if video else _int(exif.get("File:ImageWidth"))
    height = _int(video.get("height")) if video else _int(exif.get("File:ImageHeight"))
    lat, lon = _gps(exif)
    mime = exif.get("File:MIMEType")
    return MediaFacts(
        mime_type=str(mime)
        if mime
        else (str(fmt["format_name"]) if "format_name" in fmt else None),
        recorded_start=start,
        recorded_end=end,
        time_source=source,
        duration_s=duration,
        video_codec=str(video["codec_name"]) if video and "codec_name" in video else None,
        audio_codec=str(audio["codec_name"]) if audio and "codec_name" in audio else None,
        width=width,
        height=height,
        make=_text_tag(exif, ("Make",)),
        model=_text_tag(exif, ("Model",)),
        camera_serial=_text_tag(
            exif, ("SerialNumber", "CameraSerialNumber", "InternalSerialNumber")
        ),
        gps_lat=lat,
        gps_lon=lon,
        flags=tuple(flags),
        probe_errors=tuple(errors),
    )


def _start_time(
    exif: Mapping[str, Any],
    fmt: Mapping[str, Any],
    file_name: str,
    zone: ZoneInfo,
    time_pattern: str | None,
) -> tuple[datetime | None, str | None]:
    for tag in _ZONED_TAGS:
        value = exif.get(tag)
        if isinstance(value, str) and re.search(r"(Z|[+-]\d{2}:?\d{2})", value[19:]):
            dt = parse_exif_time(value, zone)
            if dt is not None:
                return dt, SRC_CONTAINER
    offset = exif.get("EXIF:OffsetTimeOriginal")
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d{2}:\d{2}", offset.strip()):
        value = exif.get("EXIF:DateTimeOriginal")
        if isinstance(value, str):
            dt = parse_exif_time(value.strip()[:19] + offset.strip(), zone)
            if dt is not None:
                return dt, SRC_CONTAINER
    tags = fmt.get("tags") or {}
    iso = parse_iso_time(tags.get("creation_time")) if isinstance(tags, dict) else None
    if (
        iso is not None
        and isinstance(tags.get("creation_time"), str)
        and "T" in tags["creation_time"]
    ):
        return iso, SRC_CONTAINER
    for tag in _UTC_TAGS:
        dt = parse_exif_time(exif.get(tag), zone, assume_utc=True)
        if dt is not None:
            return dt, SRC_CONTAINER
    for tag in _LOCAL_TAGS:
        dt = parse_exif_time(exif.get(tag), zone)
        if dt is not None:
            return dt, SRC_LOCAL
    named = filename_time(file_name, zone, time_pattern)
    if named is not None:
        return named, SRC_FILENAME
    return None, None


def _duration(fmt: Mapping[str, Any], exif: Mapping[str, Any]) -> float | None:
    for value in (fmt.get("duration"), *(exif.get(t) for t in _DURATION_TAGS)):
        try:
            d = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if d > 0 and d < 7 * 86400:
            return round(d, 6)
    return None


def _gps(exif: Mapping[str, Any]) -> tuple[float | None, float | None]:
    lat, lon = exif.get("Composite:GPSLatitude"), exif.get("Composite:GPSLongitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return float(lat), float(lon)


def _text_tag(exif: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    for name in names:
        for key, value in exif.items():
            if key.rsplit(":", 1)[-1] == name and isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and value > 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attribution:
    badge: str | None  # whom the item is attributed to
    source: str | None  # OFFICER_ASSIGNED, OFFICER_FILENAME, or None
    claimed: str | None  # the officer number the file name carries
    mismatch: bool  # the name and the assignment disagree: shown, not resolved


def attribute_officer(
    *, assigned: str | None, claimed: str | None, claimed_registered: bool
) -> Attribution:
    """Who recorded an item: the device's holder at the time; the officer the file name names
    (GA/T 947) when nobody held it and that officer is registered. When both exist and differ,
    the holder stays and the disagreement is flagged for a person to settle."""
    if assigned is not None:
        return Attribution(
            badge=assigned,
            source=OFFICER_ASSIGNED,
            claimed=claimed,
            mismatch=claimed is not None and claimed != assigned,
        )
    if claimed is not None and claimed_registered:
        return Attribution(badge=claimed, source=OFFICER_FILENAME, claimed=claimed, mismatch=False)
    return Attribution(badge=None, source=None, claimed=claimed, mismatch=False)
