"""Wipe after offload: delete from a device only what is verified in the system of record.

A file is deleted only when all of these hold, checked in this order (cheap ones first):

- its item is durable, and the item's copy in every backend of the system of record is
  re-hashed now (the local file; the S3 version, downloaded) and equals the item's SHA-256;
- the file is the one whose bytes were verified: the same inode, size, mtime and kernel change
  time as when this docking copied or hashed it (a file recorded at an earlier docking is
  hashed again first); a file that changed since is left for the next docking to copy again;
- it has not changed for ``settle_s`` seconds (its mtime and change time against now);
- no process has it open for writing (pipeline.writers: ``/proc`` and a write lease, held from
  the last checks until the unlink; without a lease every process must have been seen).

Every deletion is a ``wiped_from_device`` custody event, committed before the unlink so that
no deletion ever happens unrecorded; an unlink that then fails, or is given up because the file
was opened meanwhile, is recorded too. A file that is not wiped says why (``WipeResult``), to
the person in their language and to the custody log in English (``pipeline.said``).
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devices.walk import display_path
from i18n import _
from ingest.context import Context
from ingest.pipeline.acquire import SourceStat
from ingest.pipeline.said import Said, both
from ingest.pipeline.writers import PROC, Lease, in_use, open_for_writing, still_held, write_lease
from storage.blobs.hashing import sha256_fd
from storage.catalog.objects import ObjectOps
from storage.errors import StorageError
from storage.records import Item
from verify.log.events import EventType

logger = logging.getLogger(__name__)

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY

# why a file stays on the device (WipeResult.code)
NOT_DURABLE = "not-durable"
NOT_VERIFIED = "copy-not-verified"
UNREADABLE = "unreadable"
OTHER_BYTES = "other-bytes"
CHANGED = "changed-since-verified"
SETTLING = "settling"  # and ingest.pipeline.writers: open-for-writing, in-use, writers-unknown
WIPE_FAILED = "wipe-failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class WipeResult:
    path: str
    wiped: bool
    reason: Said | None = None
    code: str | None = None


class _Keep(Exception):
    """The file stays on the device: ``code`` and ``reason`` say why."""

    def __init__(self, code: str, reason: Said) -> None:
        super().__init__(reason.logged)
        self.code = code
        self.reason = reason


def wipe_one(
    ctx: Context,
    root_fd: int,
    path: bytes,
    item: Item,
    *,
    actor: str,
    verified: SourceStat | None,
    settle_s: float,
    now_ns: Callable[[], int] = time.time_ns,
    proc: Path = PROC,
) -> WipeResult:
    """Delete ``path`` (relative to ``root_fd``) if every check of the module doc passes.

    ``verified``: the file as it was while this docking copied or hashed the item's bytes from
    it; None when it was recorded earlier (it is hashed again here, so only its own bytes are
    ever wiped)."""
    display = display_path(path)
    parts = path.split(b"/")
    fds: list[int] = []
    try:
        if item.state != "stored" or item.durable_at is None:
            raise _Keep(NOT_DURABLE, both(lambda: _("not durable in the system of record yet")))
        parent = _parent(root_fd, parts[:-1], fds)
        try:
            fd = os.open(parts[-1], _FILE, dir_fd=parent)
        except OSError as e:
            why = e.strerror
            raise _Keep(
                UNREADABLE, both(lambda: _("cannot open it: {error}").format(error=why))
            ) from e
        fds.append(fd)
        now = _stat(fd)
        if verified is None:
            verified = _rehash(fd, now, item)
        _check(now, verified, item, settle_s, now_ns())
        unverified = _unverified(ctx, item)
        if unverified is not None:
            raise _Keep(NOT_VERIFIED, unverified)
        scan = open_for_writing(now.dev, now.ino, proc=proc)
        with write_lease(fd) as lease:
            blocked = in_use(scan, lease)
            if blocked is not None:
                raise _Keep(*blocked)
            if _stat(fd) != verified or not _named(parent, parts[-1], verified):
                raise _Keep(
                    CHANGED,
                    both(lambda: _("changed while it was checked; it stays for the next docking")),
                )
            return _delete(ctx, parent, parts[-1], fd, lease, item, display, actor)
    except _Keep as k:
        return WipeResult(path=display, wiped=False, reason=k.reason, code=k.code)
    except OSError as e:
        return WipeResult(path=display, wiped=False, reason=_unreachable(e), code=UNREADABLE)
    finally:
        for d in reversed(fds):
            os.close(d)


def _parent(root_fd: int, dirs: list[bytes], fds: list[int]) -> int:
    fd = root_fd
    for part in dirs:
        try:
            fd = os.open(part, _DIR, dir_fd=fd)
        except OSError as e:
            raise _Keep(UNREADABLE, _unreachable(e)) from e
        fds.append(fd)
    return fd


def _unreachable(e: OSError) -> Said:
    return both(lambda: _("cannot reach it: {error}").format(error=e.strerror))


def _stat(fd: int) -> SourceStat:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise _Keep(CHANGED, both(lambda: _("no longer a regular file")))
    return SourceStat.of(st)


def _named(parent: int, name: bytes, verified: SourceStat) -> bool:
    """The name still leads to the verified inode (the unlink goes by name)."""
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (verified.dev, verified.ino)


def _rehash(fd: int, before: SourceStat, item: Item) -> SourceStat:
    """Hash a file recorded at an earlier docking: it is wiped only if it holds the item's
    bytes, and only as it was while it was hashed."""
    try:
        found, size = sha256_fd(fd)
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError as e:
        error = e.strerror
        raise _Keep(
            UNREADABLE, both(lambda: _("cannot re-read it: {error}").format(error=error))
        ) from e
    if _stat(fd) != before:
        raise _Keep(
            CHANGED,
            both(lambda: _("it changed while it was hashed; it stays for the next docking")),
        )
    if (found, size) != (item.sha256, item.size):
        raise _Keep(
            OTHER_BYTES, both(lambda: _("the device file is not the recorded item's bytes"))
        )
    return before


def _check(now: SourceStat, verified: SourceStat, item: Item, settle_s: float, at: int) -> None:
    """Pure: the file is still the verified one and has been quiet for the settle time."""
    if now != verified or now.size != item.size:
        raise _Keep(
            CHANGED,
            both(
                lambda: _(
                    "changed since its copy was verified ({size} bytes, mtime {mtime}, changed "
                    "{ctime}; now {size_now} bytes, mtime {mtime_now}, changed {ctime_now}); it "
                    "stays for the next docking to copy"
                ).format(
                    size=verified.size, mtime=verified.mtime_ns, ctime=verified.ctime_ns,
                    size_now=now.size, mtime_now=now.mtime_ns, ctime_now=now.ctime_ns,
                )
            ),
        )  # fmt: skip
    quiet_s = (at - max(now.mtime_ns, now.ctime_ns)) / 1e9
    if quiet_s < settle_s:
        raise _Keep(
            SETTLING,
            both(
                lambda: _(
                    "changed {ago} s ago; a file is wiped only after {settle} s without change "
                    "([dock] settle_seconds)"
                ).format(ago=f"{max(quiet_s, 0.0):.1f}", settle=f"{settle_s:g}")
            ),
        )


def _delete(
    ctx: Context,
    parent: int,
    name: bytes,
    fd: int,
    lease: Lease,
    item: Item,
    display: str,
    actor: str,
) -> WipeResult:
    with ctx.catalog.write() as txn:
        ctx.custody.append(
            txn, type=EventType.WIPED_FROM_DEVICE, actor=actor, item=item.id,
            data={"sha256": item.sha256, "path": display,
                  "device": item.device_serial, "verified_before_wipe": True,
                  "verified_in": list(ctx.settings.store.system_of_record)},
        )  # fmt: skip
    try:
        if lease.held and not still_held(fd):
            raise _Keep(
                WIPE_FAILED,
                both(lambda: _("another process opened it while it was being wiped")),
            )
        try:
            os.unlink(name, dir_fd=parent)
        except OSError as e:
            if e.errno == errno.EROFS:
                raise _Keep(WIPE_FAILED, both(lambda: _("medium is read-only"))) from e
            raise _Keep(WIPE_FAILED, Said(text=str(e.strerror), logged=str(e.strerror))) from e
    except _Keep as k:
        with ctx.catalog.write() as txn:
            ctx.custody.append(
                txn, type=EventType.ACQUISITION_FAILED, actor=actor, item=item.id,
                data={"kind": "wipe-failed", "path": display, "reason": k.reason.logged},
            )  # fmt: skip
        raise
    return WipeResult(path=display, wiped=True)


def _unverified(ctx: Context, item: Item) -> Said | None:
    """Why the item's bytes are not verified in every backend of the system of record (each
    copy re-hashed now: the local file, the S3 version downloaded), or None when they are."""
    for backend in ctx.settings.store.system_of_record:
        problem = _unverified_in(ctx, item, backend)
        if problem is not None:
            return problem
    return None


def _unverified_in(ctx: Context, item: Item, backend: str) -> Said | None:
    try:
        if backend == ctx.store.backend:
            found, size = ctx.store.hash_object(item.sha256)
        else:
            with ctx.catalog.read() as txn:
                obj = ObjectOps(txn).object(backend, item.sha256)
            if obj is None or ctx.s3 is None:
                return both(lambda: _("no {backend} copy recorded").format(backend=backend))
            found, size = ctx.s3.rehash(obj.key, obj.version_id)
    except (OSError, StorageError) as e:
        error = str(e)
        return both(
            lambda: _("{backend} copy cannot be read: {error}").format(backend=backend, error=error)
        )
    if (found, size) != (item.sha256, item.size):
        return both(
            lambda: _("{backend} copy does not verify (expected {sha256}, found {found})").format(
                backend=backend, sha256=item.sha256, found=found
            )
        )
    return None
