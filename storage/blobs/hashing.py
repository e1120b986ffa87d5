"""Streaming SHA-256 with one reused buffer: memory stays flat whatever the file size."""

from __future__ import annotations

import hashlib
import os

CHUNK = 4 * 1024 * 1024


def sha256_fd(fd: int, *, chunk: int = CHUNK) -> tuple[str, int]:
    """Hash an open file from its current offset to the end; returns (hex, bytes read)."""
    h = hashlib.sha256()
    buf = bytearray(chunk)
    view = memoryview(buf)
    total = 0
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            return h.hexdigest(), total
        h.update(view[:n])
        total += n


def sha256_path(path: os.PathLike[str] | str, *, drop_cache: bool = False) -> tuple[str, int]:
    """Hash a file by path. With ``drop_cache`` its clean pages are evicted first, so the
    bytes come from the disk, not from what was just written."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        if drop_cache:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        return sha256_fd(fd)
    finally:
        if drop_cache:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
