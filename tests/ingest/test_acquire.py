"""Acquisition proves its copy: the read-back of every synced range must equal what was read."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
from pathlib import Path

import pytest

from ingest.pipeline.acquire import (
    EMPTY_SHA256,
    ReadBackMismatch,
    SourceChanged,
    acquire,
    begin,
)
from storage.blobs.localstore import LocalStore

MIB = 1024 * 1024


def _source(tmp_path: Path, size: int) -> tuple[Path, str]:
    data = os.urandom(size)
    path = tmp_path / "REC_0001.MP4"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def _zero_byte(path: Path, offset: int) -> None:
    """The disk returns other bytes at ``offset`` from now on (written and synced)."""
    bad = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(bad, b"\x00", offset)
        os.fsync(bad)
    finally:
        os.close(bad)


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
                    _zero_byte(staging.path, start + 7)

            with pytest.raises(ReadBackMismatch, match="read-back of the staging copy differs"):
                acquire(fd, staging, chunk=256 * 1024, sync_every=MIB, after_sync=rot)
    finally:
        os.close(fd)


def test_the_copy_also_gives_the_hash_of_each_prefix_asked_for(tmp_path: Path) -> None:
    """Prefix hashes at lengths inside a chunk, on a chunk edge and past the end."""
    data = os.urandom(300_000)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging:
            got = acquire(fd, staging, chunk=65536, marks=[1, 65536, 100_000, 300_000, 400_000])
    finally:
        os.close(fd)
    assert dict(got.prefixes) == {
        n: hashlib.sha256(data[:n]).hexdigest() for n in (1, 65536, 100_000, 300_000)
    }
    assert got.sha256 == hashlib.sha256(data).hexdigest()


def test_a_source_rewritten_with_its_size_and_mtime_put_back_during_the_copy_is_refused(
    tmp_path: Path,
) -> None:
    """Only the kernel's change time shows an in-place rewrite that restored size and mtime:
    the copy (possibly a mix of old and new bytes) is not accepted."""
    src, _ = _source(tmp_path, 3 * MIB)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    st = src.stat()

    def rewrite(start: int, end: int) -> None:
        if start == 0:
            with open(src, "r+b") as f:
                f.write(b"\x00" * 4096)
            os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))

    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging, pytest.raises(SourceChanged, match="changed"):
            acquire(fd, staging, chunk=256 * 1024, sync_every=MIB, after_sync=rewrite)
    finally:
        os.close(fd)
    assert (src.stat().st_size, src.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_an_empty_file_is_proven_empty_without_a_copy(tmp_path: Path) -> None:
    """Size 0: the hash of no bytes, and nothing written to the staging file."""
    src = tmp_path / "EMPTY.MP4"
    src.touch()
    store = LocalStore(tmp_path / "store")
    store.prepare()
    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging:
            got = acquire(fd, staging)
            assert staging.path.stat().st_size == 0
    finally:
        os.close(fd)
    assert (got.sha256, got.size) == (EMPTY_SHA256, 0) == (hashlib.sha256(b"").hexdigest(), 0)


def test_a_file_of_one_chunk_is_copied_and_read_back_without_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A photo-sized file (issue 19): the same copy, prefix hashes, sync and read-back, with no
    writer or read-back thread; ``begin`` returns after the sync and ``finish`` reads back."""
    data = os.urandom(45_000)
    src = tmp_path / "IMG_0001.JPG"
    src.write_bytes(data)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    started: list[str] = []
    start = threading.Thread.start

    def counted(self: threading.Thread) -> None:
        started.append(self.name)
        start(self)

    monkeypatch.setattr(threading.Thread, "start", counted)
    synced: list[tuple[int, int]] = []
    stages: list[str] = []
    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging:
            copied = begin(fd, staging, marks=[1, 45_000, 50_000],
                           after_sync=lambda a, b: synced.append((a, b)),
                           on_stage=stages.append)  # fmt: skip
            assert stages == ["copied", "synced"], "read back only when the proof is asked for"
            got = copied.finish()
            assert staging.path.read_bytes() == data
    finally:
        os.close(fd)
    assert started == []
    assert stages == ["copied", "synced", "read-back"]
    assert synced == [(0, 45_000)]
    assert (got.sha256, got.size) == (hashlib.sha256(data).hexdigest(), 45_000)
    assert dict(got.prefixes) == {1: hashlib.sha256(data[:1]).hexdigest(), 45_000: got.sha256}


def test_a_disk_that_returns_other_bytes_of_a_one_chunk_file_fails_its_read_back(
    tmp_path: Path,
) -> None:
    src, _ = _source(tmp_path, 40_000)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    fd = os.open(src, os.O_RDONLY)
    try:
        with store.staging() as staging:

            def rot(start: int, end: int) -> None:
                _zero_byte(staging.path, 1234)

            copied = begin(fd, staging, after_sync=rot)
            with pytest.raises(ReadBackMismatch, match="read-back of the staging copy differs"):
                copied.finish()
    finally:
        os.close(fd)


def test_a_one_chunk_file_that_grows_during_its_copy_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Appended to between the stat and the read (a camera still writing): more bytes than
    the file had, read on the same thread, and refused."""
    src, _ = _source(tmp_path, 40_000)
    store = LocalStore(tmp_path / "store")
    store.prepare()
    fd = os.open(src, os.O_RDONLY)
    real_fadvise = os.posix_fadvise

    def grow_first(fd_: int, offset: int, length: int, advice: int) -> None:
        if fd_ == fd and advice == os.POSIX_FADV_SEQUENTIAL:
            with open(src, "ab") as f:
                f.write(os.urandom(100_000))
        real_fadvise(fd_, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", grow_first)
    try:
        with store.staging() as staging, pytest.raises(SourceChanged, match="changed"):
            acquire(fd, staging)
    finally:
        os.close(fd)
