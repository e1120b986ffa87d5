"""`evidock ingest DIR` reads the medium with the device profiles as the dock does (issue 20):
a GA/T 947 folder copied by hand is filed under the serial and officer its names carry, and
the command says which profile matched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]

GAT = "DCIM/100GAT/BWC0042_J0042_20261126083000_0001.MP4"


@pytest.fixture
def evidock(tmp_path: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env |= {"EVIDOCK_HOME": str(tmp_path / "home"), "EVIDOCK_DOCK_NAME": "dock-one-shot"}

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip

    assert _run("init").returncode == 0
    return _run


def _copy(root: Path, clip: Path, name: str) -> Path:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, root / name)
    return root


def test_a_gat947_copy_is_filed_under_the_serial_its_names_carry(
    evidock: Run, tmp_path: Path, media: dict[str, Path]
) -> None:
    root = _copy(tmp_path / "camera-copy", media["clip"], GAT)
    refused = evidock("ingest", str(root))  # the profile takes registered cameras only
    assert "evidock device add BWC0042" in refused.stdout
    assert evidock("officer", "add", "J0042", "--name", "王五").returncode == 0
    added = evidock("device", "add", "BWC0042")  # the camera seen unregistered is registered
    assert added.returncode == 0, added.stderr
    done = evidock("ingest", str(root))
    assert done.returncode == 0, done.stderr
    assert "gat947-recorder" in done.stdout and "设备档案" in done.stdout
    assert "BWC0042" in done.stdout and "folder-" not in done.stdout
    doc = json.loads(evidock("--json", "items").stdout)
    assert [(i["device"], i["officer"]) for i in doc] == [("BWC0042", "J0042")]
    assert evidock("verify").returncode == 0  # the registration is an event the facts agree with


def test_no_profile_matches_a_plain_folder_and_it_says_so(
    evidock: Run, tmp_path: Path, media: dict[str, Path]
) -> None:
    root = _copy(tmp_path / "notes", media["clip"], "clip.bin")
    done = evidock("--json", "ingest", str(root))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["profile"] is None and doc["device"].startswith("folder-")
    plain = evidock("ingest", str(root))
    assert "none matched" in plain.stdout


def test_device_or_profile_none_keeps_the_old_behaviour_and_a_wrong_name_is_refused(
    evidock: Run, tmp_path: Path, media: dict[str, Path]
) -> None:
    root = _copy(tmp_path / "copy", media["clip"], GAT)
    named = json.loads(evidock("--json", "ingest", str(root), "--device", "BWC-9").stdout)
    assert named["device"] == "BWC-9" and named["profile"] is None
    wrong = evidock("ingest", str(root), "--profile", "no-such")
    assert wrong.returncode == 2
    assert "no-such" in wrong.stderr and "gat947-recorder" in wrong.stderr
    assert "Traceback" not in wrong.stderr
