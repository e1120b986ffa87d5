"""Adapter for ffmpeg (through ffmpeg-python): the only module that imports ``ffmpeg``.

Command lines are built from fixed templates; the only inputs are a path of the evidence store
(the stored copy, never a device path), a path of a staging file, stream indexes and numbers
from ffprobe and the [worker] settings. Inputs are opened as the container their first bytes
show (``ingest.media.sniff``) with that demuxer alone and ``-protocol_whitelist file``: a stored
playlist is never followed to other files.
ffmpeg runs below acquisition's priority (``nice``, I/O class idle), dies with its worker
(``setpriv --pdeathsig``), reports progress on ``-progress pipe:1`` and is killed at a
timeout or when the worker stops.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from i18n import N_, _
from ingest.errors import IngestError, UsageError
from ingest.media.kinds import AUDIO, PHOTO, VIDEO
from ingest.media.probe import TOOL_ENV, die_with_parent, input_options, require_tool, sniff_file
from ingest.media.sniff import Container

logger = logging.getLogger(__name__)

GLOBAL_ARGS = ("-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
               "-progress", "pipe:1")  # fmt: skip
MAX_W, MAX_H = 1280, 720
THUMB_W = 320
SOURCE, OUTPUT = "{source}", "{output}"


class TranscodeError(IngestError):
    code = "transcode-failed"
    hint = N_("The original is untouched; the job is retried, then shown as 'no proxy: <reason>'.")


class TranscodeStopped(IngestError):
    code = "transcode-stopped"
    hint = N_("The worker is stopping; the job goes back to the queue.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """One ffmpeg run: its arguments (after the executable) with real paths."""

    args: tuple[str, ...]
    source: Path
    output: Path

    def recorded(self) -> list[str]:
        """The arguments as the custody log keeps them: paths replaced by placeholders."""
        src, out = f"file:{self.source}", f"file:{self.output}"
        return [SOURCE if a == src else OUTPUT if a == out else a for a in self.args]


Node = Any  # ffmpeg-python's stream nodes (the library is untyped)


def _compile(node: Node, source: Path, output: Path) -> Command:
    args = node.compile(cmd="ffmpeg", overwrite_output=True)
    return Command(args=(*GLOBAL_ARGS, *args[1:]), source=source, output=output)


def _input(source: Path, container: Container, **opts: object) -> Node:
    return ffmpeg.input(f"file:{source}", **input_options(container), **opts)


def _fit(stream: Node, w: int, h: int) -> Node:
    """Scale down to fit w x h keeping the aspect ratio, even dimensions; never up."""
    return stream.filter(
        "scale", w=f"min({w},iw)", h=f"min({h},ih)",
        force_original_aspect_ratio="decrease", force_divisible_by=2,
    )  # fmt: skip


def video_proxy(
    source: Path, output: Path, *, container: Container, video: int, audio: int | None,
    channels: int, preset: str, crf: int,
) -> Command:  # fmt: skip
    """H.264 (libx264) at most 1280x720, AAC, MP4 with the index in front (+faststart)."""
    i = _input(source, container)
    streams = [_fit(i[str(video)], MAX_W, MAX_H)]
    # the source's own frame timing (body cameras and phones record variable frame rates):
    # no frame duplicated or dropped, so the proxy lasts as long as its source
    opts: dict[str, object] = {"c:v": "libx264", "preset": preset, "crf": crf,
                               "pix_fmt": "yuv420p", "fps_mode": "passthrough"}  # fmt: skip
    if audio is not None:
        streams.append(i[str(audio)])
        opts.update({"c:a": "aac", "b:a": "128k", "ac": max(1, min(channels, 2))})
    node = ffmpeg.output(*streams, f"file:{output}", f="mp4", movflags="+faststart",
                         map_metadata=-1, **opts)  # fmt: skip
    return _compile(node, source, output)


def audio_proxy(
    source: Path, output: Path, *, container: Container, audio: int, channels: int
) -> Command:
    """AAC in an M4A (MP4) with the index in front."""
    i = _input(source, container)
    node = ffmpeg.output(
        i[str(audio)], f"file:{output}", f="ipod", movflags="+faststart", map_metadata=-1,
        **{"c:a": "aac", "b:a": "128k", "ac": max(1, min(channels, 2))},
    )  # fmt: skip
    return _compile(node, source, output)


def poster(source: Path, output: Path, *, container: Container, video: int, at_s: float) -> Command:
    """One JPEG frame at ``at_s`` seconds, fitted in 1280x720."""
    i = _input(source, container, ss=f"{at_s:.3f}")
    node = ffmpeg.output(
        _fit(i[str(video)], MAX_W, MAX_H), f"file:{output}",
        f="image2", update=1, frames=1, **{"c:v": "mjpeg", "q:v": 3},
    )  # fmt: skip
    return _compile(node, source, output)


def contact_sheet(
    source: Path, output: Path, *, container: Container, video: int, times: Sequence[float],
    cols: int,
) -> Command:  # fmt: skip
    """One JPEG of ``len(times)`` frames, ``cols`` per row, each 320 wide (one seek each)."""
    frames = [
        _fit(_input(source, container, ss=f"{t:.3f}")[str(video)], THUMB_W, THUMB_W)
        .filter("trim", end_frame=1)
        .filter("setpts", "PTS-STARTPTS")
        for t in times
    ]
    rows = -(-len(frames) // cols)
    sheet = ffmpeg.concat(*frames, v=1, a=0).filter("tile", f"{cols}x{rows}", padding=4, margin=4)
    node = ffmpeg.output(sheet, f"file:{output}", f="image2", update=1, frames=1,
                         **{"c:v": "mjpeg", "q:v": 3})  # fmt: skip
    return _compile(node, source, output)


def waveform(source: Path, output: Path, *, container: Container, audio: int) -> Command:
    """A PNG of the whole recording's waveform, 1280x240."""
    i = _input(source, container)
    wave = (
        i[str(audio)]
        .filter("aformat", channel_layouts="mono")
        .filter("showwavespic", s="1280x240", colors="0x3070c0")
    )
    node = ffmpeg.output(wave, f"file:{output}", f="image2", update=1, frames=1,
                         **{"c:v": "png"})  # fmt: skip
    return _compile(node, source, output)


