"""Watch folders (the watchdog adapter): each sub-folder of a watch folder plays one device.

The inotify reader thread (watchdog's ``InotifyFD``) only reports which device folder changed;
when a folder has stopped changing (settled) is decided by ``Settler``, a pure clock-driven
bookkeeper.

A device folder is untrusted content, so its tree is watched folder by folder within bounds:
at most ``max_depth`` levels below the device folder (the levels ``devices.walk`` enters) and
at most ``max_watched_folders`` folders per device folder, found without recursion. (Watchdog's
own recursive watching walks a tree with the recursive ``os.walk`` of Python 3.11: a tree
1200 levels deep raised RecursionError at start, or killed its reader thread, and with it
every watch folder.) A change below those bounds is not seen when it happens; what lies
deeper than ``max_depth`` is not taken anyway (the walk records why), the rest is taken at
the device folder's next change or the dock's next start.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchdog.observers.inotify_c import (
    CallbackId,
    InotifyConstants,
    InotifyEvent,
    InotifyFD,
    Mask,
    WatchDescriptor,
)

from devices.errors import DeviceError
from i18n import _

logger = logging.getLogger(__name__)

# Watchdog's InotifyFD warns (RuntimeWarning, through ``warnings``) when a callback is removed
# from a watch the kernel has already dropped (the folder was deleted or moved: a wiped or
# undocked device) or re-added to a folder watched under another name. Both are states this
# module expects and handles; unfiltered, re-docking a folder printed kilobytes of them to the
# journal (issue 20).
warnings.filterwarnings(
    "ignore",
    message=r"Callback with id .* (already exists|does not exist)",
    category=RuntimeWarning,
)

MAX_WATCHED_FOLDERS = 1024  # folders watched in one device folder ([dock] max_watched_folders)

_IN = InotifyConstants
_MASK = Mask(
    _IN.IN_MODIFY | _IN.IN_ATTRIB | _IN.IN_CLOSE_WRITE | _IN.IN_CREATE | _IN.IN_DELETE
    | _IN.IN_MOVED_FROM | _IN.IN_MOVED_TO | _IN.IN_DELETE_SELF | _IN.IN_MOVE_SELF
    | _IN.IN_DONT_FOLLOW | _IN.IN_ONLYDIR
)  # fmt: skip
_ROOT = -1  # the depth of a watch folder: its device folders are at depth 0


def device_folders(roots: Sequence[Path]) -> list[Path]:
    """Device folders already present (for a daemon that starts after they were filled)."""
    out = []
    for root in roots:
        if root.is_dir():
            for entry in sorted(root.iterdir()):
                if entry.is_dir() and not entry.is_symlink():
                    out.append(entry)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Watched:
    """One watched folder: a watch folder (``device`` None) or a folder of a device folder,
    ``depth`` levels below it."""

    path: bytes
    device: bytes | None
    depth: int
    callback: CallbackId


class WatchSource:
    """Real inotify observation of the watch folders; ``on_change`` must only enqueue.

    Failing to watch a watch folder itself is an error at ``start``; nothing inside a device
    folder makes ``start`` fail (what cannot be watched is logged and left to the next start).
    """

    def __init__(
        self,
        roots: Sequence[Path],
        on_change: Callable[[Path], None],
        *,
        max_depth: int = 64,
        max_entries: int = 200_000,
        max_watched_folders: int = MAX_WATCHED_FOLDERS,
    ) -> None:
        self.roots = [Path(os.path.abspath(r)) for r in roots]
        self._on_change = on_change
        self._max_depth = max_depth
        self._max_entries = max_entries  # entries looked at when a folder's tree is scanned
        self._max_watched = max_watched_folders
        self._inotify: InotifyFD | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._by_wd: dict[WatchDescriptor, _Watched] = {}
        self._by_path: dict[bytes, WatchDescriptor] = {}
        self._count: collections.Counter[bytes] = collections.Counter()  # watches per device
        self._full: set[bytes] = set()  # device folders at their watch limit (logged once)
        self._lost: list[bytes] = []  # watch folders removed or moved away while watched
        self._stopping = False

    def start(self) -> None:
        inotify = InotifyFD()
        inotify.name = "evidock-watch"
        self._inotify = inotify
        inotify.start()
        try:
            for root in self.roots:
                root.mkdir(parents=True, exist_ok=True)
                raw = os.fsencode(root)
                with self._lock:
                    try:
                        self._watch(raw, device=None, depth=_ROOT, required=True)
                    except OSError as e:
                        raise DeviceError(
                            _("cannot watch the watch folder {path}: {error}").format(
                                path=root, error=e.strerror
                            ),
                            hint=_("Give a folder the dock can read ([dock] watch or --watch)."),
                        ) from e
                    for folder in _subfolders(raw, self._max_entries):
                        try:
                            self._watch_tree(folder, device=folder, depth=0)
                        except Exception:  # device content never stops the dock at start
                            logger.exception("device folder not watched path=%r", folder)
        except BaseException:
            self.stop()
            raise

    def alive(self) -> bool:
        """The reader thread runs and every watch folder is still watched."""
        inotify = self._inotify
        return inotify is not None and inotify.is_alive() and not self._lost

    def stop(self) -> None:
        inotify, self._inotify = self._inotify, None
        if inotify is None:
            return
        self._stopping = True
        inotify.stop()  # removes every watch and wakes the reader
        if inotify.is_alive():
            inotify.join(timeout=5)

    # -- called on the reader thread (watchdog's WatchCallback) ------------------------------
    def on_event(self, event: InotifyEvent) -> None:
        changed: bytes | None = None
        with self._lock:
            watched = self._by_wd.get(event.wd)
            if watched is None:
                return
            if not event.name:  # about the watched folder itself
                if watched.device is None and (event.is_move_self or event.is_delete_self):
                    self._lose(watched.path)
                changed = watched.device
            else:
                path = os.path.join(watched.path, event.name)
                changed = watched.device if watched.device is not None else path
                if event.is_directory and (event.is_create or event.is_moved_to):
                    self._watch_tree(path, device=changed, depth=watched.depth + 1)
                elif event.is_directory and event.is_moved_from:
                    self._forget(path)
        if changed is not None:
            self._on_change(Path(os.fsdecode(changed)))

    def on_watch_deleted(self, wd: WatchDescriptor) -> None:
        with self._lock:
            watched = self._by_wd.pop(wd, None)
            if watched is None:
                return
            self._unlist(watched, wd)
            if watched.device is None and not self._stopping:
                self._lose(watched.path)

    def on_queue_overflow(self) -> None:
        """Events were lost: watch again what is missing, and take every device folder as
        changed (the settle logic then docks each once it is quiet)."""
        logger.warning("inotify queue overflowed: every device folder is looked at again")
        folders: list[bytes] = []
        with self._lock:
            for watched in [w for w in self._by_wd.values() if w.device is None]:
                for folder in _subfolders(watched.path, self._max_entries):
                    self._watch_tree(folder, device=folder, depth=0)
                    folders.append(folder)
        for folder in folders:
            self._on_change(Path(os.fsdecode(folder)))

    # -- bookkeeping (under the lock) --------------------------------------------------------
    def _watch_tree(self, top: bytes, *, device: bytes, depth: int) -> None:
        """Watch ``top`` and the folders below it, breadth first, within the bounds."""
        todo = collections.deque([(top, depth)])
        budget = self._max_entries
        while todo:
            path, level = todo.popleft()
            if level > self._max_depth or not self._watch(path, device=device, depth=level):
                continue
            if level == self._max_depth:
                continue  # what is inside is deeper than the walk goes
            try:
                with os.scandir(path) as it:
                    for entry in it:
                        budget -= 1
                        if budget < 0:
                            break
                        if entry.is_dir(follow_symlinks=False):
                            if self._count[device] + len(todo) >= self._max_watched:
                                self._at_limit(device)
                                break
                            todo.append((entry.path, level + 1))
            except OSError as e:  # gone meanwhile, unreadable, a path too long to name
                logger.debug("folder not scanned for watches path=%r error=%s", path, e)

    def _watch(
        self, path: bytes, *, device: bytes | None, depth: int, required: bool = False
    ) -> bool:
        """Add one watch; False when it is not (the limit, an error, another name of a folder
        already watched). Only a watch folder (``required``) raises."""
        assert self._inotify is not None
        if device is not None and self._count[device] >= self._max_watched:
            self._at_limit(device)
            return False
        callback = CallbackId(next(self._ids))
        try:
            wd = self._inotify.add_callback(path, _MASK, self, callback)
        except OSError as e:
            if required:
                raise
            log = logger.warning if e.errno == errno.ENOSPC else logger.debug
            log("folder not watched path=%r error=%s", path, e)
            return False
        known = self._by_wd.get(wd)
        if wd < 0 or known is not None:  # no access, or a folder already watched (same inode)
            with contextlib.suppress(OSError):
                self._inotify.remove_callbacks([(wd, callback)])
            if wd < 0 and required:
                raise OSError(errno.EACCES, os.strerror(errno.EACCES), path)
            return known is not None and known.path == path
        self._by_wd[wd] = _Watched(path=path, device=device, depth=depth, callback=callback)
        self._by_path[path] = wd
        if device is not None:
            self._count[device] += 1
        return True

    def _at_limit(self, device: bytes) -> None:
        if device not in self._full:
            self._full.add(device)
            logger.warning(
                "device folder %r has more than %d folders: changes in the others are not "
                "watched, they are taken at its next change (the limit is [dock] "
                "max_watched_folders)", os.fsdecode(device), self._max_watched,
            )  # fmt: skip

    def _forget(self, top: bytes) -> None:
        """Stop watching ``top`` and what is below it (moved away: its paths are stale)."""
        below = top + b"/"
        gone = [(p, wd) for p, wd in self._by_path.items() if p == top or p.startswith(below)]
        callbacks = []
        for _path, wd in gone:
            watched = self._by_wd.pop(wd)
            self._unlist(watched, wd)
            callbacks.append((wd, watched.callback))
        assert self._inotify is not None
        with contextlib.suppress(OSError):
            self._inotify.remove_callbacks(callbacks)

    def _unlist(self, watched: _Watched, wd: WatchDescriptor) -> None:
        if self._by_path.get(watched.path) == wd:
            del self._by_path[watched.path]
        if watched.device is not None:
            self._count[watched.device] -= 1
            if self._count[watched.device] <= 0:
                del self._count[watched.device]
                self._full.discard(watched.device)

    def _lose(self, root: bytes) -> None:
        if root not in self._lost:
            self._lost.append(root)
            logger.error(
                "watch folder %r was removed or moved away: it is no longer watched; the dock "
                "stops so that its restart watches it again", os.fsdecode(root),
            )  # fmt: skip


def _subfolders(root: bytes, limit: int) -> list[bytes]:
    """The device folders in a watch folder (at most ``limit`` entries are looked at)."""
    out: list[bytes] = []
    try:
        with os.scandir(root) as it:
            for entry in itertools.islice(it, limit):
                if entry.is_dir(follow_symlinks=False):
                    out.append(entry.path)
            if next(it, None) is not None:
                logger.warning(
                    "watch folder %r holds more than %d entries: the others are not watched",
                    os.fsdecode(root), limit,
                )  # fmt: skip
    except OSError as e:
        logger.warning("cannot list watch folder path=%r error=%s", root, e)
    return sorted(out)


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
