"""Wipe after offload: delete from a device only what is verified in the system of record.

Before each unlink the item's copy in every backend of the system of record is re-hashed (the
local file; the S3 version, downloaded): each must equal the item's SHA-256; and the
file on the device must still be the one that was acquired (same inode, size and mtime).
Every deletion is a ``wiped_from_device`` custody event, committed before the unlink so that
no deletion ever happens unrecorded; an unlink that then fails is recorded too.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass

from devices.errors import DeviceError
from devices.walk import FileEntry, open_file
from ingest.context import Context
from storage.errors import StorageError
from storage.hashing import sha256_fd
from storage.objects import ObjectOps
from storage.records import Item

logger = logging.getLogger(__name__)

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True, kw_only=True)
class WipeResult:
    path: str
    wiped: bool
    reason: str | None = None


def wipe_one(
    ctx: Context,
    root_fd: int,
    entry: FileEntry,
    item: Item,
    *,
    actor: str,
    copied_now: bool = True,
) -> WipeResult:
    """``copied_now``: the device file was hashed by this docking's copy; a file recorded at an
    earlier docking is hashed again here, so only its own bytes are ever wiped."""
    if item.state != "stored" or item.durable_at is None:
        return WipeResult(path=entry.display, wiped=False, reason="not durable yet")
    if not copied_now:
        try:
            src = open_file(root_fd, entry)
            try:
                on_device, _ = sha256_fd(src)
            finally:
                os.close(src)
        except (OSError, DeviceError) as e:
            return WipeResult(path=entry.display, wiped=False, reason=f"cannot re-read it: {e}")
        if on_device != item.sha256:
            why = "the device file is not the recorded item's bytes"
            return WipeResult(path=entry.display, wiped=False, reason=why)
    unverified = _unverified(ctx, item)
    if unverified is not None:
        return WipeResult(path=entry.display, wiped=False, reason=unverified)
    parts = entry.path.split(b"/")
    fds: list[int] = []
    try:
        fd = root_fd
        for part in parts[:-1]:
            fd = os.open(part, _DIR, dir_fd=fd)
            fds.append(fd)
        st = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode) or (st.st_ino, st.st_size, st.st_mtime_ns) != (
            entry.ino, item.size, item.source_mtime_ns,
        ):  # fmt: skip
            return WipeResult(path=entry.display, wiped=False, reason="changed since acquired")
        with ctx.catalog.write() as txn:
            ctx.custody.append(
                txn, type="wiped_from_device", actor=actor, item=item.id,
                data={"sha256": item.sha256, "path": entry.display,
                      "device": item.device_serial, "verified_before_wipe": True,
                      "verified_in": list(ctx.settings.store.system_of_record)},
            )  # fmt: skip
        try:
            os.unlink(parts[-1], dir_fd=fd)
        except OSError as e:
            reason = "medium is read-only" if e.errno == errno.EROFS else e.strerror
            with ctx.catalog.write() as txn:
                ctx.custody.append(
                    txn, type="acquisition_failed", actor=actor, item=item.id,
                    data={"kind": "wipe-failed", "path": entry.display, "reason": str(reason)},
                )  # fmt: skip
            return WipeResult(path=entry.display, wiped=False, reason=str(reason))
        return WipeResult(path=entry.display, wiped=True)
    except OSError as e:
        return WipeResult(
            path=entry.display, wiped=False, reason=f"cannot reach file: {e.strerror}"
        )
    finally:
        for d in fds:
            os.close(d)


def _unverified(ctx: Context, item: Item) -> str | None:
    """Why the item's bytes are not verified in every backend of the system of record (each
    copy re-hashed now: the local file, the S3 version downloaded), or None when they are."""
    for backend in ctx.settings.store.system_of_record:
        try:
            if backend == ctx.store.backend:
                found, size = ctx.store.hash_object(item.sha256)
            else:
                with ctx.catalog.read() as txn:
                    obj = ObjectOps(txn).object(backend, item.sha256)
                if obj is None or ctx.s3 is None:
                    return f"no {backend} copy recorded"
                found, size = ctx.s3.rehash(obj.key, obj.version_id)
        except (OSError, StorageError) as e:
            return f"{backend} copy cannot be read: {e}"
        if (found, size) != (item.sha256, item.size):
            return f"{backend} copy does not verify (expected {item.sha256}, found {found})"
    return None
