"""Adapter for the media tools: one persistent exiftool and ffprobe, on stored copies only.

exiftool runs as one ``-stay_open`` process per worker (never one process per file), through
PyExifTool, with no configuration file (``-config ""``: exiftool would otherwise run the Perl of
a ``.ExifTool_config`` in the working directory); ffprobe runs only for audio and video, where
exiftool cannot tell whether the streams decode. Both get fixed arguments, a path that evidock
chose (never a device name) and a timeout. A tool that hangs is killed and, for exiftool,
restarted for the next file.

exiftool's answers end with ``{ready<nonce>}`` on a line of its own, the nonce a fresh random
number per command: text in a file (a photo's UserComment holding ``{ready2}``) cannot end an
answer early and hand the rest to the next file. An answer is also bounded in size.

ffprobe opens a file only as the container its first bytes show (``ingest.media.sniff``), with that
demuxer alone: never as a playlist that would make it read other files.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
import selectors
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import exiftool  # PyExifTool: this module is its one importer
from exiftool.exceptions import (
    ExifToolJSONInvalidError,
    ExifToolNotRunning,
    ExifToolOutputEmptyError,
)

from i18n import _
from ingest.errors import ToolMissing
from ingest.media.sniff import HEAD_BYTES, Container, Sniffed, id3v2_end, sniff, sniff_after_id3

logger = logging.getLogger(__name__)

# -j comes with each command (PyExifTool's execute_json), the rest once, as -common_args
EXIFTOOL_ARGS = ("-G", "-n", "-api", "largefilesupport=1", "-charset", "filename=utf8")
FFPROBE_ARGS = (
    "-v",
    "error",
    "-show_format",
    "-show_streams",
    "-of",
    "json",
)
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # exiftool's JSON for one file; beyond it: an error
_NONCE_MIN = 10**17  # -execute numbers: 18 random digits


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolOutput:
    """What one tool said about one file: parsed JSON, or the error it gave."""

    tool: str
    data: dict[str, Any] | None
    error: str | None
    warning: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    exif: ToolOutput
    ffprobe: ToolOutput | None  # None: not run (a photo exiftool read, or no media container)
    sniffed: Sniffed


# Every media tool runs with this environment and nothing inherited (no FFREPORT, no
# LD_PRELOAD, no locale surprises); executables are resolved to absolute paths before.
TOOL_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C.UTF-8"}


@functools.lru_cache(maxsize=1)
def die_with_parent() -> tuple[str, ...]:
    """A prefix that makes a tool die with the thread that started it (``setpriv
    --pdeathsig KILL``), so a dock or ingest killed with SIGKILL leaves no exiftool, ffprobe or
    ffmpeg behind; empty where util-linux's setpriv is missing."""
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ToolMissing(_("{name} is not installed or not on PATH").format(name=name))
    return found


class AnswerTooLarge(OSError):
    """exiftool said more about one file than ``max_answer_bytes``."""


