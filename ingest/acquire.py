"""Acquisition of one file: a single read pass that hashes and writes, then a read-back.

The source is read once in large chunks; the SHA-256 is computed on the bytes as they are
read, and a writer thread writes the same buffers to a staging file on the store's file system
(hashing and writing overlap on two cores). Then: the source must not have changed during the
copy (size, mtime, inode), the staging file is fsynced, dropped from the page cache and read
back, and only a read-back hash equal to the copy hash is accepted.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from dataclasses import dataclass

from ingest.errors import IngestError
from storage.hashing import sha256_fd
from storage.localstore import Staging

CHUNK = 8 * 1024 * 1024
_BUFFERS = 3


class SourceChanged(IngestError):
    code = "source-changed"
    hint = "The file was still being written; it stays on the device and is taken next docking."


class ReadError(IngestError):
    code = "source-read-error"
    hint = "The device medium may be failing; the file stays on it. Report the device."


class ReadBackMismatch(IngestError):
    code = "read-back-mismatch"
    hint = "The evidence disk returned other bytes than were written: check the disk now."


class Abandoned(IngestError):
    code = "abandoned"
    hint = "The dock was stopping; the file stays on the device and is taken next time."


class WriteError(IngestError):
    code = "staging-write-error"
    hint = "Check free space and the health of the evidence disk; nothing was recorded."


@dataclass(frozen=True, slots=True, kw_only=True)
class Acquired:
    sha256: str
    size: int
    mtime_ns: int


def acquire(
    src_fd: int,
    staging: Staging,
    *,
    chunk: int = CHUNK,
    cancel: threading.Event | None = None,
) -> Acquired:
    """Copy ``src_fd`` (from its start) into ``staging`` and prove the copy; see module doc.

    ``cancel`` abandons the copy between chunks (the caller discards the staging file)."""
    before = os.fstat(src_fd)
    os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    # buffers sized to the file: a 40 KiB photo must not pay for three 8 MiB allocations
    chunk = min(chunk, max(64 * 1024, before.st_size + 1))
    digest, total = _copy(src_fd, staging.fd, chunk, cancel)
    after = os.fstat(src_fd)
    if (before.st_size, before.st_mtime_ns, before.st_ino) != (
        after.st_size,
        after.st_mtime_ns,
        after.st_ino,
    ) or total != after.st_size:
        raise SourceChanged(
            f"source changed during the copy: {before.st_size} bytes at mtime "
            f"{before.st_mtime_ns} before, {after.st_size} bytes at mtime {after.st_mtime_ns} "
            f"after, {total} bytes read"
        )
    try:
        os.fsync(staging.fd)
    except OSError as e:
        raise WriteError(f"cannot sync the staging file: {e.strerror}") from e
    os.posix_fadvise(staging.fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_DONTNEED)
    back_fd = os.open(staging.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.posix_fadvise(back_fd, 0, 0, os.POSIX_FADV_DONTNEED)
        back, back_size = sha256_fd(back_fd)
    finally:
        os.posix_fadvise(back_fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(back_fd)
    if back != digest or back_size != total:
        raise ReadBackMismatch(
            f"read-back of the staging copy differs: copied sha256 {digest} ({total} bytes), "
            f"read back {back} ({back_size} bytes)"
        )
    return Acquired(sha256=digest, size=total, mtime_ns=before.st_mtime_ns)


def _copy(src_fd: int, dst_fd: int, chunk: int, cancel: threading.Event | None) -> tuple[str, int]:
    """Read and hash on this thread, write on a second one; buffers are recycled."""
    h = hashlib.sha256()
    free: queue.Queue[bytearray] = queue.Queue()
    for _ in range(_BUFFERS):
        free.put(bytearray(chunk))
    full: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
    failure: list[BaseException] = []

    def writer() -> None:
        while True:
            job = full.get()
            if job is None:
                return
            buf, n = job
            try:
                if not failure:
                    view = memoryview(buf)[:n]
                    while view:
                        view = view[os.write(dst_fd, view) :]
            except OSError as e:
                failure.append(WriteError(f"cannot write the staging file: {e.strerror}"))
            free.put(buf)

    t = threading.Thread(target=writer, name="evidock-staging-writer", daemon=True)
    t.start()
    total = 0
    try:
        while not failure:
            if cancel is not None and cancel.is_set():
                raise Abandoned("copy abandoned: the dock is stopping")
            buf = free.get()
            try:
                n = os.readv(src_fd, [buf])
            except OSError as e:
                raise ReadError(f"cannot read the source: {e.strerror}") from e
            if n == 0:
                free.put(buf)
                break
            h.update(memoryview(buf)[:n])
            total += n
            full.put((buf, n))
    finally:
        full.put(None)
        t.join()
    if failure:
        raise failure[0]
    return h.hexdigest(), total
