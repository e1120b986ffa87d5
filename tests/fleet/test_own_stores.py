"""Two docks on one PostgreSQL catalog, each with its own local store ([store] shared = false,
the default): verify on one re-hashes what it holds and names the dock that holds the rest;
it never reports the other dock's evidence as missing (issue 18)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.pg import fresh_database
from tests.fleet.conftest import make_camera
from tests.procs import child_env, init

pytestmark = [pytest.mark.postgres]

OWN_STORES = "[store]\nshared = false\n"


def _evidock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def _verify(env: dict[str, str]) -> dict[str, Any]:
    done = _evidock(env, "--json", "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def test_verify_checks_the_objects_this_dock_holds_and_names_the_dock_of_the_others(
    tmp_path: Path, pg_admin: str, fleet_clips: list[Path]
) -> None:
    """Each dock ingests its own camera into its own store: verify on each is clean, re-hashes
    its own recording only and lists the other's as held by that dock."""
    with fresh_database(pg_admin) as url:
        envs = {
            name: init(child_env(tmp_path / name, url, dock=name, config=OWN_STORES))
            for name in ("dock-a", "dock-b")
        }
        for n, (name, env) in enumerate(envs.items()):
            camera = make_camera(tmp_path / f"cams-{name}", f"BWC-{n}", fleet_clips[n])
            done = _evidock(env, "ingest", str(camera), "--device", f"BWC-{n}")
            assert done.returncode == 0, done.stderr
        a, b = _verify(envs["dock-a"]), _verify(envs["dock-b"])
        plain = _evidock(envs["dock-a"], "verify").stdout
    for doc, other in ((a, "dock-b"), (b, "dock-a")):
        assert doc["ok"] and doc["problems"] == []
        assert doc["checked"]["objects_rehashed"] == 2  # its clip and notes file
        assert doc["elsewhere"] == [{"dock": other, "objects": 2, "derived": 0}]
    assert "held by dock dock-b: 2 stored objects" in plain and "verify: OK" in plain
