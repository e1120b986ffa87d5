"""Deriving recording times and flags from tool output: pure, no tools run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ingest.media.kinds import FLAG_NOT_MEDIA, FLAG_PLAYLIST, wants_proxy
from ingest.media.probe import ProbeResult, ToolOutput
from ingest.media.sniff import MP4, Sniffed, sniff
from ingest.pipeline.facts import (
    FLAG_CLOCK_FUTURE,
    FLAG_DAMAGED,
    FLAG_NO_TIME,
    FLAG_UNREADABLE,
    SRC_CONTAINER,
    SRC_FILENAME,
    SRC_LOCAL,
    SRC_MTIME,
    derive_facts,
    filename_time,
    parse_exif_time,
)
from storage.records import MediaFacts

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 27, tzinfo=UTC)
MTIME = int(datetime(2026, 11, 26, 12, 0, tzinfo=UTC).timestamp() * 1e9)


def _result(
    exif: dict[str, Any] | None,
    ff: dict[str, Any] | None = None,
    *,
    exif_error: str | None = None,
    ff_error: str | None = None,
) -> ProbeResult:
    return ProbeResult(
        exif=ToolOutput(tool="exiftool", data=exif, error=exif_error),
        ffprobe=None
        if ff is None and ff_error is None
        else ToolOutput(tool="ffprobe", data=ff, error=ff_error),
        sniffed=Sniffed(container=MP4),
    )


def _facts(result: ProbeResult, name: str = "clip.mp4") -> MediaFacts:
    return derive_facts(result, file_name=name, mtime_ns=MTIME, device_zone=SH, now=NOW)


def test_container_time_in_utc_wins_and_end_adds_duration() -> None:
    """A QuickTime creation time is UTC by definition; the end is start plus duration."""
    f = _facts(
        _result(
            {"File:MIMEType": "video/mp4", "QuickTime:CreateDate": "2026:11:26 01:30:00"},
            {"format": {"duration": "12.5"}, "streams": [{"codec_type": "video",
             "codec_name": "h264", "width": 1920, "height": 1080}]},
        )
    )  # fmt: skip
    assert f.recorded_start == datetime(2026, 11, 26, 1, 30, tzinfo=UTC)
    assert f.recorded_end == datetime(2026, 11, 26, 1, 30, 12, 500000, tzinfo=UTC)
    assert f.time_source == SRC_CONTAINER
    assert (f.video_codec, f.width, f.height, f.flags) == ("h264", 1920, 1080, ())


def test_zoned_metadata_time_uses_its_own_offset() -> None:
    """'2019:04:24 22:24:00+02:00 DST' (Sony MTS) is read with its offset, not the dock zone."""
    f = _facts(_result({"H264:DateTimeOriginal": "2019:04:24 22:24:00+02:00 DST"}))
    assert f.recorded_start == datetime(2019, 4, 24, 20, 24, tzinfo=UTC)
    assert f.time_source == SRC_CONTAINER


def test_exif_offset_time_applies_to_date_time_original() -> None:
    """A photo's OffsetTimeOriginal turns its local DateTimeOriginal into an exact instant."""
    f = _facts(_result({"EXIF:DateTimeOriginal": "2026:11:26 09:40:00",
                        "EXIF:OffsetTimeOriginal": "+08:00"}))  # fmt: skip
    assert f.recorded_start == datetime(2026, 11, 26, 1, 40, tzinfo=UTC)


def test_local_metadata_time_is_read_in_the_device_zone() -> None:
    """RIFF/AVI dates carry no zone: they are camera-clock local time."""
    f = _facts(_result({"RIFF:DateTimeOriginal": "2012:09:10 20:52:00"}))
    assert f.recorded_start == datetime(2012, 9, 10, 12, 52, tzinfo=UTC)
    assert f.time_source == SRC_LOCAL


def test_zeroed_container_time_falls_back_to_the_file_name() -> None:
    """'0000:00:00' is no time; a 'YYYYMMDD_HHMMSS' file name is used instead."""
    f = _facts(
        _result({"QuickTime:CreateDate": "0000:00:00 00:00:00"}),
        name="EV20191130-121256-000132.MP4",
    )
    assert f.recorded_start == datetime(2019, 11, 30, 4, 12, 56, tzinfo=UTC)
    assert f.time_source == SRC_FILENAME


