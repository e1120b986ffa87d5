"""How results reach a person or a program: plain lines, or one JSON document with --json.

Text for a person goes through ``for_terminal``: names and notes come from untrusted devices,
and a terminal obeys what they carry (escape sequences, a newline that forges a line, a bidi
override that reverses one). JSON keeps every string exactly; ``json`` escapes what it must.
"""

from __future__ import annotations

import csv
import json
import logging
import secrets
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from storage.catalog.fixity import FLAG_FIXITY_FAILED
from storage.records import Item
from verify.log.events import data_time

_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Unicode categories a terminal does not show as a glyph: controls, format characters (bidi
# overrides and isolates, zero-width ones), surrogates, unassigned, line/paragraph separators
_UNSHOWN = frozenset({"Cc", "Cf", "Cs", "Cn", "Zl", "Zp"})


def for_terminal(text: str) -> str:
    """``text`` as it may be shown on a terminal, with one reading back for every form.

    A backslash becomes ``\\\\``; newline, return and tab ``\\n``, ``\\r``, ``\\t``; other C0
    controls and DEL ``\\xNN``; a byte of a device name that is not UTF-8 (carried as a
    surrogate, see ``path_text``) ``\\xNN`` too, which cannot be confused with the controls
    (all below 0x80); C1 controls, format and separator characters, unassigned code points
    and other surrogates ``\\uNNNN`` (``\\UNNNNNNNN`` above the BMP). Everything else is kept,
    Chinese text included."""
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    return "".join(_escape(c) for c in text)


def _escape(c: str) -> str:
    short = _SHORT.get(c)
    if short is not None:
        return short
    o = ord(c)
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if 0xDC80 <= o <= 0xDCFF:  # surrogateescape: the raw byte o - 0xDC00
        return f"\\x{o - 0xDC00:02x}"
    if unicodedata.category(c) in _UNSHOWN:
        return f"\\u{o:04x}" if o <= 0xFFFF else f"\\U{o:08x}"
    return c


def path_text(raw: bytes) -> str:
    """A device path for ``for_terminal``: exactly its name, bytes that are not UTF-8 kept as
    surrogates (so they print as ``\\xNN`` while a literal backslash prints as ``\\\\``).
    Never for JSON, the catalog or the log: those take the display form and ``exact_name``."""
    return raw.decode("utf-8", "surrogateescape")


def shown_path(raw: bytes | None, display: str) -> str:
    """What to print for a path known by its raw bytes (exact) or only its display form."""
    return path_text(raw) if raw is not None else display


def exact_name(raw: bytes) -> dict[str, str]:
    """``{"path_hex": ...}`` for a device path that is not UTF-8 (its display form, with
    ``\\xNN`` for those bytes, could also be a name typed that way), else nothing."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"path_hex": raw.hex()}
    return {}


class TerminalLogFormatter(logging.Formatter):
    """Log lines with their message escaped by ``for_terminal`` (a traceback stays lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = for_terminal(record.message)
        return super().formatMessage(record)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


class RowSpill:
    """Rows of a JSON document kept in an unnamed temporary file (one compact JSON line
    each) until the document is printed (``Output.document_rows``): a long list costs disk,
    not memory (issue 19)."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (close())

    def add(self, row: Any) -> None:
        self._file.write(json.dumps(row, default=str) + "\n")  # ASCII: any str fits

    def __iter__(self) -> Iterator[Any]:
        self._file.flush()
        self._file.seek(0)
        for line in self._file:
            yield json.loads(line)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RowSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Output:
    def __init__(self, *, json_mode: bool, zone: ZoneInfo, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.zone = zone
        self.stream = stream if stream is not None else sys.stdout

    def line(self, text: str = "") -> None:
        """A human line, escaped for the terminal (``for_terminal``: a value in it cannot
        start another line or talk to the terminal); silent in --json mode (the JSON document
        is the whole output). Device paths go in as ``path_text``."""
        if not self.json_mode:
            self._print(for_terminal(text))

    def _print(self, safe: str) -> None:
        print(safe, file=self.stream, flush=True)

    def document(self, doc: Any) -> None:
        if self.json_mode:
            json.dump(doc, self.stream, ensure_ascii=False, indent=2, default=str)
            self.stream.write("\n")

    def document_rows(self, doc: dict[str, Any], key: str, rows: Iterable[Any]) -> None:
        """``doc`` with ``rows`` as its list at ``key`` (in the place ``doc[key]`` holds),
        printed exactly as ``document`` prints it, the rows written one at a time as they come
        (issue 19: the 10,000 files of a docking are never one list in memory)."""
        if not self.json_mode:
            return
        mark = f"rows-{secrets.token_hex(16)}"  # where the rows go: no value of doc holds it
        head, tail = _dumps({**doc, key: mark}).split(json.dumps(mark))
        line = head.rsplit("\n", 1)[-1]
        indent = "\n" + line[: len(line) - len(line.lstrip(" "))]
        self.stream.write(head)
        sep = "["
        for row in rows:  # as json.dump lays out a list of them, one level in
            self.stream.write(sep + indent + "  " + _dumps(row).replace("\n", indent + "  "))
            sep = ","
        self.stream.write("[]" if sep == "[" else indent + "]")
        self.stream.write(tail + "\n")

    def when(self, t: datetime | None) -> str:
        if t is None:
            return "-"
        return t.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        if self.json_mode:
            return
        cells = [[for_terminal(str(c)) for c in r] for r in rows]
        widths = [max([width(h)] + [width(r[i]) for r in cells]) for i, h in enumerate(headers)]
        self.line("  ".join(pad(h, w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for r in cells:  # escaped above, before measuring
            self._print("  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip())

    def csv(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        """The rows as CSV (RFC 4180) on stdout, the table's cells as they are: for a
        spreadsheet, not a terminal."""
        writer = csv.writer(self.stream, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([["" if c is None else str(c) for c in r] for r in rows])


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: CJK characters are two wide (issue 20: Chinese
    names broke the alignment of tables)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(0, columns - width(text))


def item_json(
    item: Item,
    derived: Sequence[tuple[str, str]] = (),
    *,
    proxy_state: str | None = None,
    proxy_note: str | None = None,
    fixity_failed: bool = False,
) -> dict[str, Any]:
    f = item.facts
    flags = [*f.flags, FLAG_FIXITY_FAILED] if fixity_failed else list(f.flags)
    return {
        "id": item.id,
        "sha256": item.sha256,
        "size": item.size,
        "original_path": item.original_path_display,
        "original_path_hex": item.original_path.hex(),  # the exact name (issue 23)
        "device": item.device_serial,
        "officer": item.officer_badge,
        "session": item.session_id,
        "recorded_start": data_time(f.recorded_start),
        "recorded_end": data_time(f.recorded_end),
        "time_source": f.time_source,
        "duration_s": f.duration_s,
        "mime_type": f.mime_type,
        "video_codec": f.video_codec,
        "audio_codec": f.audio_codec,
        "width": f.width,
        "height": f.height,
        "make": f.make,
        "model": f.model,
        "camera_serial": f.camera_serial,
        "gps": None if f.gps_lat is None else {"lat": f.gps_lat, "lon": f.gps_lon},
        "state": item.state,
        "acquired_at": data_time(item.acquired_at),
        "durable_at": data_time(item.durable_at),
        "confidentiality": item.confidentiality,
        "flags": flags,
        # issue 18: a stored copy failed its last fixity check (storage.catalog.fixity)
        "fixity": "failed" if fixity_failed else None,
        "probe_errors": list(f.probe_errors),
        "derived": [{"kind": k, "sha256": s} for k, s in derived],
        # issue 5: the proxy job's state, and "no proxy: <reason>" once it failed for good
        "proxy": None if proxy_state is None else {"state": proxy_state, "note": proxy_note},
    }
