"""Invariant 5: SIGKILL at any point of an ingest, then a rerun: nothing lost, nothing twice.

The process under test kills itself at a named stage (``EVIDOCK_TEST_STOP_AT``, read by
ingest.config; the stages are ingest.pipeline.stages), so every point is hit exactly, not
raced for by polling."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.pipeline.stages import Stage
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from tests.procs import child_env, init


def _evidock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args], env=env, capture_output=True, timeout=300
    )


@pytest.fixture
def small_camera(tmp_path: Path) -> Path:
    """Two small recordings: a kill at a per-file stage hits the first, the second waits."""
    root = tmp_path / "camera"
    (root / "DCIM").mkdir(parents=True)
    for i, size in enumerate((70_000, 130_000)):
        (root / "DCIM" / f"CLIP_{i}.MP4").write_bytes(os.urandom(size))
    return root


@pytest.mark.parametrize("stage", list(Stage))
def test_sigkill_at_each_stage_then_rerun_stores_each_file_exactly_once(
    tmp_path: Path, small_camera: Path, catalog_url: str, stage: Stage
) -> None:
    """Killed at the stage, the rerun resumes: verify is clean, each file stored once, no
    staging file left."""
    home = tmp_path / "home"
    env = init(child_env(home, catalog_url, dock="dock-crash"))
    ingest = ("--json", "ingest", str(small_camera), "--device", "BWC-K")

    killed = _evidock(env | {"EVIDOCK_TEST_STOP_AT": stage}, *ingest)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()

    final = _evidock(env, *ingest)
    assert final.returncode == 0, final.stderr.decode()
    summary = json.loads(final.stdout)["summary"]
    assert (summary["failed"], summary["stored"] + summary["already"]) == (0, 2)
    sources = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p.relative_to(small_camera)
        for p in small_camera.rglob("*")
        if p.is_file()
    }
    cat = Catalog(catalog_url)
    try:
        with cat.read() as txn:
            items = txn.items()
            assert sorted((i.sha256, i.original_path) for i in items) == sorted(
                (h, os.fsencode(p)) for h, p in sources.items()
            ), "a file was lost or recorded twice"
            types = collections.Counter(e.type for e in txn.log.events() if e.item is not None)
            assert types == {"acquired": 2, "verified": 2, "stored": 2}
            assert txn.log.head().size == txn.log.event_count()
    finally:
        cat.close()
    store = LocalStore(home / "store")
    assert set(store.iter_keys()) == set(sources)
    assert not list(store.staging_dir.iterdir()), "a staging file of the killed run was left"
    verified = _evidock(env, "verify")  # log, checkpoints and stored objects all agree
    assert verified.returncode == 0, verified.stdout.decode() + verified.stderr.decode()