def photo(source: Path, output: Path, *, container: Container, video: int) -> Command:
    """A JPEG whose longer side is at most 1280."""
    i = _input(source, container)
    node = ffmpeg.output(
        _fit(i[str(video)], MAX_W, MAX_W), f"file:{output}",
        f="image2", update=1, frames=1, **{"c:v": "mjpeg", "q:v": 3},
    )  # fmt: skip
    return _compile(node, source, output)


# View copies for a party (issue 17): the recipient, case, date and purpose drawn into every
# frame, at the top and the bottom on a half-transparent box and once more, fainter, across the
# middle, so that cropping a band away leaves the other two. The lines reach drawtext through a
# file of ours with expansion off: a name holding quotes, colons, backslashes or %{...} is drawn
# as it is and never read as filter syntax or an expression.
VIEW_COPY_SUFFIX = {VIDEO: ".mp4", PHOTO: ".jpg", AUDIO: ".m4a"}
BURN_FONT_SIZE = "max(12,min(h/26,w/34))"  # four lines fit a 1280x720 frame or a portrait one
_BOX = {"box": 1, "boxcolor": "black@0.55", "boxborderw": 6, "fontcolor": "white"}
_PLACES = (  # (x, y, style)
    ("10", "10", _BOX),
    ("10", "h-th-10", _BOX),
    ("(w-tw)/2", "(h-th)/2", {"fontcolor": "white@0.4", "borderw": 1, "bordercolor": "black@0.4"}),
)


def view_copy_suffix(kind: str) -> str:
    """The file suffix of a view copy of an item of media ``kind`` (ingest.media.kinds)."""
    try:
        return VIEW_COPY_SUFFIX[kind]
    except KeyError:
        raise UsageError(
            _("an item of kind {kind} has no view copy").format(kind=repr(kind)),
            hint=_("Export its original instead (video, audio and photo items have view copies)."),
        ) from None