class _StayOpen(exiftool.ExifTool):  # type: ignore[misc]  # PyExifTool ships no types
    """PyExifTool's ``-stay_open`` process, started and read the way evidock needs.

    PyExifTool keeps the process: its common arguments (given once, with ``-common_args``),
    ``-config``, ``running``, ``version`` and ``execute_json``. Two of its methods are ours,
    for what PyExifTool 0.5 does not do (and ``stop`` replaces its ``terminate``):

    - ``run``: PyExifTool starts exiftool with the caller's whole environment and a ctypes
      ``preexec_fn`` for its death signal (unsafe in a process with threads, and SIGTERM).
      Here: ``die_with_parent()`` and ``TOOL_ENV``, and stderr discarded (nothing waits on it).
    - ``execute``: PyExifTool reads an answer with no deadline (its issues #95 and #105) and
      no size bound, and ends it at ``{ready<6 digits>}`` anywhere in the output. Here the end
      is ``{ready<18 digits from secrets>}`` alone on the last line, the answer is bounded by
      ``max_answer_bytes`` and ``timeout_s``, and any failure kills the process (the next
      ``run`` starts another).

    They set PyExifTool's ``_process``, ``_running`` and ``_ver`` as its own ``run`` does: the
    version is pinned below 0.6, and tests/ingest/test_exiftool_answers.py goes through each
    path.
    """

    _process: subprocess.Popen[bytes] | None  # PyExifTool's, typed here: it ships no types
    _running: bool

    def __init__(
        self,
        executable: str,
        *,
        common_args: list[str],
        config_file: str,
        timeout_s: float,
        max_answer_bytes: int,
    ) -> None:
        super().__init__(
            executable=executable,
            common_args=common_args,
            config_file=config_file,
            encoding="utf-8",
        )
        self.timeout_s = timeout_s
        self.max_answer_bytes = max_answer_bytes

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.alive() and self._process is not None else None

    def alive(self) -> bool:
        """Whether the process runs; one that died between files (killed from outside, or
        with the thread that started it: ``die_with_parent`` is per thread, and a file's
        probe may run on a thread of its own, ingest.pipeline.overlap) is cleaned up here
        (PyExifTool's ``running`` would warn, and leave its pipes open)."""
        proc = self._process
        if self._running and proc is not None and proc.poll() is not None:
            self.kill()
        return self._running

    def run(self) -> None:
        if self.alive():
            return
        config = [] if self.config_file is None else ["-config", self.config_file]
        self._process = subprocess.Popen(
            [*die_with_parent(), self.executable, *config, "-stay_open", "True", "-@", "-",
             "-common_args", *self.common_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            env=dict(TOOL_ENV),
        )  # fmt: skip
        self._running = True
        self._ver = self._parse_ver()

    def execute(self, *params: str | bytes, raw_bytes: bool = False) -> str | bytes:
        """One command's output without its end marker; a late or too long answer, or an
        exiftool that exits, raises ``OSError`` (``TimeoutError``, ``AnswerTooLarge``) after the
        process is killed."""
        if not self.alive():
            raise ExifToolNotRunning("Cannot execute()")  # untranslated: PyExifTool's, a bug
        nonce = _NONCE_MIN + secrets.randbelow(9 * _NONCE_MIN)
        end = f"{{ready{nonce}}}\n".encode()
        args = [p if isinstance(p, bytes) else p.encode(self.encoding) for p in params]
        try:
            out = self._answer(b"\n".join([*args, f"-execute{nonce}".encode(), b""]), end)
        except OSError:
            self.kill()
            raise
        return out if raw_bytes else out.decode(self.encoding, "replace")

    def _answer(self, command: bytes, end: bytes) -> bytes:
        proc = self._process
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(command)
        proc.stdin.flush()
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout_s
        out = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while not _answer_complete(out, end):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    # untranslated: a probe error, recorded in the item's custody event
                    raise TimeoutError("exiftool did not answer in time")
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise OSError("exiftool exited unexpectedly")
                out += chunk
                if len(out) > self.max_answer_bytes + len(end):
                    raise AnswerTooLarge(  # untranslated: a probe error, recorded as above
                        f"exiftool's answer exceeded {_size(self.max_answer_bytes)}; "
                        "its metadata was not read"
                    )
        return bytes(out[: -len(end)])

    def stop(self, timeout_s: float) -> None:
        """The orderly end (``-stay_open False``), killed if it takes longer than ``timeout_s``.
        Not PyExifTool's ``terminate``: a process that died between ``alive`` and its own
        check (with the thread that started it, ``die_with_parent``) makes it warn."""
        proc = self._process
        if not self.alive() or proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired, OSError, ValueError):
            proc.communicate(input=b"-stay_open\nFalse\n", timeout=timeout_s)
        self.kill()

    def kill(self) -> None:
        """Kill the process in the middle of an answer (no ``-stay_open False``: it may hang)."""
        proc = self._process
        self._flag_running_false()
        if proc is None:
            return
        proc.kill()
        proc.wait()
        for f in (proc.stdin, proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


class ExifTool:
    """One persistent exiftool (PyExifTool's) for a worker, with a per-file deadline and a
    bound on each answer; a file that makes it hang or say too much costs only its own
    metadata: the process is killed and the next file starts another."""

    def __init__(
        self,
        executable: str = "exiftool",
        *,
        timeout_s: float = 60.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        config_file: Path | None = None,
    ) -> None:
        self._et = _StayOpen(
            require_tool(executable),
            common_args=list(EXIFTOOL_ARGS),
            config_file="" if config_file is None else str(config_file),  # "": no config at all
            timeout_s=timeout_s,
            max_answer_bytes=max_answer_bytes,
        )
        self.version = ""

    @property
    def pid(self) -> int | None:
        """The running exiftool's process id; None between a killed one and the next file."""
        return self._et.pid

    def start(self) -> None:
        self._et.run()
        self.version = str(self._et.version)

    def close(self) -> None:
        self._et.stop(timeout_s=5)

    def read(self, path: Path) -> ToolOutput:
        """Metadata of one stored file."""
        try:
            self.start()  # a no-op unless the last file's exiftool was killed
            # our own absolute path, never an option; -j is execute_json's
            parsed = self._et.execute_json(str(path))
        except TimeoutError:
            return ToolOutput(tool="exiftool", data=None, error="exiftool timed out")
        except AnswerTooLarge as e:
            return ToolOutput(tool="exiftool", data=None, error=str(e))
        except OSError as e:
            return ToolOutput(tool="exiftool", data=None, error=f"exiftool failed: {e}")
        except ExifToolOutputEmptyError:
            parsed = []
        except ExifToolJSONInvalidError:
            return ToolOutput(tool="exiftool", data=None, error="exiftool gave no readable output")
        if not parsed or not isinstance(parsed, list) or not isinstance(parsed[0], dict):
            return ToolOutput(tool="exiftool", data=None, error="exiftool could not read the file")
        data: dict[str, Any] = parsed[0]
        if data.get("SourceFile") != str(path):  # cannot happen with an unforgeable end marker
            self._et.kill()
            return ToolOutput(
                tool="exiftool", data=None, error="exiftool answered for another file"
            )
        err = data.get("ExifTool:Error")
        return ToolOutput(tool="exiftool", data=data, error=str(err) if err else None)


def _answer_complete(out: bytearray, end: bytes) -> bool:
    """The end marker is the whole last line: at the start of the output or after a newline."""
    return out.endswith(end) and (len(out) == len(end) or out[-len(end) - 1] == 0x0A)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def sniff_file(path: Path) -> Sniffed:
    """The container of a stored file, from its first bytes (and those after an ID3 tag)."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        end = id3v2_end(head)
        if end and end > len(head) - 16:  # the tag reaches past what was read: read on
            f.seek(end)
            return sniff_after_id3(f.read(HEAD_BYTES))
    return sniff(head)


def input_options(container: Container) -> dict[str, str]:
    """Input options of ffprobe and ffmpeg for a stored file: its container's demuxer and no
    other, local files only (a playlist, concat list or image pattern is never opened)."""
    return {"f": container.demuxer, "format_whitelist": container.demuxer,
            "protocol_whitelist": "file"}  # fmt: skip


def ffprobe(
    path: Path, *, container: Container, executable: str = "ffprobe", timeout_s: float = 60.0
) -> ToolOutput:
    """Streams and format of one stored file, opened as ``container`` (see ``sniff_file``);
    one process: only for audio and video."""
    exe = require_tool(executable)
    try:
        proc = subprocess.run(
            [
                *die_with_parent(),
                exe,
                *FFPROBE_ARGS,
                *_args(input_options(container)),
                f"file:{path}",
            ],
            capture_output=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return ToolOutput(tool="ffprobe", data=None, error="ffprobe timed out")
    err = proc.stderr.decode("utf-8", "replace").strip()
    try:
        data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    except json.JSONDecodeError:
        data = {}
    if proc.returncode != 0:
        return ToolOutput(
            tool="ffprobe", data=data or None, error=_last_line(err) or f"exit {proc.returncode}"
        )
    if not data.get("streams"):
        return ToolOutput(tool="ffprobe", data=data, error=_last_line(err) or "no streams found")
    return ToolOutput(tool="ffprobe", data=data, error=None, warning=_last_line(err) or None)


def _args(options: dict[str, str]) -> list[str]:
    return [arg for key, value in options.items() for arg in (f"-{key}", value)]


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


class MediaProbe:
    """Both tools for one worker; use as a context manager so exiftool is always stopped."""

    def __init__(
        self,
        *,
        exiftool: str = "exiftool",
        ffprobe_exe: str = "ffprobe",
        timeout_s: float = 60.0,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        exiftool_config: Path | None = None,
    ) -> None:
        self.exif = ExifTool(exiftool, timeout_s=timeout_s, max_answer_bytes=max_answer_bytes,
                             config_file=exiftool_config)  # fmt: skip
        self.ffprobe_exe = require_tool(ffprobe_exe)
        self.timeout_s = timeout_s

    def __enter__(self) -> MediaProbe:
        try:
            self.exif.start()
        except OSError as e:  # e.g. slower to start than timeout_s: each file's read tries again
            logger.warning("exiftool did not start: %s; each file's read starts it again", e)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.exif.close()

    def probe(self, path: Path) -> ProbeResult:
        exif = self.exif.read(path)
        sniffed = sniff_file(path)
        mime = str((exif.data or {}).get("File:MIMEType", ""))
        needs_ffprobe = (
            exif.data is None
            or exif.error is not None
            or mime.startswith(("video/", "audio/", "application/"))
        )
        ff = None
        if needs_ffprobe and sniffed.container is not None:  # no container: nothing to open
            ff = ffprobe(path, container=sniffed.container, executable=self.ffprobe_exe,
                         timeout_s=self.timeout_s)  # fmt: skip
        return ProbeResult(exif=exif, ffprobe=ff, sniffed=sniffed)


class Probes:
    """The media tools of the threads that probe files at the same time (issue 19): exiftool
    answers one file at a time, so each thread gets a ``MediaProbe`` of its own on its first
    file, and keeps it. Each exiftool starts on its thread's first file, on that thread (it
    dies with it: ``die_with_parent``), and all are stopped together at the end.

    ``threads`` is how many may ask (the probing pool's size). A caller's own probe is shared
    by one thread only: ``Probes.one``."""

    def __init__(self, make: Callable[[], MediaProbe], *, threads: int, own: bool = True) -> None:
        self.threads = threads
        self._own = own
        self._free = [make() for _ in range(threads)]  # no process yet: a missing tool fails here
        self._all = tuple(self._free)
        self._mine = threading.local()
        self._lock = threading.Lock()

    @classmethod
    def one(cls, probe: MediaProbe) -> Probes:
        return cls(lambda: probe, threads=1, own=False)

    def here(self) -> MediaProbe:
        """This thread's probe."""
        probe: MediaProbe | None = getattr(self._mine, "probe", None)
        if probe is None:
            with self._lock:
                if not self._free:  # pragma: no cover - more threads than ``threads``: a bug
                    raise AssertionError("more probing threads than probes")
                probe = self._free.pop()
            self._mine.probe = probe
        return probe

    def close(self) -> None:
        """Stop every probe's exiftool (one a caller gave is the caller's to stop)."""
        if self._own:
            for probe in self._all:
                probe.exif.close()
