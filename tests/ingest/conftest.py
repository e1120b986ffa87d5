"""What several ingest test modules share: evidock as a real process on a fresh data dir, the
check that a terminal is shown no raw control character, a store on a small tmpfs, and a probe
that must not be asked."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ingest.config import Settings
from tests.conftest import make_settings


def shows_no_controls(text: str) -> None:
    """Nothing in ``text`` but printable characters and line ends."""
    bad = [
        c for c in text
        if c != "\n" and (unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    ]  # fmt: skip
    assert bad == [], f"raw control characters reach the terminal: {bad!r}"


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., str]:
    """``evidock ARGS`` as a child process on the data dir tmp/home (made by ``init``); it
    must succeed without a traceback; returns its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    env["EVIDOCK_DOCK_NAME"] = "dock-cli"

    def run(*args: str) -> str:
        p = subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args], env=env, capture_output=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert b"Traceback" not in p.stderr
        return p.stdout.decode("utf-8")

    run("init")  # every other command refuses a data dir that init did not make
    return run


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@pytest.fixture
def small_store(tmp_path: Path, catalog_url: str) -> Iterator[Settings]:
    """A dock whose store is an 8 MiB tmpfs (the catalog is elsewhere); root only."""
    settings = make_settings(tmp_path / "home", catalog_url)
    store = settings.store_dir
    store.mkdir(parents=True)
    done = mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", str(store))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield settings
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)


class NoProbe:
    """A probe that must not be asked: empty files are not probed."""

    def probe(self, path: Path) -> object:
        raise AssertionError(f"probed {path}")