def _burned(stream: Node, *, textfile: Path, font: Path) -> Node:
    for x, y, style in _PLACES:
        stream = stream.filter(
            "drawtext", fontfile=str(font), textfile=str(textfile), expansion="none",
            fontsize=BURN_FONT_SIZE, line_spacing=4, x=x, y=y, **style,
        )  # fmt: skip
    return stream


def burn_in(
    source: Path, output: Path, *, container: Container, kind: str, textfile: Path,
    comment: str, font: Path,
) -> Command:  # fmt: skip
    """The ffmpeg run that makes a view copy of ``source``: video -> H.264/AAC MP4 (at most
    1280x720, the source's frame timing) and photo -> JPEG, both with ``textfile``'s lines drawn
    in; audio -> AAC in M4A. Every kind carries ``comment`` in its metadata."""
    i = _input(source, container)
    meta = {"map_metadata": -1, "metadata": f"comment={comment}",
            "metadata:g": f"title={comment.splitlines()[0] if comment else ''}"}  # fmt: skip
    if kind == VIDEO:
        video = _burned(_fit(i["v:0"], MAX_W, MAX_H), textfile=textfile, font=font)
        node = ffmpeg.output(
            video, i["a:0?"], f"file:{output}", f="mp4", movflags="+faststart", **meta,
            **{"c:v": "libx264", "preset": "veryfast", "crf": 23, "pix_fmt": "yuv420p",
               "fps_mode": "passthrough", "c:a": "aac", "b:a": "128k", "ac": 2},
        )  # fmt: skip
    elif kind == PHOTO:
        picture = _burned(_fit(i["v:0"], MAX_W, MAX_W), textfile=textfile, font=font)
        node = ffmpeg.output(picture, f"file:{output}", f="image2", update=1, frames=1,
                             **{"c:v": "mjpeg", "q:v": 3})  # fmt: skip
    elif kind == AUDIO:
        node = ffmpeg.output(
            i["a:0"], f"file:{output}", f="ipod", movflags="+faststart", **meta,
            **{"c:a": "aac", "b:a": "128k", "ac": 2},
        )  # fmt: skip
    else:
        view_copy_suffix(kind)  # raises
        raise AssertionError(kind)
    return _compile(node, source, output)


def _one_line(text: str) -> str:
    """A line as drawn: no line breaks or other control characters of its own."""
    return "".join(" " if not c.isprintable() else c for c in text).strip()


def burn_in_copy(
    original: Path, dest: Path, *, lines: Sequence[str], kind: str, font: Path, timeout_s: float
) -> None:
    """Make ``dest``, a view copy of the stored ``original`` for a party, with ``lines``
    (recipient, case, date, purpose) burned in (video, photo) or in its metadata (audio).

    ``dest``'s suffix is ``view_copy_suffix(kind)``. ffmpeg writes a temporary file beside it,
    renamed into place only when the run succeeded. Raises TranscodeError (ffmpeg's own
    error line), ToolMissing, or UsageError for a kind that has no view copy or no lines."""
    view_copy_suffix(kind)
    text = "\n".join(line for line in map(_one_line, lines) if line)
    if not text:
        raise UsageError(
            _("a view copy needs the lines it carries"),
            hint=_("Give the recipient, case, date and purpose."),
        )
    container = sniff_file(original).container
    if container is None:
        raise TranscodeError(_("the original is no media container"))
    partial = dest.with_name(f".{dest.name}.partial")
    with tempfile.TemporaryDirectory(prefix="evidock-burn-") as tmp:
        textfile = Path(tmp) / "lines.txt"
        textfile.write_text(text, encoding="utf-8")
        cmd = burn_in(original, partial, container=container, kind=kind, textfile=textfile,
                      comment=text, font=font)  # fmt: skip
        try:
            run(cmd, timeout_s=timeout_s, duration_s=None)
            os.replace(partial, dest)
        finally:
            partial.unlink(missing_ok=True)


