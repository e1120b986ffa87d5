"""Durability in one place: temp file in the same directory, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

# Evidence is not for others on the host (issue 16): the evidock processes run with UMASK;
# folders are DIR_MODE, files FILE_MODE, stored objects and checkpoints READ_ONLY, keys 0600.
UMASK = 0o027
DIR_MODE = 0o750
FILE_MODE = 0o640
READ_ONLY = 0o440


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` and its missing parents, syncing each parent that gained an entry."""
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=mode)
        fsync_dir(d.parent)


def atomic_write(
    path: Path, data: bytes, *, mode: int = FILE_MODE, exclusive: bool = False
) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one.

    With ``exclusive`` the final name must not exist yet (write-once files); the link is
    made with ``os.link`` so that two writers cannot both win.
    """
    parent = path.parent
    makedirs_durable(parent)
    tmp = parent / f".{path.name}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if exclusive:
            os.link(tmp, path)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(parent)
