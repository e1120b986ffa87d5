"""Fleet mode: two ``evidock dock`` and two ``evidock worker`` processes on one PostgreSQL catalog
and one store ingest several cameras at once, one of them offered to both docks; the same run
goes on through a restart of the PostgreSQL server; a dock name cannot be taken over by
another key."""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ingest.media.kinds import TRANSCODE
from storage.catalog.derived import DerivedOps
from storage.catalog.jobs import DONE, JobOps
from storage.catalog.session import Transaction
from storage.records import (
    Checkpoint,
    DerivedMedia,
    Dock,
    DockSession,
    Event,
    Item,
    Job,
    StoredObject,
)
from support.pg import libpq_url
from tests.fleet.conftest import Fleet, Node, OwnServer, make_camera
from tests.procs import wait_until
from verify.log.events import event_leaf
from verify.log.merkle import MemoryTree
from verify.log.note import VerifierKey, key_id, open_note, parse_checkpoint, verifier_key

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("fleet")]

DOCKS = ("dock-a", "dock-b")
WORKERS = ("worker-1", "worker-2")
SHARED = "BWC-SHARED"


class Bays:
    """The watch folders: each dock's own, one both docks watch, and where cameras wait."""

    def __init__(self, root: Path) -> None:
        self.a, self.b, self.shared = root / "watch-a", root / "watch-b", root / "watch-shared"
        self.unplugged = root / "unplugged"
        for d in (self.a, self.b, self.shared, self.unplugged):
            d.mkdir()

    def camera(self, serial: str, clip: Path) -> Path:
        return make_camera(self.unplugged, serial, clip)

    @staticmethod
    def plug(camera: Path, watch: Path) -> None:
        """Dock a camera: its folder appears at once in the watch folder."""
        os.rename(camera, watch / camera.name)


def _start(fleet: Fleet, bays: Bays) -> None:
    """dock-a runs embedded workers too; dock-b only ingests; two workers of their own."""
    fleet.dock("dock-a", [bays.a, bays.shared], embedded=True)
    fleet.dock("dock-b", [bays.b, bays.shared], embedded=False)
    for name in WORKERS:
        fleet.worker(name)
    for name in DOCKS:
        node = fleet.nodes[name]
        assert node.notify is not None and node.proc is not None
        assert node.notify.ready(node.proc), node.logged()


def _finished(fleet: Fleet, *, items: int, jobs: int, sessions: set[tuple[str, str]]) -> bool:
    """Every item recorded, every expected docking closed complete, every transcode done."""

    def look(txn: Transaction) -> bool:
        docked = txn.recent_sessions(limit=1000)
        complete = {(s.dock_name, s.device_serial) for s in docked if s.outcome == "complete"}
        transcodes = JobOps(txn).jobs(kinds=[TRANSCODE])
        return (
            len(txn.items()) == items
            and sessions <= complete
            and all(s.ended_at is not None for s in docked)
            and len(transcodes) == jobs
            and all(j.state == DONE for j in transcodes)
        )

    return fleet.try_read(look, False)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _on_devices(*watch: Path) -> dict[tuple[str, str], str]:
    """(serial, path on the device) -> sha256 of every file of every docked camera."""
    found = {}
    for w in watch:
        for cam in w.iterdir():
            for f in cam.rglob("*"):
                if f.is_file():
                    found[(cam.name, str(f.relative_to(cam)))] = _sha256(f)
    return found


