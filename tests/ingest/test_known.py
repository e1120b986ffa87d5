"""What makes a device file 'already acquired': its bytes; and when re-reading may be skipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from ingest.pipeline.acquire import Acquired, SourceStat
from ingest.pipeline.known import FLAG_EXTENDS, FLAG_NAME_REUSED, collision, unchanged_since
from storage.records import Item, MediaFacts

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CTIME = 1_790_000_000_123_456_789  # a kernel's change time, to the nanosecond
NOW = SourceStat(dev=2049, ino=77, size=1000, mtime_ns=1_789_000_000_000_000_000, ctime_ns=CTIME)


def _item(item_id: int = 1, **kw: object) -> Item:
    fields: dict[str, object] = dict(
        id=item_id, sha256="a" * 64, size=1000, device_serial="BWC-1", officer_badge=None,
        session_id=1, original_path=b"DCIM/REC.MP4", original_path_display="DCIM/REC.MP4",
        source_mtime_ns=NOW.mtime_ns, state="stored", acquired_at=T0, durable_at=T0,
        confidentiality="none", facts=MediaFacts(), source_inode="2049:77",
        source_ctime_ns=CTIME,
    )  # fmt: skip
    fields.update(kw)
    return Item(**fields)  # type: ignore[arg-type]


def test_only_the_same_untouched_inode_with_a_kernel_change_time_skips_the_reread() -> None:
    """Same inode and change time to the ns: skip; another inode, a newer change time, a
    coarse (FAT/exFAT) change time or an item recorded without its inode: hash again."""
    assert unchanged_since(_item(), NOW)
    assert not unchanged_since(_item(), replace(NOW, ino=78))
    assert not unchanged_since(_item(), replace(NOW, dev=2050))
    assert not unchanged_since(_item(), replace(NOW, ctime_ns=CTIME + 1))
    assert not unchanged_since(_item(), replace(NOW, mtime_ns=NOW.mtime_ns + 1))
    fat = 1_790_000_000_120_000_000  # 10 ms steps, as the medium stores them
    assert not unchanged_since(_item(source_ctime_ns=fat), replace(NOW, ctime_ns=fat))
    assert not unchanged_since(_item(source_inode=None, source_ctime_ns=None), NOW)


def test_a_new_item_under_a_known_name_says_whether_it_grew_or_is_another_recording() -> None:
    """An earlier item whose bytes start this file: extends it; any other: the name reused."""
    got = Acquired(
        sha256="c" * 64, size=3000, mtime_ns=0, source=replace(NOW, size=3000),
        prefixes={1000: "a" * 64, 2000: "f" * 64},
    )  # fmt: skip
    start = _item(1)
    other = _item(2, sha256="b" * 64, size=2000)
    assert collision([], got) == ((), None)
    assert collision([start], got) == (
        (FLAG_EXTENDS,), "it grew after it was taken: item #1 holds its first 1000 bytes",
    )  # fmt: skip
    assert collision([start, other], got) == (
        (FLAG_EXTENDS, FLAG_NAME_REUSED),
        "it grew after it was taken: item #1 holds its first 1000 bytes; another recording "
        "was taken under this name before (item #2: 2000 bytes, sha256 bbbbbbbbbbbb); these "
        "are other bytes, stored as a new item",
    )
