"""Acquisition of one file: a single read pass that hashes and writes, then a read-back.

The source is read once in large chunks; the SHA-256 is computed on the bytes as they are
read, and a writer thread writes the same buffers to a staging file on the store's file system
(hashing and writing overlap on two cores). The read-back overlaps the copy too: every
``SYNC_EVERY`` bytes the writer syncs what it wrote, drops it from the page cache and hands
the range to a checker thread, which reads it back from the disk and hashes it in order while
the copy goes on. At the end: the source must not have changed during the copy (inode, size,
mtime, change time), the staging file is fsynced, its tail dropped and read back, and only a
read-back hash of every byte equal to the copy hash is accepted. An empty file is read once to
prove it is empty, and nothing else is done with it.

``acquire`` does it all; ``begin`` stops after the last sync and ``Copied.finish`` waits for
the read-back of the last range and compares, so that the next file's copy can start while
the tail of this one is read back (ingest.pipeline.overlap).

A file smaller than one chunk (a photo, a short clip: thousands on one camera) is copied with
no thread: the same reads, hash, writes and fsync on the caller's thread, and its read-back
(the same ``pread`` of the dropped range, hashed) runs in ``Copied.finish``, on the thread that
proves the copy. Two threads started and joined per file cost more than such a file's copy
(issue 19); the steps, their order and every check are the same.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from i18n import N_, _
from ingest.errors import IngestError
from ingest.pipeline.stages import OnStage, Stage
from storage.blobs.localstore import Staging

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CHUNK = 8 * 1024 * 1024
SYNC_EVERY = 64 * 1024 * 1024  # written, synced, dropped and read back in ranges of this size
_BUFFERS = 3


class SourceChanged(IngestError):
    code = "source-changed"
    hint = N_("The file was still being written; it stays on the device and is taken next docking.")


class ReadError(IngestError):
    code = "source-read-error"
    hint = N_("The device medium may be failing; the file stays on it. Report the device.")


class ReadBackMismatch(IngestError):
    code = "read-back-mismatch"
    hint = N_("The evidence disk returned other bytes than were written: check the disk now.")


class StagingReadError(IngestError):
    """The evidence disk failed to read the staging copy back (EIO): nothing was verified."""

    code = "staging-read-error"
    hint = N_(
        "The evidence disk could not read back what was written to it: check the disk now. "
        "The file stays on the device and is taken next docking."
    )


class Abandoned(IngestError):
    code = "abandoned"
    hint = N_("The dock was stopping; the file stays on the device and is taken next time.")


class WriteError(IngestError):
    code = "staging-write-error"
    hint = N_("Check free space and the health of the evidence disk; nothing was recorded.")


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceStat:
    """Which file bytes were read from and how it looked while they were: the file system and
    inode, size, mtime and the kernel's change time (which no user can set back)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> SourceStat:
        return cls(
            dev=st.st_dev,
            ino=st.st_ino,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            ctime_ns=st.st_ctime_ns,
        )

    @property
    def inode(self) -> str:
        """As the catalog keeps it (inode numbers are unsigned 64-bit: text, not BIGINT)."""
        return f"{self.dev}:{self.ino}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Acquired:
    sha256: str
    size: int
    mtime_ns: int
    source: SourceStat  # the file as it was during the whole copy
    # SHA-256 of the first N bytes, for each N asked for (``marks``) that the file reaches
    prefixes: Mapping[int, str] = field(default_factory=dict)


def acquire(
    src_fd: int,
    staging: Staging,
    *,
    chunk: int = CHUNK,
    cancel: threading.Event | None = None,
    sync_every: int = SYNC_EVERY,
    after_sync: Callable[[int, int], None] | None = None,
    marks: Collection[int] = (),
    on_stage: OnStage | None = None,
) -> Acquired:
    """Copy ``src_fd`` (from its start) into ``staging`` and prove the copy; see module doc.

    ``cancel`` abandons the copy between chunks (the caller discards the staging file).
    ``marks``: lengths whose prefix hash is wanted too (is an earlier copy the file's start?).
    ``after_sync(start, end)`` runs when a range is synced, before it is read back (a seam for
    tests that make the disk return other bytes). ``on_stage`` sees 'copied', 'synced' and
    'read-back' (ingest.pipeline.stages)."""
    return begin(
        src_fd, staging, chunk=chunk, cancel=cancel, sync_every=sync_every,
        after_sync=after_sync, marks=marks, on_stage=on_stage,
    ).finish()  # fmt: skip


