"""Safe traversal of an untrusted device tree.

Directories are walked by file descriptor, every open uses ``O_NOFOLLOW``, every entry is
``fstat``-ed, and nothing on another file system is entered. Names stay bytes exactly as the
device gave them; only the display form is escaped. Nothing here writes to the device.

A hostile tree cannot exhaust the walk: it is iterative (no recursion, however deep the
folders go), it enters at most ``max_depth`` levels and lists at most ``max_entries`` entries,
and what lies beyond is reported as an anomaly with its reason, like any entry not acquired.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from devices.errors import NotADeviceRoot, UnsafeEntry
from i18n import _

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY

MAX_DEPTH = 64  # folder levels entered below the device root ([dock] max_depth)
MAX_ENTRIES = 200_000  # entries listed on one device ([dock] max_entries)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """A regular file found on the device; ``path`` is relative, as raw bytes."""

    path: bytes
    size: int
    mtime_ns: int
    dev: int
    ino: int

    @property
    def display(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """Something on the device that is not acquired, with the reason why."""

    path: bytes
    kind: str
    reason: str

    @property
    def display(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    files: tuple[FileEntry, ...]
    anomalies: tuple[Anomaly, ...]


def display_path(raw: bytes) -> str:
    """Printable form of a device path: valid UTF-8 as is, other bytes as \\xNN escapes."""
    return raw.decode("utf-8", "backslashreplace")


# The reasons of anomalies stay English: they are recorded in the custody log (not_acquired
# events, ingest.pipeline.docking.left_on_device); whoever displays one may translate it.
_KINDS = {
    stat.S_IFLNK: ("symlink", "symbolic link: not followed"),
    stat.S_IFIFO: ("fifo", "named pipe: not a recording"),
    stat.S_IFSOCK: ("socket", "socket: not a recording"),
    stat.S_IFCHR: ("char-device", "character device node: not a recording"),
    stat.S_IFBLK: ("block-device", "block device node: not a recording"),
}


def open_root(root: Path) -> int:
    """Open the device root as a directory fd, refusing a symlink as the root itself."""
    try:
        return os.open(root, _DIR_FLAGS)
    except FileNotFoundError as e:
        raise NotADeviceRoot(_("{path} does not exist").format(path=root)) from e
    except NotADirectoryError as e:
        if root.is_symlink():
            raise NotADeviceRoot(
                _("{path} is a symbolic link; give the real mount point").format(path=root)
            ) from e
        raise NotADeviceRoot(_("{path} is not a directory").format(path=root)) from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotADeviceRoot(
                _("{path} is a symbolic link; give the real mount point").format(path=root)
            ) from e
        raise NotADeviceRoot(
            _("cannot open {path}: {error}").format(path=root, error=e.strerror)
        ) from e


def walk(root_fd: int, *, max_depth: int = MAX_DEPTH, max_entries: int = MAX_ENTRIES) -> Listing:
    """List every regular file below ``root_fd`` and every entry that is not acquired.

    Bounded whatever the device holds: a folder more than ``max_depth`` levels below the root
    is not entered (one ``too-deep`` anomaly each), and past ``max_entries`` entries the walk
    stops (one ``too-many-entries`` anomaly names where). No recursion; one open folder per
    level on the way down, so at most ``max_depth`` fds besides the caller's root.
    """
    root_dev = os.fstat(root_fd).st_dev
    files: list[FileEntry] = []
    anomalies: list[Anomaly] = []
    seen = 0
    stack = [_Level(fd=root_fd, prefix=b"", depth=0)]
    try:
        stack[0].names = _names(root_fd, b"", anomalies, limit=max_entries + 1)
        while stack:
            level = stack[-1]
            if not level.names:
                _close(stack.pop())
                continue
            name = level.names.pop()
            rel = level.prefix + b"/" + name if level.prefix else name
            if seen >= max_entries:
                anomalies.append(_too_many(rel, max_entries))
                break
            seen += 1
            try:
                st = os.stat(name, dir_fd=level.fd, follow_symlinks=False)
            except OSError as e:
                anomalies.append(
                    Anomaly(path=rel, kind="unreadable", reason=f"cannot stat: {e.strerror}")
                )
                continue
            fmt = stat.S_IFMT(st.st_mode)
            if fmt == stat.S_IFREG:
                files.append(
                    FileEntry(path=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, dev=st.st_dev,
                              ino=st.st_ino)
                )  # fmt: skip
            elif fmt != stat.S_IFDIR:
                kind, reason = _KINDS.get(fmt, ("special", "special file: not a recording"))
                anomalies.append(Anomaly(path=rel, kind=kind, reason=reason))
            elif st.st_dev != root_dev:
                anomalies.append(
                    Anomaly(path=rel, kind="mount-point", reason="another file system: not entered")
                )
            elif level.depth >= max_depth:
                anomalies.append(_too_deep(rel, max_depth))
            else:
                sub = _enter(level.fd, name, rel, st, anomalies)
                if sub is not None:
                    stack.append(_Level(fd=sub, prefix=rel, depth=level.depth + 1))
                    left = max_entries - seen
                    stack[-1].names = _names(sub, rel, anomalies, limit=left + 1)
                    _trim(stack, left + 1)
    finally:
        for level in stack:
            _close(level)
    files.sort(key=lambda f: f.path)
    anomalies.sort(key=lambda a: a.path)
    return Listing(files=tuple(files), anomalies=tuple(anomalies))


@dataclass(slots=True)
class _Level:
    """A folder open on the way down: its fd (the root's belongs to the caller) and the names
    in it not yet visited, last first (``pop()`` gives them in name order)."""

    fd: int
    prefix: bytes
    depth: int
    names: list[bytes] = field(default_factory=list)


def _trim(stack: list[_Level], keep: int) -> None:
    """Hold at most ``keep`` names not yet visited, across all open folders: more than the
    entries left to list can never be visited (the walk stops first), so the ones it would
    reach last are dropped. Memory stays bounded by the entry limit, however the tree is shaped.
    """
    excess = sum(len(level.names) for level in stack) - keep
    for level in stack:  # the bottom of the stack is visited last
        if excess <= 0:
            return
        cut = min(excess, len(level.names))
        del level.names[:cut]
        excess -= cut


def _close(level: _Level) -> None:
    if level.depth:
        os.close(level.fd)


def _names(dir_fd: int, prefix: bytes, anomalies: list[Anomaly], *, limit: int) -> list[bytes]:
    """The names in a folder, last first; at most ``limit`` of them are read, however many the
    folder holds."""
    names: list[bytes] = []
    try:
        with os.scandir(dir_fd) as it:
            for entry in it:
                if len(names) >= limit:
                    break
                names.append(os.fsencode(entry.name))
    except OSError as e:
        anomalies.append(
            Anomaly(path=prefix or b".", kind="unreadable", reason=f"cannot list: {e.strerror}")
        )
    return sorted(names, reverse=True)


def _enter(
    dir_fd: int, name: bytes, rel: bytes, st: os.stat_result, anomalies: list[Anomaly]
) -> int | None:
    """Open a sub-folder, checked to be the one just listed; None (and why) when it is not."""
    try:
        sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        anomalies.append(
            Anomaly(path=rel, kind="unreadable", reason=f"cannot open folder: {e.strerror}")
        )
        return None
    sst = os.fstat(sub)
    if (sst.st_dev, sst.st_ino) != (st.st_dev, st.st_ino):
        os.close(sub)
        anomalies.append(Anomaly(path=rel, kind="changed", reason="folder replaced while listing"))
        return None
    return sub


def _too_deep(rel: bytes, max_depth: int) -> Anomaly:
    return Anomaly(
        path=rel,
        kind="too-deep",
        reason=(
            f"folder more than {max_depth} levels deep: not entered, what it holds stays on the "
            "device (the limit is [dock] max_depth)"
        ),
    )


def _too_many(rel: bytes, max_entries: int) -> Anomaly:
    return Anomaly(
        path=rel,
        kind="too-many-entries",
        reason=(
            f"more than {max_entries} entries on the device: the listing stopped here, this "
            "entry and those not listed yet stay on the device (the limit is [dock] max_entries)"
        ),
    )


def open_file(root_fd: int, entry: FileEntry) -> int:
    """Open a listed file for reading, component by component, never through a link.

    The returned fd is checked to be the same regular file (device, inode) that was listed.
    """
    parts = entry.path.split(b"/")
    folder = root_fd
    try:
        for part in parts[:-1]:  # one folder open at a time, however deep the file is
            inner = os.open(part, _DIR_FLAGS, dir_fd=folder)
            if folder != root_fd:
                os.close(folder)
            folder = inner
        try:
            file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=folder)
        except OSError as e:
            raise UnsafeEntry(
                _("{path}: cannot open: {error}").format(path=entry.display, error=e.strerror)
            ) from e
    except OSError as e:
        raise UnsafeEntry(
            _("{path}: folder changed: {error}").format(path=entry.display, error=e.strerror)
        ) from e
    finally:
        if folder != root_fd:
            os.close(folder)
    st = os.fstat(file_fd)
    listed = (entry.dev, entry.ino, entry.size, entry.mtime_ns)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != listed:
        os.close(file_fd)
        raise UnsafeEntry(
            _("{path}: replaced or changed since it was listed").format(path=entry.display),
            hint=_("It stays on the device; dock it again once it is no longer being written."),
        )
    with contextlib.suppress(OSError):
        os.set_blocking(file_fd, True)
    return file_fd
