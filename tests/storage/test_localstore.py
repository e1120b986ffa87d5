"""The local content-addressed store: atomic, read-only, never overwritten, never repaired."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from storage.blobs.localstore import Filed, LocalStore
from storage.errors import StoreIntegrityError


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "store")
    s.prepare()
    return s


def _file(store: LocalStore, data: bytes) -> tuple[str, Filed]:
    digest = hashlib.sha256(data).hexdigest()
    with store.staging() as st:
        os.write(st.fd, data)
        filed = store.file(st, digest, len(data))
    return digest, filed


def test_object_is_filed_by_hash_read_only_and_staging_is_gone(store: LocalStore) -> None:
    """Filing puts the bytes at sha256/ab/cd/<hex>, mode 0440, and removes the staging file."""
    digest, filed = _file(store, b"evidence")
    path = store.path_for(digest)
    assert filed.key == f"sha256/{digest[:2]}/{digest[2:4]}/{digest}" and not filed.existed
    assert path.read_bytes() == b"evidence"
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert list(store.staging_dir.iterdir()) == []
    assert list(store.iter_keys()) == [digest]


def test_a_read_only_staging_file_is_written_through_its_descriptor_and_filed_unchanged(
    store: LocalStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest's staging file is 0440 from its creation: its descriptor writes, no one can
    open it to write, and filing it changes no mode (no fchmod to sync again)."""
    changed: list[int] = []
    fchmod = os.fchmod

    def counted(fd: int, mode: int) -> None:
        changed.append(mode)
        fchmod(fd, mode)

    monkeypatch.setattr(os, "fchmod", counted)
    data = b"photo bytes"
    digest = hashlib.sha256(data).hexdigest()
    with store.staging(read_only=True) as st:
        assert stat.S_IMODE(os.fstat(st.fd).st_mode) == 0o440
        os.write(st.fd, data)
        os.fsync(st.fd)
        filed = store.file(st, digest, len(data))
    assert changed == []
    assert stat.S_IMODE(store.path_for(digest).stat().st_mode) == 0o440
    assert store.path_for(digest).read_bytes() == data and not filed.existed
    _file(store, b"written by path")  # a writable staging file is made read-only when filed
    assert changed == [0o440]


def test_same_bytes_twice_are_filed_once(store: LocalStore) -> None:
    """A second filing of identical bytes finds the object, checks it, and keeps one copy."""
    digest, _ = _file(store, b"same")
    _, again = _file(store, b"same")
    assert again.existed and list(store.iter_keys()) == [digest]


def test_existing_object_that_no_longer_matches_is_reported_not_replaced(store: LocalStore) -> None:
    """A stored object whose bytes changed is an integrity failure; it is left as found."""
    digest, _ = _file(store, b"original")
    path = store.path_for(digest)
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(StoreIntegrityError, match=digest):
        _file(store, b"original")
    assert path.read_bytes() == b"tampered"


def test_stale_staging_of_a_dead_process_is_cleaned_but_a_live_one_is_kept(
    store: LocalStore,
) -> None:
    """Only staging files nobody holds a lock on are removed."""
    (store.staging_dir / "dead.part").write_bytes(b"half a copy")
    with store.staging() as live:
        assert store.clean_stale_staging() == 1
        assert live.path.exists()
    assert list(store.staging_dir.iterdir()) == []


def test_key_for_refuses_anything_but_a_lowercase_digest(store: LocalStore) -> None:
    """Keys come from hashes only: a device-supplied name can never become a store path."""
    with pytest.raises(ValueError):
        store.key_for("../../etc/passwd")
    with pytest.raises(ValueError):
        store.key_for("A" * 64)


def test_a_staging_file_is_locked_before_it_carries_the_name_the_cleaner_looks_for(
    store: LocalStore,
) -> None:
    """A cleaner in another process can never take a staging file in use for a dead one's:
    it is created under a hidden name, locked, then renamed; a hidden one a crash left behind
    is removed once old."""
    import fcntl
    import os
    import time

    with store.staging() as live:
        fd = os.open(live.path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        assert not list(store.staging_dir.glob(".*.new"))
    old, fresh = store.staging_dir / ".old.new", store.staging_dir / ".fresh.new"
    old.touch()
    fresh.touch()
    past = time.time() - 3600
    os.utime(old, (past, past))
    assert store.clean_stale_staging() == 1
    assert not old.exists() and fresh.exists()
    # a crash between create and rename (a SIGKILL while another thread starts a file's
    # copy): the file of a process gone from this host goes at once, however young; one of a
    # live process, or of another host sharing the store, waits
    import socket
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    here = socket.gethostname()
    dead = store.staging_dir / f".{int(child.stdout)}.{'a' * 32}.{here}.new"
    mine = store.staging_dir / f".{os.getpid()}.{'b' * 32}.{here}.new"
    elsewhere = store.staging_dir / f".{int(child.stdout)}.{'c' * 32}.other-host.example.new"
    for p in (dead, mine, elsewhere):
        p.touch()
    assert store.clean_stale_staging() == 1
    assert not dead.exists() and mine.exists() and elsewhere.exists()
