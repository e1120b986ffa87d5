"""Acquisition proves its copy: the read-back of every synced range must equal what was read."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

import pytest

from ingest.acquire import ReadBackMismatch, acquire
from storage.localstore import LocalStore

MIB = 1024 * 1024


def _source(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path = tmp_path / "REC_0001.MP4"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_a_copy_read_back_in_ranges_gives_the_source_hash(tmp_path: Path) -> None:
    """A file of several sync ranges is copied, read back range by range, and matches."""
    src, sha = _source(tmp_path, 5 * MIB + 12345)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    synced: list[tuple[int, int]] = []
    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging:
            got = acquire(fd, staging, chunk=256 * 1024, sync_every=MIB,
                          after_sync=lambda a, b: synced.append((a, b)))  # fmt: skip
            assert hashlib.sha256(staging.path.read_bytes()).hexdigest() == sha
    finally:
        os.close(fd)
    assert (got.sha256, got.size) == (sha, 5 * MIB + 12345)
    assert len(synced) == 6 and synced[0][0] == 0 and synced[-1][1] == got.size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(synced))


def test_a_disk_that_returns_other_bytes_fails_the_read_back(tmp_path: Path) -> None:
    """One byte changed on disk after its range was synced: the copy is refused."""
    src, _ = _source(tmp_path, 3 * MIB)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging:

            def rot(start: int, end: int) -> None:
                if start == MIB:  # the second range goes bad between write and read-back
                    bad = os.open(staging.path, os.O_WRONLY)
                    try:
                        os.pwrite(bad, b"\x00", start + 7)
                        os.fsync(bad)
                    finally:
                        os.close(bad)

            with pytest.raises(ReadBackMismatch, match="read-back of the staging copy differs"):
                acquire(fd, staging, chunk=256 * 1024, sync_every=MIB, after_sync=rot)
    finally:
        os.close(fd)
