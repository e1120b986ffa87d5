"""How results reach a person or a program: plain lines, or one JSON document with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from storage.records import Item


class Output:
    def __init__(self, *, json_mode: bool, zone: ZoneInfo, stream: TextIO | None = None) -> None:
        self.json_mode = json_mode
        self.zone = zone
        self.stream = stream if stream is not None else sys.stdout

    def line(self, text: str = "") -> None:
        """A human line; silent in --json mode (the JSON document is the whole output)."""
        if not self.json_mode:
            print(text, file=self.stream, flush=True)

    def document(self, doc: Any) -> None:
        if self.json_mode:
            json.dump(doc, self.stream, ensure_ascii=False, indent=2, default=str)
            self.stream.write("\n")

    def when(self, t: datetime | None) -> str:
        if t is None:
            return "-"
        return t.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        if self.json_mode:
            return
        cells = [[str(c) for c in r] for r in rows]
        widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
        self.line("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
        for r in cells:
            self.line("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


def item_json(
    item: Item,
    derived: Sequence[tuple[str, str]] = (),
    *,
    proxy_state: str | None = None,
    proxy_note: str | None = None,
) -> dict[str, Any]:
    f = item.facts
    return {
        "id": item.id,
        "sha256": item.sha256,
        "size": item.size,
        "original_path": item.original_path_display,
        "device": item.device_serial,
        "officer": item.officer_badge,
        "session": item.session_id,
        "recorded_start": iso(f.recorded_start),
        "recorded_end": iso(f.recorded_end),
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
        "acquired_at": iso(item.acquired_at),
        "durable_at": iso(item.durable_at),
        "confidentiality": item.confidentiality,
        "flags": list(f.flags),
        "probe_errors": list(f.probe_errors),
        "derived": [{"kind": k, "sha256": s} for k, s in derived],
        # issue 5: the proxy job's state, and "no proxy: <reason>" once it failed for good
        "proxy": None if proxy_state is None else {"state": proxy_state, "note": proxy_note},
    }
