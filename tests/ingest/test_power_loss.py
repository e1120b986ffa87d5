"""Invariant 5, power loss: the disk as a power cut at each sync of an ingest leaves it.

A real ``evidock ingest`` of three recordings (SQLite catalog in the data dir) runs under an
LD_PRELOAD recorder (tests/ingest/powercut.c, compiled here with the system C compiler). At
every fsync/fdatasync of a file or folder in the data dir it keeps what that call makes
durable: the file's whole contents, or the folder's entries (name -> inode). SQLite's own
syncs of the catalog and its WAL are C calls into libc, so the recorder sees them too.

The model of "what the disk holds after a power cut just after the k-th sync" (k = 0 is the
data dir as ``init`` left it, fully synced before the ingest starts):

- a folder holds the entries it had at its last fsync before the cut, or those of the start
  when it was never synced since; a folder that no synced entry names is not there;
- a file (an inode) holds its contents as of its last fsync/fdatasync before the cut, or its
  contents at the start, or nothing (zero bytes) if it was created since and never synced.

So it drops every write that no sync covered: unsynced data, new names (create, rename, link)
and removals whose folder was not synced after them. It keeps nothing half: a state where part
of the unsynced writes reached the disk is not built (SQLite's WAL checksums and the read-back
of staging files cover torn writes; the SIGKILL matrix, tests/ingest/test_crash.py, covers
"everything in the page cache survived"). The -shm file of the WAL is never synced, so it is
empty or as at the start: SQLite rebuilds it on open, as after a real reboot; opening the
catalog replays the synced WAL (SQLite's own recovery, trusted and exercised).

For each distinct state: ``evidock verify`` on it must pass, or report nothing but
``object-not-in-catalog`` for device files (filed, not yet recorded: not evidence lost, the
rerun records them); then the same ingest of the unchanged device must store each file
exactly once, leave no staging file, and ``verify`` must pass again. (In this one-device
ingest no staging file's name survives a cut: its folder is not synced while it is in use.)
The states are built into the test's folder; the one recorded ingest is shared by the tests.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from tests.conftest import CLIP1, CLIP2, WAV
from tests.procs import child_env, init

pytestmark = pytest.mark.xdist_group("power-loss")  # one recorded ingest for the module

SHIM = Path(__file__).with_name("powercut.c")
DEVICE = ("--device", "BWC-PWR")


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    ino: int
    mode: int
    mtime_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Synced:
    """One recorded sync: of a file (``content`` kept) or of a folder (``entries`` kept)."""

    seq: int
    path: str  # relative to the data dir; "" is the data dir itself
    ino: int
    content: Path | None = None
    mode: int = 0
    mtime_ns: int = 0
    entries: dict[str, Entry] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recording:
    camera: Path  # the device, unchanged since
    start: Path  # the data dir as it was before the ingest (a copy)
    start_dirs: dict[str, dict[str, Entry]]
    start_files: dict[int, Path]  # inode -> its copy under ``start``
    syncs: list[Synced]
    sources: dict[str, bytes]  # sha256 -> path on the device


def _listing(folder: Path) -> dict[str, Entry]:
    out = {}
    for p in folder.iterdir():
        st = p.lstat()
        out[p.name] = Entry(ino=st.st_ino, mode=st.st_mode, mtime_ns=st.st_mtime_ns)
    return out


def _read_journal(record: Path, root: Path) -> list[Synced]:
    syncs = []
    for line in (record / "journal").read_text().splitlines():
        seq_s, kind, *rest = line.split(" ", 6)
        assert kind in ("file", "dir"), f"a sync the model does not cover: {line}"
        seq = int(seq_s)
        if kind == "dir":
            _how, ino, path = rest[0], rest[1], " ".join(rest[2:])
            entries = {}
            for e in (record / f"{seq:06d}.dir").read_text().splitlines():
                e_ino, e_mode, e_mtime, name = e.split(" ", 3)
                entries[name] = Entry(ino=int(e_ino), mode=int(e_mode, 8), mtime_ns=int(e_mtime))
            rel = os.path.relpath(path, root)
            syncs.append(
                Synced(seq=seq, path="" if rel == "." else rel, ino=int(ino), entries=entries)
            )
        else:
            _how, ino, mode, mtime, path = rest
            syncs.append(
                Synced(
                    seq=seq, path=os.path.relpath(path, root), ino=int(ino),
                    content=record / f"{seq:06d}.bin", mode=int(mode, 8), mtime_ns=int(mtime),
                )
            )  # fmt: skip
    assert [s.seq for s in syncs] == list(range(len(syncs)))
    return syncs


def _build(rec: Recording, k: int, dest: Path) -> None:
    """Lay out in ``dest`` what the disk holds after a power cut following the first ``k``
    syncs (the model of the module doc)."""
    dirs = {rel: dict(entries) for rel, entries in rec.start_dirs.items()}
    files: dict[int, tuple[Path, int, int]] = {}
    for s in rec.syncs[:k]:
        if s.content is None:
            dirs[s.path] = s.entries
        else:
            files[s.ino] = (s.content, s.mode, s.mtime_ns)

    def lay(rel: str, at: Path) -> None:
        at.mkdir(mode=0o750)
        for name, e in sorted(dirs.get(rel, {}).items()):
            path = at / name
            if stat.S_ISDIR(e.mode):
                lay(os.path.join(rel, name), path)
                os.chmod(path, stat.S_IMODE(e.mode))
                continue
            assert stat.S_ISREG(e.mode), f"{rel}/{name}: not a file nor a folder"
            if e.ino in files:
                src, mode, mtime_ns = files[e.ino]
                shutil.copyfile(src, path)
            elif e.ino in rec.start_files:
                shutil.copyfile(rec.start_files[e.ino], path)
                mode, mtime_ns = e.mode, e.mtime_ns
            else:  # created since the start and never synced: its blocks never reached the disk
                path.touch()
                mode, mtime_ns = e.mode, e.mtime_ns
            os.chmod(path, stat.S_IMODE(mode))
            os.utime(path, ns=(mtime_ns, mtime_ns))

    lay("", dest)


def _fingerprint(home: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(home.rglob("*")):
        h.update(os.fsencode(p.relative_to(home)) + b"\0")
        if p.is_file():
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _evidock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args], env=env, capture_output=True, timeout=300
    )


def _env(home: Path) -> dict[str, str]:
    return child_env(home, f"sqlite:///{home}/catalog.db", dock="dock-power")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]) -> Recording:
    """One ingest of a camera with three recordings, every sync of its data dir recorded."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the sync recorder (scripts/system-deps.sh test)")
    base = tmp_path_factory.mktemp("power")
    shim = base / "powercut.so"
    subprocess.run(
        [cc, "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-o", shim, SHIM, "-ldl"], check=True
    )
    camera = base / "camera"
    (camera / "DCIM").mkdir(parents=True)
    for name, key in ((CLIP1, "clip"), (CLIP2, "clip2"), (WAV, "wav")):
        shutil.copy2(media[key], camera / "DCIM" / name)
    home = base.resolve() / "home"  # as the recorder reads paths: /proc/self/fd links
    env = init(_env(home))
    os.sync()  # the start is on the disk: the model begins from a synced data dir
    start = base / "start"
    shutil.copytree(home, start)
    start_dirs, start_files = {}, {}
    for folder, _subdirs, names in os.walk(home):
        rel = os.path.relpath(folder, home)
        start_dirs["" if rel == "." else rel] = _listing(Path(folder))
        for name in names:
            start_files[(Path(folder) / name).stat().st_ino] = start / rel / name
    record = base / "record"
    record.mkdir()
    done = _evidock(
        env | {"LD_PRELOAD": str(shim), "POWERCUT_ROOT": str(home), "POWERCUT_RECORD": str(record)},
        "--json", "ingest", str(camera), *DEVICE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)["summary"]["stored"] == 3
    sources = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in camera.rglob("*.*")}
    return Recording(
        camera=camera,
        start=start,
        start_dirs=start_dirs,
        start_files=start_files,
        syncs=_read_journal(record, home),
        sources={h: os.fsencode(p.relative_to(camera)) for h, p in sources.items()},
    )


