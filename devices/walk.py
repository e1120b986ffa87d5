"""Safe traversal of an untrusted device tree.

Directories are walked by file descriptor, every open uses ``O_NOFOLLOW``, every entry is
``fstat``-ed, and nothing on another file system is entered. Names stay bytes exactly as the
device gave them; only the display form is escaped. Nothing here writes to the device.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devices.errors import NotADeviceRoot, UnsafeEntry

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


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
        raise NotADeviceRoot(f"{root} does not exist") from e
    except NotADirectoryError as e:
        if root.is_symlink():
            raise NotADeviceRoot(f"{root} is a symbolic link; give the real mount point") from e
        raise NotADeviceRoot(f"{root} is not a directory") from e
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotADeviceRoot(f"{root} is a symbolic link; give the real mount point") from e
        raise NotADeviceRoot(f"cannot open {root}: {e.strerror}") from e


def walk(root_fd: int) -> Listing:
    """List every regular file below ``root_fd`` and every entry that is not acquired."""
    root_dev = os.fstat(root_fd).st_dev
    files: list[FileEntry] = []
    anomalies: list[Anomaly] = []
    for rel, st_or_err in _entries(root_fd, b"", root_dev, anomalies):
        if isinstance(st_or_err, OSError):
            anomalies.append(
                Anomaly(path=rel, kind="unreadable", reason=f"cannot stat: {st_or_err.strerror}")
            )
            continue
        st = st_or_err
        fmt = stat.S_IFMT(st.st_mode)
        if fmt == stat.S_IFREG:
            files.append(
                FileEntry(
                    path=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, dev=st.st_dev, ino=st.st_ino
                )
            )
        else:
            kind, reason = _KINDS.get(fmt, ("special", "special file: not a recording"))
            anomalies.append(Anomaly(path=rel, kind=kind, reason=reason))
    files.sort(key=lambda f: f.path)
    anomalies.sort(key=lambda a: a.path)
    return Listing(files=tuple(files), anomalies=tuple(anomalies))


def _entries(
    dir_fd: int, prefix: bytes, root_dev: int, anomalies: list[Anomaly]
) -> Iterator[tuple[bytes, os.stat_result | OSError]]:
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError as e:
        anomalies.append(
            Anomaly(path=prefix or b".", kind="unreadable", reason=f"cannot list: {e.strerror}")
        )
        return
    for name in names:
        bname = os.fsencode(name)
        rel = prefix + b"/" + bname if prefix else bname
        try:
            st = os.stat(bname, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as e:
            yield rel, e
            continue
        if not stat.S_ISDIR(st.st_mode):
            yield rel, st
            continue
        if st.st_dev != root_dev:
            anomalies.append(
                Anomaly(path=rel, kind="mount-point", reason="another file system: not entered")
            )
            continue
        try:
            sub = os.open(bname, _DIR_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            anomalies.append(
                Anomaly(path=rel, kind="unreadable", reason=f"cannot open folder: {e.strerror}")
            )
            continue
        try:
            sst = os.fstat(sub)
            if (sst.st_dev, sst.st_ino) != (st.st_dev, st.st_ino):
                anomalies.append(
                    Anomaly(path=rel, kind="changed", reason="folder replaced while listing")
                )
                continue
            yield from _entries(sub, rel, root_dev, anomalies)
        finally:
            os.close(sub)


def open_file(root_fd: int, entry: FileEntry) -> int:
    """Open a listed file for reading, component by component, never through a link.

    The returned fd is checked to be the same regular file (device, inode) that was listed.
    """
    parts = entry.path.split(b"/")
    fd = root_fd
    opened: list[int] = []
    try:
        for part in parts[:-1]:
            fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            opened.append(fd)
        try:
            file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
        except OSError as e:
            raise UnsafeEntry(f"{entry.display}: cannot open: {e.strerror}") from e
    except OSError as e:
        raise UnsafeEntry(f"{entry.display}: folder changed: {e.strerror}") from e
    finally:
        for d in opened:
            os.close(d)
    st = os.fstat(file_fd)
    listed = (entry.dev, entry.ino, entry.size, entry.mtime_ns)
    if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != listed:
        os.close(file_fd)
        raise UnsafeEntry(
            f"{entry.display}: replaced or changed since it was listed",
            hint="It stays on the device; dock it again once it is no longer being written.",
        )
    with contextlib.suppress(OSError):
        os.set_blocking(file_fd, True)
    return file_fd
