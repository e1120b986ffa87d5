"""What each bay is doing, as a small JSON file the daemon rewrites and ``evidock status`` reads.

A bay that has docked keeps the receipt of its last docking (``ingest.dock.receipt``) until
it docks again."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.dock.receipt import BayReceipt, receipt_from_json, receipt_json
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
    receipt: BayReceipt | None = None


def bay_json(b: BayView) -> dict[str, Any]:
    return {
        "source": b.source,
        "device": b.device,
        "profile": b.profile,
        "state": b.state,
        "files_done": b.files_done,
        "current": b.current,
        "since": b.since,
        "receipt": None if b.receipt is None else receipt_json(b.receipt),
    }


def write_status(path: Path, *, dock: str, bays: list[BayView]) -> None:
    doc = {
        "dock": dock,
        "pid": os.getpid(),
        "updated": time.time(),
        "bays": [bay_json(b) for b in bays],
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


def status_receipt(bay: dict[str, Any]) -> BayReceipt | None:
    """The receipt of a bay as ``read_status`` returns it (None: none, or an older form)."""
    doc = bay.get("receipt")
    if not isinstance(doc, dict):
        return None
    try:
        return receipt_from_json(doc)
    except (KeyError, TypeError, ValueError):
        return None