@pytest.fixture(scope="module")
def states(recording: Recording, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The data dir after a power cut at each point, one per distinct state (the first point
    that leaves it): point k is just after the k-th sync, 0 before the first."""
    base = tmp_path_factory.mktemp("cuts")
    seen: dict[str, int] = {}
    out = {}
    for k in range(len(recording.syncs) + 1):
        home = base / f"{k:03d}" / "home"
        home.parent.mkdir()
        _build(recording, k, home)
        fp = _fingerprint(home)
        if fp in seen:
            shutil.rmtree(home.parent)
            continue
        seen[fp] = k
        out[k] = home
    return out


def _kind(s: Synced) -> str:
    """What a sync is, without its names: 'store/sha256/#/#', 'store/staging/#.part', ..."""
    if not s.path.startswith("store/"):
        return s.path or "."
    return "/".join(
        "#"
        if re.fullmatch(r"[0-9a-f]{2}", seg)
        else re.sub(r"[0-9a-f]{32,}|(?<![a-z0-9])[0-9]+(?![a-z0-9])", "#", seg)
        for seg in s.path.split("/")
    )


def _unrecorded_objects_only(rec: Recording, report: bytes) -> bool:
    """``verify --json`` found nothing but device files filed in the store and not yet in the
    catalog: a cut between filing and recording, which the next docking records (not a loss)."""
    problems = json.loads(report)["problems"]
    return bool(problems) and all(
        p["code"] == "object-not-in-catalog" and any(h in p["subject"] for h in rec.sources)
        for p in problems
    )


def _survives(rec: Recording, k: int, state: Path, work: Path) -> bool:
    """The data dir left by a cut at point ``k`` passes verify (or finds only objects filed
    and not yet recorded: returns True), and a rerun of the ingest on it stores each file
    exactly once, leaves no staging file and passes verify."""
    point = "the start" if k == 0 else f"sync {k - 1} ({rec.syncs[k - 1].path or '.'})"
    home = work / f"{k:03d}" / "home"
    shutil.copytree(state, home)  # keeps modes and mtimes (a fresh .new staging file is young)
    env = _env(home)
    first = _evidock(env, "--json", "verify")
    unrecorded = first.returncode == 1 and _unrecorded_objects_only(rec, first.stdout)
    assert first.returncode == 0 or unrecorded, (
        f"after a cut at {point}: " + (first.stdout + first.stderr).decode()
    )
    rerun = _evidock(env, "--json", "ingest", str(rec.camera), *DEVICE)
    assert rerun.returncode == 0, f"rerun after a cut at {point}: " + rerun.stderr.decode()
    summary = json.loads(rerun.stdout)["summary"]
    assert (summary["failed"], summary["stored"] + summary["already"]) == (0, 3), point
    cat = Catalog(env["EVIDOCK_CATALOG_URL"])
    try:
        with cat.read() as txn:
            items = sorted((i.sha256, i.original_path) for i in txn.items())
            assert items == sorted(rec.sources.items()), f"lost or twice after a cut at {point}"
            types = collections.Counter(
                e.type for e in txn.log.events() if e.type in ("acquired", "verified", "stored")
            )
            assert types == {"acquired": 3, "verified": 3, "stored": 3}, point
    finally:
        cat.close()
    store = LocalStore(home / "store")
    assert set(store.iter_keys()) == set(rec.sources), point
    assert not list(store.staging_dir.iterdir()), f"a staging file left after a cut at {point}"
    last = _evidock(env, "verify")
    assert last.returncode == 0, (
        f"after a cut at {point} and a rerun: " + (last.stdout + last.stderr).decode()
    )
    return unrecorded


def test_recorder_sees_each_durability_step_in_its_order(recording: Recording) -> None:
    """Each stored object's bytes are synced before the folder that names it, and that folder
    before the catalog commit that records it; the checkpoint file and its folder are synced."""
    kinds = {_kind(s) for s in recording.syncs}
    assert {
        "catalog.db-wal", ".", "store/staging/#.part", "store/sha256", "store/sha256/#",
        "store/sha256/#/#", "store/checkpoints/.#.dock-power.note.#.tmp", "store/checkpoints",
    } <= kinds, kinds  # fmt: skip
    for sha in recording.sources:
        folder = f"store/sha256/{sha[:2]}/{sha[2:4]}"
        named = next(s for s in recording.syncs if s.path == folder and sha in s.entries)
        ino = named.entries[sha].ino
        content = [s.seq for s in recording.syncs if s.content is not None and s.ino == ino]
        assert content and content[-1] < named.seq, f"{sha}: named before its bytes were synced"
        commits = [
            s.seq for s in recording.syncs if s.path == "catalog.db-wal" and s.seq > named.seq
        ]
        assert commits, f"{sha}: no catalog commit synced after it was filed"


def _check(rec: Recording, states: dict[int, Path], points: list[int], work: Path) -> None:
    unrecorded = [k for k in points if _survives(rec, k, states[k], work)]
    # the model does drop what was not synced: some cut left an object filed, not recorded
    assert unrecorded, f"no cut among {points} fell between filing and recording"


def _first_of_each_kind(rec: Recording, states: dict[int, Path]) -> list[int]:
    """The start, the end and the first cut after each kind of sync."""
    seen: set[str] = set()
    points = [0, max(states)]
    for k in sorted(states):
        if k and (kind := _kind(rec.syncs[k - 1])) not in seen:
            seen.add(kind)
            points.append(k)
    return sorted(set(points))


def test_power_cut_at_each_kind_of_sync_then_rerun_stores_each_file_exactly_once(
    recording: Recording, states: dict[int, Path], tmp_path: Path
) -> None:
    """A cut at the first sync of each kind (catalog WAL, staging file, store folders,
    checkpoint file and folder, database), at the start and at the end: verify passes, a rerun
    stores each file once, leaves no staging file and passes verify."""
    _check(recording, states, _first_of_each_kind(recording, states), tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_power_cut_at_every_other_sync_then_rerun_stores_each_file_exactly_once(
    recording: Recording, states: dict[int, Path], tmp_path: Path
) -> None:
    """After a cut at any other sync of the ingest (each distinct state once: with the test
    above, every state), verify passes, and a rerun stores each file once, leaves no staging
    file and passes verify."""
    first = set(_first_of_each_kind(recording, states))
    rest = [k for k in sorted(states) if k not in first]
    assert rest, "every state is a first of its kind: nothing slow to test"
    for k in rest:
        _survives(recording, k, states[k], tmp_path)