def test_no_time_anywhere_uses_mtime_as_the_end_and_flags_it() -> None:
    """The file's mtime marks the end of a recording; the item says its time is weak."""
    f = _facts(_result({"QuickTime:Duration": 10.0}), name="VID.MP4")
    assert f.recorded_end == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert f.recorded_start == datetime(2026, 11, 26, 11, 59, 50, tzinfo=UTC)
    assert f.time_source == SRC_MTIME
    assert FLAG_NO_TIME in f.flags


def test_clock_in_the_future_is_flagged() -> None:
    """A camera clock set to 2099 is never silently believed."""
    f = _facts(_result({"QuickTime:CreateDate": "2099:01:01 00:00:00"}))
    assert FLAG_CLOCK_FUTURE in f.flags


def test_file_no_tool_can_read_is_flagged_unreadable_with_the_errors() -> None:
    """Both tools failing gives media_unreadable and keeps both error messages."""
    f = _facts(_result(None, None, exif_error="File format error", ff_error="Invalid data"))
    assert FLAG_UNREADABLE in f.flags
    assert f.probe_errors == ("exiftool: File format error", "ffprobe: Invalid data")


def test_video_whose_streams_do_not_decode_is_flagged_damaged() -> None:
    """exiftool reads the header but ffprobe finds no decodable stream: media_damaged."""
    f = _facts(_result({"File:MIMEType": "video/mp4"}, {}, ff_error="moov atom not found"))
    assert f.flags[-1] == FLAG_DAMAGED
    assert FLAG_UNREADABLE not in f.flags


def test_null_island_and_half_coordinates_are_not_a_position() -> None:
    """GPS 0,0 (no fix) and a latitude without longitude are dropped, not stored as a place."""
    assert (
        _facts(_result({"Composite:GPSLatitude": 0, "Composite:GPSLongitude": 0})).gps_lat is None
    )
    assert _facts(_result({"Composite:GPSLatitude": 0.48})).gps_lat is None
    f = _facts(_result({"Composite:GPSLatitude": 31.23, "Composite:GPSLongitude": 121.47}))
    assert (f.gps_lat, f.gps_lon) == (31.23, 121.47)


def test_exif_time_parser_rejects_garbage_and_handles_fractions() -> None:
    """Fuzzed date strings give None; fractions of a second are kept."""
    assert parse_exif_time("E??\rAVI RIFF", SH) is None
    assert parse_exif_time("2026:13:45 99:00:00", SH) is None
    t = parse_exif_time("2026:11:26 01:30:00.25Z", SH)
    assert t == datetime(2026, 11, 26, 1, 30, 0, 250000, tzinfo=UTC)
    assert filename_time("IMG_0001.JPG", SH) is None


def test_file_only_ffprobe_can_read_is_flagged_metadata_unreadable() -> None:
    """exiftool fails but the audio decodes: the recording is fine, its metadata is not."""
    f = _facts(_result(None, {"streams": [{"codec_type": "audio", "codec_name": "mp3"}]},
                       exif_error="File format error"))  # fmt: skip
    assert f.flags == ("time_from_mtime", "metadata_unreadable")
    assert f.audio_codec == "mp3"


def test_a_file_that_is_no_container_is_flagged_and_says_why_ffprobe_did_not_run() -> None:
    """Text exiftool reads, and a playlist it cannot: flagged, the reason kept, no proxy job."""
    text = ProbeResult(exif=ToolOutput(tool="exiftool", data={"File:MIMEType": "text/plain"},
                                       error=None),
                       ffprobe=None, sniffed=sniff(b"camera settings\n"))  # fmt: skip
    f = _facts(text, "SETTINGS.TXT")
    assert f.flags == (FLAG_NO_TIME, FLAG_NOT_MEDIA)
    assert f.probe_errors == ("ffprobe: not run: not a media container evidock reads (text)",)
    playlist = ProbeResult(exif=ToolOutput(tool="exiftool", data=None, error="Unknown file type"),
                           ffprobe=None, sniffed=sniff(b"#EXTM3U\n/media/a.mp4\n\x00"))  # fmt: skip
    f = _facts(playlist, "REC_0001.MP4")
    assert f.flags == (FLAG_NO_TIME, FLAG_NOT_MEDIA, FLAG_PLAYLIST, FLAG_UNREADABLE)
    assert f.probe_errors == (
        "exiftool: Unknown file type",
        "ffprobe: not run: an M3U/HLS playlist, which names other files (never followed)",
    )
    assert (f.mime_type, wants_proxy(f)) == (None, False)
