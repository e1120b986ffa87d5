"""The evidock command as a user meets it: real processes, exit codes, messages, JSON shapes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def bare(tmp_path: Path):
    """evidock in a data dir that does not exist yet (EVIDOCK_HOME=tmp/home)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    env["EVIDOCK_DOCK_NAME"] = "dock-cli"

    def _run(
        *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return _run


@pytest.fixture
def run(bare):
    """evidock in a data dir made by 'evidock init'."""
    assert bare("init").returncode == 0
    return bare


def _no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


def test_init_is_idempotent_and_keeps_the_key_private(bare, tmp_path: Path) -> None:
    """Two inits create the key once (0600) and report the same verifier key."""
    first = bare("--json", "init")
    second = bare("--json", "init")
    assert first.returncode == second.returncode == 0
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["key_created"] and not b["key_created"]
    assert a["verifier_key"] == b["verifier_key"] and a["verifier_key"].startswith("dock-cli+")
    key = tmp_path / "home" / "keys" / "dock-cli.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_ingest_json_follows_the_contract(run, camera: Path) -> None:
    """ingest --json prints {session, files:[{path,result,item,sha256,reason}], summary}."""
    p = run("--json", "ingest", str(camera), "--device", "BWC-7")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert {"session", "files", "summary"} <= doc.keys()
    assert len(doc["files"]) == 4
    for f in doc["files"]:
        assert {"path", "result", "item", "sha256", "reason"} <= f.keys()
        assert f["result"] == "stored" and len(f["sha256"]) == 64
    assert doc["summary"]["stored"] == 4


def test_items_json_has_the_fields_custodians_rely_on(run, camera: Path) -> None:
    """items --json: an array with id, sha256, size, original_path, device, officer, times,
    state, durable_at, flags and derived for every item."""
    run("officer", "add", "J1", "--name", "Zhang San")
    run("device", "add", "BWC-7")
    run("device", "assign", "BWC-7", "J1", "--from", "2026-11-01T00:00")
    assert run("ingest", str(camera), "--device", "BWC-7").returncode == 0
    p = run("--json", "items", "--device", "BWC-7")
    items = json.loads(p.stdout)
    assert len(items) == 4
    need = {"id", "sha256", "size", "original_path", "device", "officer", "recorded_start",
            "recorded_end", "state", "durable_at", "flags", "derived"}  # fmt: skip
    for item in items:
        assert need <= item.keys()
        assert item["device"] == "BWC-7" and item["officer"] == "J1"
        assert item["derived"] == []


def test_human_ingest_output_names_every_file_and_a_summary(run, camera: Path) -> None:
    """Without --json, one line per file and a closing summary."""
    p = run("ingest", str(camera), "--device", "BWC-7")
    lines = p.stdout.strip().splitlines()
    assert sum(1 for ln in lines if ln.startswith("stored")) == 4
    assert "4 stored" in lines[-1] and "0 failed" in lines[-1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("ingest", "/nonexistent/camera"), "does not exist"),
        (("ingest", "{camera}", "--officer", "NOBODY"), "no officer with badge 'NOBODY'"),
        (("custody", "999"), "no evidence item 999"),
        (("frobnicate",), "invalid choice"),
        (("device", "assign", "NOPE", "J1"), "no device with serial 'NOPE'"),
    ],
)
def test_bad_input_exits_2_with_a_hint_and_no_traceback(run, camera: Path, args, expected) -> None:
    """Every user error says what happened and what to do, and exits with code 2."""
    p = run(*(a.replace("{camera}", str(camera)) for a in args))
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert expected in p.stderr and "hint:" in p.stderr
    _no_traceback(p)


def test_bad_configuration_is_reported_with_the_file_and_the_fix(bare, tmp_path: Path) -> None:
    """A broken TOML file or an unknown zone stops the command with exit 2 and a clear line."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text('timezone = "Mars/Olympus"\n')
    p = bare("--config", str(cfg), "init")
    assert p.returncode == 2 and "not a known time zone" in p.stderr
    cfg.write_text("data_dir = [unclosed\n")
    p = bare("--config", str(cfg), "init")
    assert p.returncode == 2 and "not valid TOML" in p.stderr
    _no_traceback(p)


def test_officer_and_device_registration_round_trip(run) -> None:
    """Registered officers and devices are listed with their holder; duplicates are refused."""
    assert run("officer", "add", "J1", "--name", "Zhang San", "--unit", "Team 1").returncode == 0
    assert run("device", "add", "BWC-1", "--officer", "J1").returncode == 0
    dup = run("officer", "add", "J1", "--name", "Other")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    devices = json.loads(run("--json", "device", "list").stdout)
    assert devices[0]["serial"] == "BWC-1" and devices[0]["officer"] == "J1"
    officers = json.loads(run("--json", "officer", "list").stdout)
    assert officers == [{"badge": "J1", "name": "Zhang San", "unit": "Team 1", "certificate": ""}]


def test_reading_a_custody_report_is_itself_logged(run, camera: Path) -> None:
    """Art. 29: every access is logged; the second report shows the first one as 'viewed'."""
    assert run("ingest", str(camera), "--device", "BWC-7").returncode == 0
    first = json.loads(run("--json", "custody", "1").stdout)
    assert "viewed" not in [e["type"] for e in first["events"]]
    second = json.loads(run("--json", "custody", "1").stdout)
    viewed = [e for e in second["events"] if e["type"] == "viewed"]
    assert len(viewed) == 1 and viewed[0]["data"]["format"] == "json"


def test_audit_sweeps_fixity_and_overdue_and_fails_only_on_integrity(
    run, camera: Path, tmp_path: Path
) -> None:
    """evidock audit (the timer's job): clean → exit 0 with both parts; a changed stored
    object → exit 1 naming it; the textfile for the alerts is written."""
    assert run("ingest", str(camera), "--device", "BWC-7").returncode == 0
    prom = tmp_path / "evidock.prom"
    clean = run("--json", "audit", "--metrics-textfile", str(prom))
    assert clean.returncode == 0, clean.stderr
    doc = json.loads(clean.stdout)
    assert doc["verify"]["ok"] and doc["verify"]["checked"]["objects_rehashed"] == 4
    assert doc["overdue"]["overdue_count"] == 0
    assert "evidock_fixity_failures 0" in prom.read_text()
    victim = next((tmp_path / "home" / "store" / "sha256").rglob("*[0-9a-f]"))
    while victim.is_dir():
        victim = next(victim.iterdir())
    victim.chmod(0o644)
    victim.write_bytes(b"changed")
    bad = run("audit")
    assert bad.returncode == 1 and "object-corrupt" in bad.stdout
    _no_traceback(bad)