def _assert_each_file_once(fleet: Fleet, on_devices: dict[tuple[str, str], str]) -> None:
    """Each file of each camera is one item with its bytes' hash and one acquired, verified,
    stored history; each original is one stored object and one file in the shared store;
    each clip has one transcode job, done, and one set of derived media."""

    def look(
        txn: Transaction,
    ) -> tuple[list[Item], list[StoredObject], list[Job], list[DerivedMedia], list[Event]]:
        items = txn.items()
        objects = [o for o in txn.stored_objects() if o.role == "original"]
        jobs = JobOps(txn).jobs(kinds=[TRANSCODE])
        derived = DerivedOps(txn).all()
        events = list(txn.log.events())
        return items, objects, jobs, derived, events

    items, objects, jobs, derived, events = fleet.read(look)
    recorded = collections.Counter((i.device_serial, i.original_path_display) for i in items)
    assert [k for k, n in recorded.items() if n > 1] == [], "a file was recorded twice"
    assert {(i.device_serial, i.original_path_display): i.sha256 for i in items} == on_devices
    assert all(i.state == "stored" and i.durable_at is not None for i in items)

    shas = {i.sha256 for i in items}
    assert sorted(o.sha256 for o in objects) == sorted(shas), "one stored object per original"
    in_store = {p.name for p in (fleet.store / "sha256").glob("??/??/*")}
    assert in_store == shas, "the shared store holds exactly the recorded originals"

    history = collections.defaultdict(list)
    for e in events:
        if e.item is not None:
            history[e.item].append(e.type)
    for i in items:
        assert [t for t in history[i.id] if t in ("acquired", "verified", "stored")] == [
            "acquired",
            "verified",
            "stored",
        ]

    clips = {i.id for i in items if i.original_path_display.endswith(".MP4")}
    assert sorted(j.item_id for j in jobs if j.item_id is not None) == sorted(clips)
    assert all(j.state == DONE for j in jobs), [(j.id, j.state, j.last_error) for j in jobs]
    kinds = collections.defaultdict(list)
    for d in derived:
        kinds[d.item_id].append(d.kind)
    assert {item_id: sorted(k) for item_id, k in kinds.items()} == {
        clip: ["contact_sheet", "poster", "proxy"] for clip in clips
    }
    for clip in clips:
        assert history[clip].count("transcoded") == 3, f"item {clip} not transcoded once"


def _assert_one_log_and_signed_heads(fleet: Fleet, signers: tuple[str, ...]) -> None:
    """The custody log is one unbroken chain (no fork, no gap) holding every docking's event;
    each of ``signers`` signed checkpoints; every checkpoint's signature holds under its
    dock's key in the catalog and its root is the root of a prefix of the final tree
    (recomputed here from the events), so every dock's checkpoints are consistent with one
    another; each has its file in the store."""

    def look(
        txn: Transaction,
    ) -> tuple[list[Event], list[Checkpoint], list[Dock], list[DockSession]]:
        sessions = txn.recent_sessions(limit=1000)
        return list(txn.log.events()), txn.log.checkpoints(), txn.docks(), sessions

    events, checkpoints, docks, sessions = fleet.read(look)
    docked = [json.loads(e.data)["session"] for e in events if e.type == "device_docked"]
    assert sorted(docked) == sorted(s.id for s in sessions), "one device_docked per session"
    tree = MemoryTree()
    prev = "0" * 64
    for n, e in enumerate(events):
        assert (e.seq, e.prev) == (n, prev), f"the chain breaks at event {n}"
        leaf = event_leaf(e)
        tree.append_leaf_hash(leaf)
        prev = leaf.hex()
    keys = {
        d.name: VerifierKey(
            name=d.key_name, key_id=key_id(d.key_name, d.public_key), public=d.public_key
        )
        for d in docks
    }
    assert set(signers) <= {cp.dock_name for cp in checkpoints if cp.size > 0}
    for cp in checkpoints:
        note = open_note(cp.note, [keys[cp.dock_name]])
        assert note.signers == (cp.dock_name,)
        signed = parse_checkpoint(note.body)
        assert signed.size == cp.size and signed.root == tree.root(cp.size), cp
        kept = fleet.store / "checkpoints" / f"{cp.size:012d}.{cp.dock_name}.note"
        assert kept.read_text() == cp.note


def _verify(fleet: Fleet, node: str, *args: str) -> tuple[int, dict[str, Any]]:
    done = fleet.cli(node, "--json", "verify", *args)
    return done.returncode, json.loads(done.stdout)


def _clean_logs(nodes: list[Node]) -> None:
    for n in nodes:
        text = n.logged()
        assert "Traceback" not in text, f"{n.name}:\n{text}"
        assert "crashed" not in text, f"{n.name}:\n{text}"


