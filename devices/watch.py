"""Watch folders (the watchdog adapter): each sub-folder of a watch folder plays one device.

The observer thread only reports which device folder changed; when a folder has stopped
changing (settled) is decided by ``Settler``, a pure clock-driven bookkeeper.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

logger = logging.getLogger(__name__)


def device_folder(roots: Sequence[Path], changed: str) -> Path | None:
    """The device folder (first level below a watch root) that a changed path belongs to."""
    p = Path(os.path.abspath(changed))
    for root in roots:
        try:
            rel = p.relative_to(root)
        except ValueError:
            continue
        if rel.parts:
            return root / rel.parts[0]
    return None


def device_folders(roots: Sequence[Path]) -> list[Path]:
    """Device folders already present (for a daemon that starts after they were filled)."""
    out = []
    for root in roots:
        if root.is_dir():
            for entry in sorted(root.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    out.append(entry)
    return out


class _Handler(FileSystemEventHandler):
    def __init__(self, roots: Sequence[Path], on_change: Callable[[Path], None]) -> None:
        self.roots = roots
        self.on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            if not raw:
                continue
            path = os.fsdecode(raw)
            folder = device_folder(self.roots, path)
            if folder is not None:
                self.on_change(folder)


class WatchSource:
    """Real inotify observation of the watch folders; ``on_change`` must only enqueue."""

    def __init__(self, roots: Sequence[Path], on_change: Callable[[Path], None]) -> None:
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        self._on_change = on_change
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        observer = Observer()
        handler = _Handler(self.roots, self._on_change)
        for root in self.roots:
            root.mkdir(parents=True, exist_ok=True)
            observer.schedule(handler, str(root), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None


class Settler:
    """Remembers when each device folder last changed; a folder is due once it was quiet for
    ``quiet_s`` seconds. Pure bookkeeping over the times it is given."""

    def __init__(self, quiet_s: float) -> None:
        self.quiet_s = quiet_s
        self._last: dict[Path, float] = {}

    def touch(self, folder: Path, now: float) -> None:
        self._last[folder] = now

    def due(self, now: float) -> list[Path]:
        ready = [f for f, t in self._last.items() if now - t >= self.quiet_s]
        for f in ready:
            del self._last[f]
        return sorted(ready)

    def next_deadline(self) -> float | None:
        return min(self._last.values()) + self.quiet_s if self._last else None
