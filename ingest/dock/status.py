"""What each bay is doing, as a small JSON file the daemon rewrites and ``evidock status`` reads."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from storage.blobs.durable import FILE_MODE, atomic_write


@dataclass(frozen=True, slots=True, kw_only=True)
class BayView:
    source: str
    device: str | None
    profile: str | None
    state: str
    files_done: int
    current: str | None
    since: float


def write_status(path: Path, *, dock: str, bays: list[BayView]) -> None:
    doc = {
        "dock": dock,
        "pid": os.getpid(),
        "updated": time.time(),
        "bays": [asdict(b) for b in bays],
    }
    atomic_write(path, json.dumps(doc, ensure_ascii=False).encode("utf-8"), mode=FILE_MODE)


def read_status(path: Path) -> dict[str, Any] | None:
    """The daemon's last status, with ``running`` telling whether its process is alive."""
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    try:
        os.kill(int(doc["pid"]), 0)
        doc["running"] = True
    except (ProcessLookupError, PermissionError, KeyError, ValueError):
        doc["running"] = False
    return doc
