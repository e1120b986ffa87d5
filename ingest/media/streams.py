"""Streams and durations of a recording (from ffprobe's JSON), and whether a derivative made of
it is complete. Pure functions: ffmpeg can exit 0 having silently dropped a stream or stopped
early, so a proxy is only accepted when it has every stream it was asked for, each as long as
its source stream. What is wrong with a derivative is said in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from i18n import _

VIDEO_PROXY, AUDIO_PROXY, IMAGE = "video_proxy", "audio_proxy", "image"
_STILL_FORMATS = ("image2", "jpeg_pipe", "png_pipe", "webp_pipe", "tiff_pipe", "bmp_pipe",
                  "gif", "heif")  # fmt: skip
MAX_W, MAX_H = 1280, 720


@dataclass(frozen=True, slots=True, kw_only=True)
class Streams:
    """What one file holds: stream counts, the first video and audio stream, durations."""

    video: int = 0
    audio: int = 0
    video_index: int | None = None
    audio_index: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int = 0
    height: int = 0
    channels: int = 0
    duration_s: float | None = None
    video_duration_s: float | None = None
    audio_duration_s: float | None = None
    still: bool = False

    def describe(self) -> str:
        """What the file holds, for a person (the reader's language)."""
        return _(
            "{video} video stream(s) [{video_codec} {width}x{height}], {audio} audio stream(s) "
            "[{audio_codec}], {duration}"
        ).format(
            video=self.video, video_codec=self.video_codec or "-", width=self.width,
            height=self.height, audio=self.audio, audio_codec=self.audio_codec or "-",
            duration=_secs(self.duration_s),
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "audio": self.audio,
            "video_codec": self.video_codec,
            "audio_codec": self.audio_codec,
            "width": self.width,
            "height": self.height,
            "duration_s": _round(self.duration_s),
            "video_duration_s": _round(self.video_duration_s),
            "audio_duration_s": _round(self.audio_duration_s),
        }


def summarize(data: Mapping[str, Any]) -> Streams:
    """Streams of ffprobe's ``-show_format -show_streams`` JSON; cover art is not video."""
    video = [
        s for s in data.get("streams", [])
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]  # fmt: skip
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    fmt = data.get("format") or {}
    v, a = (video[0] if video else {}), (audio[0] if audio else {})
    duration = _float(fmt.get("duration"))
    formats = str(fmt.get("format_name", "")).split(",")
    return Streams(
        video=len(video),
        audio=len(audio),
        video_index=_int(v.get("index")) if video else None,
        audio_index=_int(a.get("index")) if audio else None,
        video_codec=v.get("codec_name"),
        audio_codec=a.get("codec_name"),
        width=_int(v.get("width")) or 0,
        height=_int(v.get("height")) or 0,
        channels=_int(a.get("channels")) or 0,
        duration_s=duration,
        video_duration_s=_float(v.get("duration")) or duration if video else None,
        audio_duration_s=_float(a.get("duration")) or duration if audio else None,
        still=any(f in _STILL_FORMATS for f in formats) and not audio,
    )


def tolerance(duration_s: float) -> float:
    """How far a derivative's duration may stray: a quarter second or 1 %, whichever is more
    (AAC priming and a last frame's length, never a lost stretch of recording)."""
    return max(0.25, 0.01 * duration_s)


def incomplete(check: str, source: Streams, out: Streams) -> list[str]:
    """Why ``out`` is not a complete derivative of ``source`` (empty when it is)."""
    problems: list[str] = []
    if check == IMAGE:
        if out.video != 1 or out.width <= 0 or out.height <= 0:
            problems.append(_("expected one picture, found {found}").format(found=out.describe()))
        return problems
    if check == VIDEO_PROXY:
        if source.video and out.video != 1:
            problems.append(
                _("source has {source} video stream(s), proxy has {proxy}").format(
                    source=source.video, proxy=out.video
                )
            )
        if out.video and (out.width > MAX_W or out.height > MAX_H):
            problems.append(
                _("proxy is {width}x{height}, above {max_width}x{max_height}").format(
                    width=out.width, height=out.height, max_width=MAX_W, max_height=MAX_H
                )
            )
        if out.video:
            problems += _duration(_("video"), source.video_duration_s, out.video_duration_s)
    elif out.video:
        problems.append(_("an audio proxy with {video} video stream(s)").format(video=out.video))
    if source.audio and out.audio != 1:
        problems.append(
            _("source has {source} audio stream(s), proxy has {proxy}").format(
                source=source.audio, proxy=out.audio
            )
        )
    if source.audio and out.audio:
        problems += _duration(_("audio"), source.audio_duration_s, out.audio_duration_s)
    return problems


def _duration(what: str, source: float | None, out: float | None) -> list[str]:
    if source is None or source <= 0:
        return []  # a source that does not say how long it is: nothing to compare with
    if out is None:
        return [
            _("{what} of the proxy has no duration, source has {source}").format(
                what=what, source=_secs(source)
            )
        ]
    if abs(out - source) > tolerance(source):
        return [
            _("{what} lasts {proxy} in the proxy but {source} in the source").format(
                what=what, proxy=_secs(out), source=_secs(source)
            )
        ]
    return []


def _secs(value: float | None) -> str:
    if value is None:
        return _("unknown duration")
    return _("{seconds} s").format(seconds=f"{value:.3f}")


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _float(value: object) -> float | None:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if f == f and f >= 0 else None  # NaN and negatives are unknowns


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        return None
    try:
        return int(value)
    except ValueError:
        return None