def begin(
    src_fd: int,
    staging: Staging,
    *,
    chunk: int = CHUNK,
    cancel: threading.Event | None = None,
    sync_every: int = SYNC_EVERY,
    after_sync: Callable[[int, int], None] | None = None,
    marks: Collection[int] = (),
    on_stage: OnStage | None = None,
) -> Copied:
    """``acquire`` up to the copy's last sync: the source is read, unchanged, and no longer
    needed; the read-back of the last range may still run (``Copied.finish`` waits for it and
    proves the copy). The next file can be copied meanwhile (ingest.pipeline.overlap)."""
    stage = on_stage or _nothing
    before = SourceStat.of(os.fstat(src_fd))
    if before.size == 0:
        return Copied(acquired=_empty(src_fd, before), stage=stage)
    os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
    # buffers sized to the file: a 40 KiB photo must not pay for three 8 MiB allocations
    chunk = min(chunk, max(64 * 1024, before.size + 1))
    inline = before.size < chunk  # one buffer holds it: no writer or read-back thread
    back_fd = os.open(staging.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        checker = _ReadBack(back_fd, chunk, thread=not inline)
        try:
            digest, total, prefixes = _copy(
                src_fd, staging.fd, chunk, cancel, checker, sync_every, after_sync, marks, stage,
                thread=not inline,
            )  # fmt: skip
            _unchanged(src_fd, before, total)
            os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except BaseException:
            checker.finish()  # every range handed over is read back (or the thread ends)
            raise
    except BaseException:
        _close_back(back_fd)
        raise
    copied = Acquired(
        sha256=digest, size=total, mtime_ns=before.mtime_ns, source=before, prefixes=prefixes
    )
    return Copied(acquired=copied, stage=stage, checker=checker, back_fd=back_fd)


@dataclass(slots=True, kw_only=True)
class Copied:
    """A copy whose read-back may still run; ``finish`` proves it (once)."""

    acquired: Acquired
    stage: OnStage
    checker: _ReadBack | None = None  # None: nothing to read back (an empty file)
    back_fd: int | None = None

    def finish(self) -> Acquired:
        """Wait for the read-back of every range and compare: the copy, or ReadBackMismatch."""
        if self.checker is not None and self.back_fd is not None:
            checker, back_fd, self.checker, self.back_fd = self.checker, self.back_fd, None, None
            try:
                back, back_size = checker.result()
            finally:
                _close_back(back_fd)
            got = self.acquired
            if back != got.sha256 or back_size != got.size:
                raise ReadBackMismatch(
                    _(
                        "read-back of the staging copy differs: copied sha256 {copied} ({size} "
                        "bytes), read back {back} ({back_size} bytes)"
                    ).format(copied=got.sha256, size=got.size, back=back, back_size=back_size)
                )
            self.stage(Stage.READ_BACK)
        return self.acquired


def _close_back(back_fd: int) -> None:
    os.posix_fadvise(back_fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(back_fd)


def _unchanged(src_fd: int, before: SourceStat, total: int) -> None:
    after = SourceStat.of(os.fstat(src_fd))
    if after != before or total != after.size:
        raise SourceChanged(
            _(
                "source changed during the copy: {size} bytes at mtime {mtime} (changed "
                "{ctime}) before, {size_after} bytes at mtime {mtime_after} (changed "
                "{ctime_after}) after, {read} bytes read"
            ).format(
                size=before.size, mtime=before.mtime_ns, ctime=before.ctime_ns,
                size_after=after.size, mtime_after=after.mtime_ns, ctime_after=after.ctime_ns,
                read=total,
            )
        )  # fmt: skip


def _empty(src_fd: int, before: SourceStat) -> Acquired:
    """An empty file: one read proves it still is; no staging bytes, no threads, no read-back."""
    try:
        extra = len(os.read(src_fd, 1))
    except OSError as e:
        raise ReadError(_("cannot read the source: {error}").format(error=e.strerror)) from e
    _unchanged(src_fd, before, extra)
    return Acquired(sha256=EMPTY_SHA256, size=0, mtime_ns=before.mtime_ns, source=before)


class _ReadBack:
    """Reads synced ranges of the staging file back from the disk, in order, and hashes them:
    the proof that the disk returns what was written. On a thread of its own while the copy
    goes on; with ``thread=False`` (a file of one chunk) the ranges are read in ``finish``,
    on the thread that waits for the proof."""

    def __init__(self, fd: int, chunk: int, *, thread: bool = True) -> None:
        self.fd = fd
        self.h = hashlib.sha256()
        self.size = 0
        self.error: BaseException | None = None
        self._ranges: queue.Queue[tuple[int, int] | None] = queue.Queue()
        self._chunk = chunk
        self._t: threading.Thread | None = None
        if thread:
            self._t = threading.Thread(target=self._run, name="evidock-read-back", daemon=True)
            self._t.start()

    def check(self, start: int, end: int) -> None:
        """``[start, end)`` is synced and dropped from the cache: read it back."""
        self._ranges.put((start, end))

    def finish(self) -> None:
        """No more ranges: wait until those handed over are read back (idempotent)."""
        self._ranges.put(None)
        if self._t is None:
            self._run()
        elif self._t.is_alive():
            self._t.join()

    def result(self) -> tuple[str, int]:
        self.finish()
        if self.error is not None:
            raise self.error
        return self.h.hexdigest(), self.size

    def _run(self) -> None:
        view = memoryview(bytearray(self._chunk))
        while (job := self._ranges.get()) is not None:
            if self.error is not None:
                continue
            start, end = job
            try:
                while start < end:
                    n = os.preadv(self.fd, [view[: min(len(view), end - start)]], start)
                    if n == 0:
                        break
                    self.h.update(view[:n])
                    self.size += n
                    start += n
                os.posix_fadvise(self.fd, job[0], job[1] - job[0], os.POSIX_FADV_DONTNEED)
            except OSError as e:
                self.error = StagingReadError(
                    _("cannot read the staging copy back: {error}").format(error=e.strerror)
                )


def _copy(
    src_fd: int,
    dst_fd: int,
    chunk: int,
    cancel: threading.Event | None,
    checker: _ReadBack,
    sync_every: int,
    after_sync: Callable[[int, int], None] | None,
    marks: Collection[int],
    stage: OnStage,
    *,
    thread: bool = True,
) -> tuple[str, int, dict[int, str]]:
    """Read and hash on this thread, write on a second one (which syncs and hands synced
    ranges to the read-back checker); buffers are recycled. The last range is synced here,
    once the writer is done. ``thread=False``: each buffer is written here, right after it is
    hashed (a file of one chunk: nothing to overlap)."""
    h = hashlib.sha256()
    todo = sorted(m for m in set(marks) if m > 0)
    prefixes: dict[int, str] = {}
    free: queue.Queue[bytearray] = queue.Queue()
    for _buffer in range(_BUFFERS if thread else 1):
        free.put(bytearray(chunk))
    full: queue.Queue[tuple[bytearray, int] | None] = queue.Queue()
    failure: list[BaseException] = []
    written = synced = 0

    def sync(start: int, end: int, *, final: bool) -> None:
        (os.fsync if final else os.fdatasync)(dst_fd)
        os.posix_fadvise(dst_fd, start, end - start, os.POSIX_FADV_DONTNEED)
        if after_sync is not None:
            after_sync(start, end)
        checker.check(start, end)

    def write(buf: bytearray, n: int) -> None:
        nonlocal written, synced
        try:
            if not failure:
                view = memoryview(buf)[:n]
                while view:
                    view = view[os.write(dst_fd, view) :]
                written += n
                if written - synced >= sync_every:
                    sync(synced, written, final=False)
                    synced = written
        except OSError as e:
            failure.append(
                WriteError(_("cannot write the staging file: {error}").format(error=e.strerror))
            )
        free.put(buf)

    def writer() -> None:
        while (job := full.get()) is not None:
            write(*job)

    t = None
    if thread:
        t = threading.Thread(target=writer, name="evidock-staging-writer", daemon=True)
        t.start()
    total = 0
    try:
        while not failure:
            if cancel is not None and cancel.is_set():
                raise Abandoned(_("copy abandoned: the dock is stopping"))
            buf = free.get()
            try:
                n = os.readv(src_fd, [buf])
            except OSError as e:
                raise ReadError(
                    _("cannot read the source: {error}").format(error=e.strerror)
                ) from e
            if n == 0:
                free.put(buf)
                break
            view, done_to = memoryview(buf)[:n], 0
            while todo and todo[0] <= total + n:  # a prefix ends in this chunk
                mark = todo.pop(0)
                h.update(view[done_to : mark - total])
                done_to = mark - total
                prefixes[mark] = h.copy().hexdigest()
            h.update(view[done_to:])
            total += n
            if t is not None:
                full.put((buf, n))
            else:
                write(buf, n)
    finally:
        if t is not None:
            full.put(None)
            t.join()
    if failure:
        raise failure[0]
    stage(Stage.COPIED)
    try:
        sync(synced, written, final=True)
    except OSError as e:
        raise WriteError(_("cannot sync the staging file: {error}").format(error=e.strerror)) from e
    stage(Stage.SYNCED)
    return h.hexdigest(), total, prefixes


def _nothing(stage: str) -> None:
    """No hook: the steps pass unseen."""
