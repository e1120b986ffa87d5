"""A catalog written by an earlier evidock still verifies: logged bytes never change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "catalog-v1" / "home"


def _copy(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(FIXTURE, home)
    os.chmod(home / "keys" / "fixture-dock.key", 0o600)
    for obj in (home / "store").rglob("*"):
        if obj.is_file():
            os.chmod(obj, 0o444)
    return home


def _evidock(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDOCK_", "NOTIFY_"))}
    # the suite reads English (tests/conftest.py): the child is told so again
    env.update(EVIDOCK_HOME=str(home), EVIDOCK_DOCK_NAME="fixture-dock", EVIDOCK_LANG="en")
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", "--json", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_catalog_written_before_the_reorganisation_verifies_clean(tmp_path: Path) -> None:
    """verify replays the old log, its checkpoints and objects, and finds nothing wrong."""
    home = _copy(tmp_path)
    done = _evidock(home, "verify")
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["problems"] == []


def test_edited_event_in_the_old_catalog_is_detected(tmp_path: Path) -> None:
    """The fixture is not trivially clean: one changed byte of a logged event fails verify."""
    import sqlite3

    home = _copy(tmp_path)
    db = sqlite3.connect(home / "catalog.db")
    with db:
        (seq, data) = db.execute(
            "SELECT seq, data FROM custody_event WHERE type = 'acquired' ORDER BY seq LIMIT 1"
        ).fetchone()
        edited = data.replace("BWC-0001", "BWC-0009")
        assert edited != data
        db.execute("UPDATE custody_event SET data = ? WHERE seq = ?", (edited, seq))
    db.close()
    done = _evidock(home, "verify", "--quick")
    assert done.returncode == 1, done.stdout
