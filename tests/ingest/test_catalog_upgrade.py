"""evidock catalog upgrade: an older catalog is migrated and says so; a newer one is refused."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from storage.catalog.engine import _alembic_config, current_revision, head_revision, make_engine

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def evidock(tmp_path: Path) -> Run:
    # the suite's language (EVIDOCK_LANG, tests/conftest.py) stays: the output is read in English
    env = {
        k: v for k, v in os.environ.items() if k == "EVIDOCK_LANG" or not k.startswith("EVIDOCK_")
    }
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    env["EVIDOCK_DOCK_NAME"] = "dock-up"
    env["EVIDOCK_LANG"] = "en"  # the assertions read English (the catalog errors are translated)

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    return _run


def _previous_revision() -> str:
    head = head_revision()
    assert head is not None
    down = ScriptDirectory.from_config(_alembic_config()).get_revision(head).down_revision
    assert isinstance(down, str)
    return down


def _catalog_at(db: Path, revision: str) -> None:
    db.parent.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{db}")
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_an_older_catalog_is_migrated_to_the_newest_revision(evidock: Run, tmp_path: Path) -> None:
    """--check names the pending migrations and changes nothing; then upgrade applies them."""
    db = tmp_path / "home" / "catalog.db"
    old = _previous_revision()
    _catalog_at(db, old)
    check = evidock("--json", "catalog", "upgrade", "--check")
    assert check.returncode == 0, check.stderr
    doc = json.loads(check.stdout)
    assert doc["from_revision"] == old and doc["to_revision"] == head_revision()
    assert doc["migrations"] == [head_revision()] and doc["migrated"] is False
    engine = make_engine(f"sqlite:///{db}")
    try:
        assert current_revision(engine) == old
        done = evidock("catalog", "upgrade")
        assert done.returncode == 0, done.stderr
        assert f"from revision {old} to {head_revision()}" in done.stdout
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    again = evidock("catalog", "upgrade")
    assert again.returncode == 0 and "newest revision" in again.stdout


def test_a_catalog_from_a_newer_evidock_is_refused_with_exit_2(
    evidock: Run, tmp_path: Path
) -> None:
    """A revision no migration knows: upgrade and every other command refuse, nothing changes."""
    assert evidock("init").returncode == 0
    db = tmp_path / "home" / "catalog.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    for args in (("catalog", "upgrade"), ("items",), ("init",)):
        p = evidock(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "newer than this evidock" in p.stderr and "[catalog-too-new]" in p.stderr
        assert "Traceback" not in p.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("9999",)]
