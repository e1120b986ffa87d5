"""Is a file on a device already in the catalog? Decided by its bytes (issue 23).

Name, size and mtime prove nothing: cameras whose clock was reset reuse names and times, and
recorders split files at fixed sizes. A file is already acquired when its SHA-256 equals an
item recorded for the same device and path; any other file under a known name is a new item,
flagged (``name_reused``, or ``extends_earlier_copy`` when the earlier item's bytes are the
start of this file: it grew after it was taken).

The one short cut that skips re-reading a file: the item was read from this very inode (file
system and inode number) and the inode has not changed since. Its kernel change time (ctime),
which every write, truncate or utime sets to the current time and no process can set back, is
the same to the nanosecond. Only change times finer than a millisecond count: on FAT and exFAT
(10 ms or 2 s) the times come from the medium, written by the camera's clock, and inode
numbers are made up at each mount; there the file is hashed again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from i18n import _
from ingest.pipeline.acquire import CHUNK, Abandoned, Acquired, ReadError, SourceStat
from storage.records import Item

FLAG_NAME_REUSED = "name_reused"
FLAG_EXTENDS = "extends_earlier_copy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Known:
    """The item that holds a device file's bytes; ``verified``: the file as it was while this
    docking hashed it (None: not re-read, by the short cut)."""

    item: Item
    verified: SourceStat | None


def unchanged_since(item: Item, now: SourceStat) -> bool:
    """Pure: the item was read from this inode, which has not changed since (module doc)."""
    return (
        item.source_inode == now.inode
        and item.source_ctime_ns == now.ctime_ns
        and (item.size, item.source_mtime_ns) == (now.size, now.mtime_ns)
        and now.ctime_ns % 1_000_000 != 0  # a kernel's fine time, not a FAT/exFAT one
    )


def already(
    src_fd: int, earlier: Sequence[Item], *, cancel: threading.Event | None = None
) -> Known | None:
    """The item among ``earlier`` (recorded at this device and path) whose bytes the open
    file holds, or None. Leaves the file offset at 0 for the copy that follows."""
    now = SourceStat.of(os.fstat(src_fd))
    same_size = [i for i in earlier if i.size == now.size]
    if not same_size:
        return None  # other bytes for certain
    for item in same_size:
        if unchanged_since(item, now):
            return Known(item=item, verified=None)
    h = hashlib.sha256()
    buf = bytearray(min(CHUNK, max(64 * 1024, now.size + 1)))
    view = memoryview(buf)
    total = 0
    try:
        os.posix_fadvise(src_fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := os.readv(src_fd, [buf]):
            if cancel is not None and cancel.is_set():
                raise Abandoned(_("re-reading abandoned: the dock is stopping"))
            h.update(view[:n])
            total += n
        os.lseek(src_fd, 0, os.SEEK_SET)
    except OSError as e:
        raise ReadError(_("cannot read the source: {error}").format(error=e.strerror)) from e
    if SourceStat.of(os.fstat(src_fd)) != now or total != now.size:
        return None  # changing while read: the copy decides (and refuses it)
    sha = h.hexdigest()
    hit = next((i for i in same_size if i.sha256 == sha), None)
    return Known(item=hit, verified=now) if hit is not None else None


def collision(earlier: Sequence[Item], got: Acquired) -> tuple[tuple[str, ...], str | None]:
    """Pure: the flags and reason of a new item stored under a name that earlier items have
    (none of them with these bytes); the reason in the reader's language."""
    if not earlier:
        return (), None
    grown = [i for i in earlier if got.prefixes.get(i.size) == i.sha256]
    other = [i for i in earlier if i not in grown]
    flags: list[str] = []
    why: list[str] = []
    if grown:
        flags.append(FLAG_EXTENDS)
        held = [
            _("item #{item} holds its first {size} bytes").format(item=i.id, size=i.size)
            for i in grown
        ]
        why.append(_("it grew after it was taken: {items}").format(items=", ".join(held)))
    if other:
        flags.append(FLAG_NAME_REUSED)
        taken = [
            _("item #{item}: {size} bytes, sha256 {sha256}").format(
                item=i.id, size=i.size, sha256=i.sha256[:12]
            )
            for i in other
        ]
        why.append(
            _(
                "another recording was taken under this name before ({items}); these are "
                "other bytes, stored as a new item"
            ).format(items=", ".join(taken))
        )
    return tuple(flags), "; ".join(why)