def test_two_docks_and_two_workers_on_one_catalog_store_each_file_and_do_each_job_once(
    fleet: Fleet, fleet_clips: list[Path]
) -> None:
    """Five cameras docked at once at two docks (one camera at both): every file is stored
    once, every proxy made once, the log is one chain, both docks' signed checkpoints are
    consistent with it, and 'evidock verify' on a third node checks both docks' signatures
    with the keys in the catalog (a forged dock key is caught)."""
    bays = Bays(fleet.root)
    cams = {
        s: bays.camera(s, fleet_clips[n])
        for n, s in enumerate(("BWC-A1", "BWC-A2", "BWC-B1", "BWC-B2", SHARED))
    }
    _start(fleet, bays)
    for serial, watch in (
        ("BWC-A1", bays.a),
        ("BWC-B1", bays.b),
        (SHARED, bays.shared),
        ("BWC-A2", bays.a),
        ("BWC-B2", bays.b),
    ):
        bays.plug(cams[serial], watch)
    want = {("dock-a", s) for s in ("BWC-A1", "BWC-A2", SHARED)} | {
        ("dock-b", s) for s in ("BWC-B1", "BWC-B2", SHARED)
    }
    assert wait_until(lambda: _finished(fleet, items=10, jobs=5, sessions=want), 90, every=0.2), {
        n.name: n.logged()[-2000:] for n in fleet.daemons()
    }
    assert fleet.stop() == dict.fromkeys((*DOCKS, *WORKERS), 0)
    _clean_logs(fleet.daemons())
    for n in fleet.daemons():  # a deadlock or a serialization failure would be logged so
        assert "catalog unavailable" not in n.logged(), (n.name, n.logged())

    _assert_each_file_once(fleet, _on_devices(bays.a, bays.b, bays.shared))
    _assert_one_log_and_signed_heads(fleet, DOCKS)
    code, report = _verify(fleet, "audit")
    assert code == 0 and report["ok"], report["problems"]
    assert report["checked"]["checkpoint_rows"] >= len(DOCKS)

    # verify trusts the other docks' keys only as the catalog has them: change dock-b's, and
    # every checkpoint dock-b signed (row and file) fails, and only those
    with psycopg.connect(libpq_url(fleet.url), autocommit=True) as conn:
        conn.execute("UPDATE dock SET public_key = %s WHERE name = 'dock-b'", (os.urandom(32),))
    code, report = _verify(fleet, "audit", "--quick")
    assert code == 1
    codes = {p["code"] for p in report["problems"]}
    assert codes == {"checkpoint-unknown-key"}, report["problems"]
    flagged = [p["subject"] for p in report["problems"]]
    assert all("dock-b" in s for s in flagged)
    assert len(flagged) == 2 * len(
        fleet.read(lambda txn: [c for c in txn.log.checkpoints() if c.dock_name == "dock-b"])
    )


def test_a_dock_name_registered_with_another_key_is_refused(fleet: Fleet) -> None:
    """A second node calling itself dock-a without dock-a's key cannot start, and makes no key
    of its own: the message says why, the catalog keeps dock-a's key; the real dock-a (its key
    file) starts fine."""
    first = fleet.cli("dock-a", "--json", "init")
    assert first.returncode == 0, first.stderr
    key = json.loads(first.stdout)["verifier_key"]
    impostor = fleet.node("dock-a", home="dock-a-elsewhere")
    refused = fleet.cli(
        impostor.home.name, "dock", "--no-udev", "--metrics-address", "off", timeout=60
    )
    assert refused.returncode == 2
    assert f"dock 'dock-a' is registered in the catalog with the key {key}" in refused.stderr
    assert "[dock-key-missing]" in refused.stderr and "Traceback" not in refused.stderr
    assert not (impostor.home / "keys").exists()
    (dock,) = fleet.read(lambda txn: txn.docks())
    assert verifier_key(dock.key_name, dock.public_key) == key
    again = fleet.cli("dock-a", "--json", "init")
    assert again.returncode == 0 and json.loads(again.stdout)["verifier_key"] == key


