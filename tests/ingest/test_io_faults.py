"""I/O errors from the disks under a docking: EIO on each write, sync, link and read of the
store, and ENOSPC or EIO under a SQLite catalog (issue 18). After each: the device is as it
was, nothing is half-recorded, the failure is named by a stable code (never a traceback), and
a rerun without the fault stores every file exactly once with ``verify`` clean.

How the faults are made: ``evidock ingest`` runs as a real process with ``faultfs.c`` (beside
this file, compiled here with gcc) preloaded. That shim fails the calls (write, fsync,
fdatasync, rename, link, read) on paths under one prefix (the staging folder, the object
folders, the catalog's folder) with a chosen errno, from the Nth such call on, once or for good,
and logs each call it saw, so every test proves its fault landed on the step it names. Why
not libfiu (``fiu-run``, Debian's fiu-utils): its posix preload fails a call in the whole
process (SQLite's journal, Python's imports) and cannot name a path, so it cannot fail the
store's fsync and leave the catalog's alone; a FUSE layer would need /dev/fuse, which
containers often lack. The real kernel's ENOSPC is kept where it is cheap to get: the store on
a full tmpfs (test_enospc.py), and here the catalog on one (root only).

The catalog-disk cells are SQLite's: a PostgreSQL server's disk belongs to its DBA, and the
server reports a full disk as an error of the connection (``catalog-unavailable``, exit 4),
which the fleet tests already cover for a server that goes away.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingest.context import open_context
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from tests.conftest import make_settings
from tests.ingest.conftest import mount
from tests.procs import child_env
from tests.verify.tamper import audit

FAULTFS_C = Path(__file__).with_name("faultfs.c")
EIO, ENOSPC = 5, 28
SIZES = {"DCIM/CLIP_0.MP4": 70_000, "DCIM/CLIP_1.MP4": 130_000}  # taken in this order
FIRST, SECOND = SIZES
ONE_SHOT, FOR_GOOD = 1, None
# more catalog syncs than this in a two-file ingest fail the sweep's guard: widen it
MAX_CATALOG_SYNCS = 10


@pytest.fixture(scope="session")
def faultfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fault shim, built for this machine."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler to build tests/ingest/faultfs.c")
    so = tmp_path_factory.mktemp("faultfs") / "faultfs.so"
    built = subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(so), str(FAULTFS_C), "-ldl"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return so


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """Calls ``ops`` on paths under ``prefix`` fail with ``errno``, after ``after`` calls of
    ``arm`` (default: the op itself) under it passed, ``count`` times (None: for good)."""

    prefix: Path
    ops: str
    errno: int = EIO
    arm: str | None = None
    after: int = 0
    count: int | None = ONE_SHOT
    one_path: bool = False  # only the first arming call's path counts (FAULTFS_ONE_PATH)

    def env(self, so: Path, log: Path) -> dict[str, str]:
        env = {
            "LD_PRELOAD": str(so), "FAULTFS_PREFIX": str(self.prefix), "FAULTFS_OPS": self.ops,
            "FAULTFS_ERRNO": str(self.errno), "FAULTFS_ARM_AFTER": str(self.after),
            "FAULTFS_LOG": str(log),
        }  # fmt: skip
        if self.arm is not None:
            env["FAULTFS_ARM_OP"] = self.arm
        if self.count is not None:
            env["FAULTFS_COUNT"] = str(self.count)
        if self.one_path:
            env["FAULTFS_ONE_PATH"] = "1"
        return env


def _calls(log: Path) -> list[tuple[str, str, str]]:
    """(pass|fail, op, path) of each call the shim saw, in order."""
    if not log.exists():
        return []
    calls = []
    for line in log.read_text().splitlines():
        what, op, path = line.split(" ", 2)
        calls.append((what, op, path))
    return calls


def _evidock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args], env=env, capture_output=True,
        timeout=300, check=False,
    )  # fmt: skip


def _camera(root: Path) -> dict[str, str]:
    """Two recordings on a device folder; returns path -> sha256."""
    for path, size in SIZES.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(os.urandom(size))
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in SIZES}


def _device(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every entry of the device as it is: mode, size, mtime and the bytes' hash."""
    seen = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else ""
        seen[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return seen


@dataclass(frozen=True, slots=True, kw_only=True)
class Dock:
    home: Path
    url: str
    env: dict[str, str]
    camera: Path
    sources: dict[str, str]  # device path -> sha256

    def ingest(self, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
        return _evidock(
            self.env | (extra or {}), "--json", "ingest", str(self.camera), "--device", "BWC-IO"
        )

    def staging(self) -> list[Path]:
        return list(LocalStore(self.home / "store").staging_dir.iterdir())

    def recorded(self) -> dict[str, tuple[str, collections.Counter[str]]]:
        """Each item: original path -> (sha256, its custody events by type)."""
        cat = Catalog(self.url)
        try:
            with cat.read() as txn:
                events = collections.Counter(
                    (e.item, e.type) for e in txn.log.events() if e.item is not None
                )
                assert txn.log.head().size == txn.log.event_count()
                return {
                    os.fsdecode(i.original_path): (
                        i.sha256,
                        collections.Counter(
                            {t: n for (item, t), n in events.items() if item == i.id}
                        ),
                    )
                    for i in txn.items()
                }
        finally:
            cat.close()

    def failures(self) -> list[dict[str, str]]:
        """The data of each 'acquisition_failed' event."""
        cat = Catalog(self.url)
        try:
            with cat.read() as txn:
                return [
                    json.loads(e.data) for e in txn.log.events() if e.type == "acquisition_failed"
                ]
        finally:
            cat.close()

    def problems(self) -> list[tuple[str, str]]:
        """What an audit in this process finds: (code, subject) of each problem."""
        ctx = open_context(make_settings(self.home, self.url, dock="dock-io"))
        try:
            return [(p.code, p.subject) for p in audit(ctx).problems]
        finally:
            ctx.close()

    def rerun_stores_everything_once(self) -> None:
        """A rerun without the fault: every file once (as the CLI reports it and in the
        catalog), no staging file left, ``verify`` clean."""
        again = self.ingest()
        assert again.returncode == 0, again.stderr.decode()
        report = json.loads(again.stdout)
        assert report["summary"]["failed"] == 0
        assert sorted((f["path"], f["sha256"]) for f in report["files"]) == sorted(
            self.sources.items()
        ), "a file was lost or recorded twice"
        assert {f["result"] for f in report["files"]} <= {"stored", "already"}
        once = collections.Counter({"acquired": 1, "verified": 1, "stored": 1})
        assert self.recorded() == {p: (sha, once) for p, sha in self.sources.items()}
        assert set(LocalStore(self.home / "store").iter_keys()) == set(self.sources.values())
        assert self.staging() == [], "a staging file was left"
        verified = _evidock(self.env, "verify")
        assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()


ONE_PROBE_THREAD = "[probe]\nthreads = 1\n"
"""The sweeps put a fault at the n-th call of a run counted before: with two probe threads the
two files' probes finish in either order and their records are grouped in one commit or two,
so the calls would not come in one fixed order from run to run."""


def _dock(tmp_path: Path, url: str) -> Dock:
    """A new dock (what ``evidock init`` makes, made here) and a camera of two files."""
    home = tmp_path / "home"
    camera = tmp_path / "camera"
    sources = _camera(camera)
    open_context(make_settings(home, url, dock="dock-io"), create=True).close()
    env = child_env(home, url, dock="dock-io", config=ONE_PROBE_THREAD)
    return Dock(home=home, url=url, env=env, camera=camera, sources=sources)


# -- the store ---------------------------------------------------------------------------------

STAGING = r"store/staging/[0-9a-f]{32}\.part"
OBJECT = r"store/sha256/[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}"
OBJECT_FOLDER = r"store/sha256/[0-9a-f]{2}/[0-9a-f]{2}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreCell:
    """EIO once on the ``after``-th ``op`` call under ``folder`` (the first file's), whose
    path matches ``path``; the file fails with ``code``. ``object_left``: the object was
    linked before the fault (its folder's sync failed), so it stays, unrecorded."""

    folder: str
    op: str
    after: int
    path: str
    code: str
    object_left: bool = False
    # the step is a later call on the first file's staging file: count that file's calls only
    # (the ingest copies the next file while the first is probed and filed)
    one_path: bool = False


STORE_CELLS = {
    # the staging file's creation: made under a temporary name, renamed to *.part
    "staging-rename": StoreCell(
        folder="store/staging", op="rename", after=0, path=STAGING, code="store-write"
    ),
    "staging-write": StoreCell(
        folder="store/staging", op="write", after=0, path=STAGING, code="staging-write-error"
    ),
    "staging-fsync": StoreCell(
        folder="store/staging", op="fsync", after=0, path=STAGING, code="staging-write-error"
    ),
    "read-back": StoreCell(
        folder="store/staging", op="read", after=0, path=STAGING, code="staging-read-error"
    ),
    # the second read of the staging copy: the probe's (exiftool runs clean, in a child)
    "probe-read": StoreCell(
        folder="store/staging",
        op="read",
        after=1,
        path=STAGING,
        code="staging-read-error",
        one_path=True,
    ),
    # the sync of the read-only staging file just before it is linked into the store
    "filing-fsync": StoreCell(
        folder="store/staging",
        op="fsync",
        after=1,
        path=STAGING,
        code="store-write",
        one_path=True,
    ),
    "link": StoreCell(folder="store/sha256", op="link", after=0, path=OBJECT, code="store-write"),
    # the object folders' syncs: sha256 and sha256/ab gained a folder, then sha256/ab/cd the link
    "folder-fsync": StoreCell(
        folder="store/sha256",
        op="dirfsync",
        after=2,
        path=OBJECT_FOLDER,
        code="store-write",
        object_left=True,
    ),
}


@pytest.mark.parametrize("cell", list(STORE_CELLS))
def test_an_eio_on_the_store_fails_that_file_alone_and_a_rerun_stores_it_once(
    tmp_path: Path, catalog_url: str, faultfs: Path, cell: str
) -> None:
    """EIO once at the step: the file stays on the device and fails with its code, nothing of
    it is recorded (its failure is, in the log) and no staging file stays; the second file is
    stored in the same run; the rerun stores the first once and verify is clean."""
    c = STORE_CELLS[cell]
    dock = _dock(tmp_path, catalog_url)
    before = _device(dock.camera)
    log = tmp_path / "faultfs.log"
    fault = Fault(prefix=dock.home / c.folder, ops=c.op, after=c.after, one_path=c.one_path)

    run = dock.ingest(fault.env(faultfs, log))

    failed = [call for call in _calls(log) if call[0] == "fail"]
    assert len(failed) == 1 and failed[0][1] == c.op, _calls(log)
    assert re.search(c.path + "$", failed[0][2]), f"the fault hit {failed[0][2]}"
    assert run.returncode == 1, run.stderr.decode()  # an ingest failure was found
    assert b"Traceback" not in run.stderr
    files = {f["path"]: f for f in json.loads(run.stdout)["files"]}
    assert files[FIRST]["result"] == "failed" and files[FIRST]["item"] is None
    assert files[FIRST]["reason"].endswith(f"({c.code})"), files[FIRST]["reason"]
    assert "Input/output error" in files[FIRST]["reason"]
    assert files[SECOND]["result"] == "stored"
    assert _device(dock.camera) == before, "the device was changed"
    assert dock.staging() == [], "a staging file was left"
    assert list(dock.recorded()) == [SECOND], "something of the failed file was recorded"
    assert [(f["path"], f["code"]) for f in dock.failures()] == [(FIRST, c.code)]
    objects = set(LocalStore(dock.home / "store").iter_keys())
    first_sha = dock.sources[FIRST]
    if c.object_left:  # linked, its folder not synced: the catalog does not know it, yet
        assert objects == set(dock.sources.values())
        assert [code for code, _s in dock.problems()] == ["object-not-in-catalog"]
    else:
        assert objects == {dock.sources[SECOND]} and first_sha not in objects
        assert dock.problems() == []

    dock.rerun_stores_everything_once()


# -- the catalog's disk (SQLite) -----------------------------------------------------------------


def _sqlite_dock(tmp_path: Path) -> Dock:
    """A dock whose SQLite catalog has a folder of its own (the fault's prefix)."""
    (tmp_path / "catdisk").mkdir()
    return _dock(tmp_path, f"sqlite:///{tmp_path}/catdisk/catalog.db")


def _catalog_syncs(tmp_path: Path, faultfs: Path) -> int:
    """How often a two-file ingest syncs the catalog's files (its commits; every one is a
    point where the sweep puts its fault)."""
    dock = _sqlite_dock(tmp_path)
    log = tmp_path / "count.log"
    watch = Fault(prefix=tmp_path / "catdisk", ops="fdatasync", after=10**9)
    run = dock.ingest(watch.env(faultfs, log))
    assert run.returncode == 0, run.stderr.decode()
    return sum(op == "fdatasync" for _w, op, _p in _calls(log))


@pytest.fixture(scope="module")
def catalog_syncs(tmp_path_factory: pytest.TempPathFactory, faultfs: Path) -> int:
    n = _catalog_syncs(tmp_path_factory.mktemp("count"), faultfs)
    assert 0 < n <= MAX_CATALOG_SYNCS, f"{n} catalog syncs: widen MAX_CATALOG_SYNCS"
    return n


def _nothing_half_recorded(dock: Dock, run: subprocess.CompletedProcess[bytes]) -> None:
    """After a catalog fault: a clear end (no traceback; exit 0, 1 with the files that failed
    on the catalog, or 4 with the disk named); each item whole (its three events), every
    other file still on the device; all an audit finds is an object filed and not recorded,
    or a checkpoint file whose row did not commit."""
    err = run.stderr.decode()
    assert "Traceback" not in err, err
    assert run.returncode in (0, 1, 4), err
    if run.returncode == 4:
        assert "[catalog-disk]" in err and "hint: Free space on the catalog's disk" in err, err
    if run.returncode == 1:
        files = json.loads(run.stdout)["files"]
        assert {
            f["reason"][-len("(catalog-disk)") :] for f in files if f["result"] == "failed"
        } == {"(catalog-disk)"}, files
    recorded = dock.recorded()
    once = collections.Counter({"acquired": 1, "verified": 1, "stored": 1})
    for path, (sha, events) in recorded.items():
        assert dock.sources[path] == sha and events == once, (path, events)
    known = {sha for sha, _e in recorded.values()}
    for code, subject in dock.problems():
        if code == "checkpoint-row-missing":  # its file written, its row's commit failed:
            continue  # the next checkpoint restores the row (the rerun's verify shows it)
        assert code == "object-not-in-catalog", (code, subject)
        assert any(s in subject for s in dock.sources.values() if s not in known), subject
    assert dock.staging() == []


@pytest.mark.slow
@pytest.mark.parametrize("point", range(MAX_CATALOG_SYNCS))
@pytest.mark.parametrize("kind", ["enospc-write", "eio-sync"])
def test_a_failing_catalog_disk_at_each_commit_records_nothing_by_halves_and_a_rerun_takes_all(
    tmp_path: Path, faultfs: Path, catalog_syncs: int, point: int, kind: str
) -> None:
    """At the catalog's ``point``-th sync: its disk full for good (every later write ENOSPC),
    or one sync EIO. The ingest ends with the disk named (no traceback); items are whole or
    absent; the device is as it was; the rerun (space freed, disk mended) takes every file
    once and verify is clean."""
    if point >= catalog_syncs:
        pytest.skip(f"a two-file ingest syncs the catalog {catalog_syncs} times")
    dock = _sqlite_dock(tmp_path)
    before = _device(dock.camera)
    log = tmp_path / "faultfs.log"
    folder = tmp_path / "catdisk"
    fault = (
        Fault(prefix=folder, ops="write", errno=ENOSPC, arm="fdatasync", after=point,
              count=FOR_GOOD)
        if kind == "enospc-write"
        else Fault(prefix=folder, ops="fdatasync", after=point)
    )  # fmt: skip

    run = dock.ingest(fault.env(faultfs, log))

    fired = [call for call in _calls(log) if call[0] == "fail"]
    # the disk full for good: every write after the point fails (if any comes); the EIO: one
    assert fired or kind == "enospc-write", _calls(log)
    assert len(fired) == 1 or kind == "enospc-write"
    _nothing_half_recorded(dock, run)
    assert _device(dock.camera) == before, "the device was changed"
    dock.rerun_stores_everything_once()


@pytest.fixture
def full_catalog_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs for the catalog's folder; root only."""
    folder = tmp_path / "catdisk"
    folder.mkdir()
    done = mount("-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_catalog_disk_ends_the_ingest_with_the_disk_named_and_a_rerun_takes_all(
    tmp_path: Path, full_catalog_disk: Path
) -> None:
    """The kernel's own ENOSPC: the catalog's tmpfs filled up after init. The ingest exits 4
    with ``catalog-disk`` and the hint, nothing recorded, the device as it was; with the
    filler removed, the rerun takes every file once and verify is clean."""
    dock = _dock(tmp_path, f"sqlite:///{full_catalog_disk}/catalog.db")
    before = _device(dock.camera)
    filler = full_catalog_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:  # every free block of the tmpfs
        while True:
            os.write(fd, b"\0" * (4 << 10))
    except OSError as e:
        assert e.errno == ENOSPC
    finally:
        os.close(fd)
    assert os.statvfs(full_catalog_disk).f_bavail == 0

    run = dock.ingest()

    err = run.stderr.decode()
    assert run.returncode == 4 and "Traceback" not in err, err
    assert "[catalog-disk]" in err and "hint: Free space on the catalog's disk" in err, err
    assert _device(dock.camera) == before, "the device was changed"
    filler.unlink()
    assert dock.recorded() == {}, "something was recorded on a full disk"
    assert dock.staging() == []
    dock.rerun_stores_everything_once()