@functools.lru_cache(maxsize=4)
def tool_version(executable: str = "ffmpeg") -> str:
    """'ffmpeg <version> (libavcodec <version>)' of the installed ffmpeg."""
    exe = require_tool(executable)
    out = subprocess.run(
        [exe, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.splitlines()
    version = out[0].split()[2] if out and len(out[0].split()) > 2 else "unknown"
    codec = next((ln.split()[1] + ln.split()[2] for ln in out if ln.startswith("libavcodec")), "")
    return f"ffmpeg {version}" + (f" (libavcodec {codec})" if codec else "")


@functools.lru_cache(maxsize=4)
def priority_prefix(nice: int) -> tuple[str, ...]:
    """Wrappers that lower ffmpeg below acquisition and kill it with its worker thread."""
    prefix: list[str] = list(die_with_parent())
    ionice, nice_exe = shutil.which("ionice"), shutil.which("nice")
    if ionice:
        prefix += [ionice, "-c3"]
    if nice_exe and nice:
        prefix += [nice_exe, "-n", str(nice)]
    return tuple(prefix)


def run(
    cmd: Command,
    *,
    executable: str = "ffmpeg",
    timeout_s: float,
    duration_s: float | None,
    nice: int = 10,
    on_progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> float:
    """Run one command to its end; returns the seconds it took. Raises TranscodeError with the
    tool's own error line, or TranscodeStopped when ``should_stop`` turns true."""
    argv = [*priority_prefix(nice), require_tool(executable), *cmd.args]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        close_fds=True, env=dict(TOOL_ENV),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    err = bytearray()
    buf = b""
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            sel.register(proc.stderr, selectors.EVENT_READ)
            while sel.get_map():
                if should_stop():
                    raise TranscodeStopped(_("the worker is stopping"))
                if time.monotonic() - started > timeout_s:
                    raise TranscodeError(
                        _("ffmpeg timed out after {seconds} s").format(seconds=f"{timeout_s:.0f}")
                    )
                for key, _mask in sel.select(timeout=0.25):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                    elif key.fileobj is proc.stderr:
                        err += chunk[: max(0, 65536 - len(err))]
                    else:
                        buf = _progress(buf + chunk, duration_s, on_progress)
        code = proc.wait(timeout=max(1.0, timeout_s - (time.monotonic() - started)))
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
        proc.stderr.close()
    if code != 0:
        raise TranscodeError(
            _("ffmpeg failed (exit {code}): {error}").format(
                code=code, error=_last_line(bytes(err))
            )
        )
    return time.monotonic() - started


def _progress(
    buf: bytes, duration_s: float | None, on_progress: Callable[[float], None] | None
) -> bytes:
    """Consume complete 'key=value' lines of -progress; report out_time as a percentage."""
    *lines, rest = buf.split(b"\n")
    for line in lines:
        key, _equals, value = line.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and on_progress and duration_s and value.isdigit():
            on_progress(min(100.0, int(value) / 1e6 / duration_s * 100))
        elif key == "progress" and value == "end" and on_progress:
            on_progress(100.0)
    return rest


_GENERIC = (
    "Error marking filters as finished",
    "Conversion failed!",
    "Error while filtering",
    "Error while processing the decoded data",
    "Nothing was written into output file",
)
_CONTEXT = re.compile(r"^\[[\w:,-]+ @ 0x[0-9a-f]+\] ")


def _last_line(err: bytes) -> str:
    """The most telling line of ffmpeg's errors: the last one that is not a generic summary,
    without the context address ('[h264 @ 0x55..] ') or an input path."""
    lines = [ln.strip() for ln in err.decode("utf-8", "replace").splitlines() if ln.strip()]
    telling = [ln for ln in lines if not ln.startswith(_GENERIC)] or lines
    if not telling:
        return _("no error message")
    return tidy(telling[-1])


def tidy(line: str) -> str:
    """A tool's error line fit for a listing: no context address, no path of ours."""
    line = _CONTEXT.sub(lambda m: m.group(0).split(" @ ")[0][1:] + ": ", line)
    return re.sub(r"file:/\S+?: ", "", line)[:300]