def test_the_fleet_carries_on_through_a_postgresql_restart_and_loses_nothing(
    own_fleet: tuple[Fleet, OwnServer], fleet_clips: list[Path]
) -> None:
    """The server stops (-m fast) while a dock copies a large file and comes back: the daemons
    (the same processes) log the outage once each, report it to systemd, keep the cameras
    docked meanwhile waiting, and finish: every file stored once, every proxy made once,
    the cut docking closed as interrupted, 'evidock verify' clean."""
    fleet, server = own_fleet
    bays = Bays(fleet.root)
    names = ("BWC-A1", "BWC-B1", SHARED, "BWC-BIG", "BWC-A2", "BWC-B2")
    cams = {s: bays.camera(s, fleet_clips[n]) for n, s in enumerate(names)}
    # a camera's log archive, taken after its clip and before NOTES.TXT; sparse: cheap to
    # make, but over a second to copy and read back; a ZIP, so no proxy job is queued for it
    with open(cams["BWC-BIG"] / "DCIM" / "LOGS.ZIP", "wb") as f:
        f.write(b"PK\x03\x04")
        f.truncate(160 << 20)
    _start(fleet, bays)
    pids = {n.name: n.proc.pid for n in fleet.daemons() if n.proc is not None}
    for serial, watch in (
        ("BWC-A1", bays.a),
        ("BWC-B1", bays.b),
        (SHARED, bays.shared),
        ("BWC-BIG", bays.a),
    ):
        bays.plug(cams[serial], watch)
    staging = fleet.store / "staging"
    assert wait_until(
        lambda: any(p.stat().st_size > 8 << 20 for p in staging.glob("*.part")), 60
    ), fleet.nodes["dock-a"].logged()

    server.halt()  # mid-copy of LOGS.ZIP: its bytes get filed, its record cannot be written
    bays.plug(cams["BWC-A2"], bays.a)  # docked while the catalog is away
    bays.plug(cams["BWC-B2"], bays.b)
    for n in fleet.daemons():
        unavailable = functools.partial(n.logged_line, "catalog unavailable:")
        assert wait_until(unavailable, 60, proc=n.proc), (n.name, n.logged())
    for name in DOCKS:
        node = fleet.nodes[name]
        assert wait_until(functools.partial(node.a_bay_is, "waiting for the catalog"), 30)
        assert node.notify is not None and node.notify.saw("STATUS=catalog unavailable since")
    shown = fleet.cli("dock-b", "--json", "status")  # what an operator sees meanwhile
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["catalog"]["up"] is False and doc["daemon"]["running"]
    assert any(b["state"].startswith("waiting for the catalog") for b in doc["daemon"]["bays"])
    server.resume()

    want = {("dock-a", s) for s in ("BWC-A1", SHARED, "BWC-BIG", "BWC-A2")} | {
        ("dock-b", s) for s in ("BWC-B1", SHARED, "BWC-B2")
    }
    assert wait_until(lambda: _finished(fleet, items=13, jobs=6, sessions=want), 120, every=0.2), {
        n.name: n.logged()[-2000:] for n in fleet.daemons()
    }
    assert all(n.proc is not None and n.proc.poll() is None for n in fleet.daemons())
    assert {n.name: n.proc.pid for n in fleet.daemons() if n.proc is not None} == pids
    assert fleet.stop() == dict.fromkeys((*DOCKS, *WORKERS), 0)
    _clean_logs(fleet.daemons())
    for n in fleet.daemons():
        text = n.logged()
        assert text.count("catalog unavailable:") == 1, (n.name, text)
        assert text.count("catalog available again") == 1, (n.name, text)

    _assert_each_file_once(fleet, _on_devices(bays.a, bays.b, bays.shared))
    _assert_one_log_and_signed_heads(fleet, DOCKS)
    sessions = fleet.read(lambda txn: txn.recent_sessions(limit=1000))
    cut = [s for s in sessions if s.outcome == "interrupted"]
    assert ("dock-a", "BWC-BIG") in {(s.dock_name, s.device_serial) for s in cut}
    code, report = _verify(fleet, "audit")
    assert code == 0 and report["ok"], report["problems"]
