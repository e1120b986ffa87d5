"""Invariant 5: SIGKILL at any point of an ingest, then a rerun: nothing lost, nothing twice."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from tests.procs import child_env, evidock, from_catalog, init, reap, wait_until

BIG = 48 << 20


@pytest.fixture
def big_camera(camera: Path) -> Path:
    for i in range(3):
        with open(camera / "DCIM" / f"LONG_{i}.MP4", "wb") as f:
            f.write(os.urandom(BIG))
    return camera


def test_sigkill_at_every_stage_then_rerun_stores_each_file_exactly_once(
    tmp_path: Path, big_camera: Path, catalog_url: str
) -> None:
    """Kill mid-copy, right after an item commits and mid-way again; a rerun completes cleanly."""
    home = tmp_path / "home"
    env = init(child_env(home, catalog_url, dock="dock-crash"))
    staging = home / "store" / "staging"
    kill_points = [
        lambda: staging.is_dir() and any(staging.glob("*.part")),  # mid-copy of the first file
        lambda: from_catalog(catalog_url, lambda t: len(t.items()), 0) >= 1,  # after a commit
        lambda: staging.is_dir() and any(staging.glob("*.part")),  # mid-copy again
    ]
    killed = 0
    for cond in kill_points:
        proc = evidock(env, "ingest", str(big_camera), "--device", "BWC-K")
        if wait_until(cond, proc=proc, every=0.002):
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait()
        reap(proc)
    assert killed >= 2, "the ingest finished before it could be killed; make the camera bigger"

    final = subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", "--json", "ingest", str(big_camera),
         "--device", "BWC-K"],
        env=env, capture_output=True, timeout=300,
    )  # fmt: skip
    assert final.returncode == 0, final.stderr.decode()
    doc = json.loads(final.stdout)
    assert doc["summary"]["failed"] == 0

    sources = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p for p in big_camera.rglob("*") if p.is_file()
    }
    cat = Catalog(catalog_url)
    with cat.read() as txn:
        items = txn.items()
        per_path = collections.Counter(i.original_path for i in items)
        assert max(per_path.values()) == 1, "a file was recorded twice"
        assert {i.sha256 for i in items} == set(sources)
        types = collections.Counter(e.type for e in txn.log.events() if e.item is not None)
        assert types == {"acquired": len(items), "verified": len(items), "stored": len(items)}
        head = txn.log.head()
        assert head.size == txn.log.event_count()
    cat.close()
    store = LocalStore(home / "store")
    assert set(store.iter_keys()) == set(sources)
    assert not list(staging.glob("*.part")), "staging files of killed runs were not cleaned"
    shutil.rmtree(home)
