"""The shipped systemd units pass systemd-analyze verify, and say what the deployment needs."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[1] / "systemd"
UNITS = ["evidock-dock.service", "evidock-worker@.service", "evidock-audit.service",
         "evidock-audit.timer", "evidock-witness.service",
         "evidock-console.service"]  # fmt: skip


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """systemd's own checker accepts every unit (ExecStart pointed at this checkout's evidock)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    evidock = Path(sys.executable).with_name("evidock")
    for name in UNITS:
        text = (SYSTEMD / name).read_text().replace("/usr/bin/evidock", str(evidock))
        (tmp_path / name).write_text(text)
    proc = subprocess.run(
        [analyze, "verify", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "evidock" not in proc.stderr, proc.stderr


def test_dock_unit_is_a_hardened_notify_service() -> None:
    """Type=notify with a watchdog; strict file-system protection with the data dir writable."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(SYSTEMD / "evidock-dock.service")
    svc = unit["Service"]
    assert svc["Type"] == "notify" and int(svc["WatchdogSec"]) > 0
    assert svc["Restart"] == "on-failure" and svc["NoNewPrivileges"] == "yes"
    assert svc["ProtectSystem"] == "strict" and "/var/lib/evidock" in svc["ReadWritePaths"]
    assert svc["PrivateTmp"] == "yes"
    mount = {"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID"}  # setpriv, then mount as uid 0
    allowed = mount | {"CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_LEASE"}
    assert set(svc["CapabilityBoundingSet"].split()) <= allowed
    assert mount <= set(svc["AmbientCapabilities"].split()) <= allowed
    assert (svc["User"], svc["Group"], svc["UMask"]) == ("evidock", "evidock", "0027")


def test_the_other_daemons_run_as_evidock_without_capabilities() -> None:
    """Worker and audit: the evidock user, umask 0027, an empty capability bounding set."""
    for name in ("evidock-worker@.service", "evidock-audit.service"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read(SYSTEMD / name)
        svc = unit["Service"]
        assert (svc["User"], svc["Group"], svc["UMask"]) == ("evidock", "evidock", "0027"), name
        assert svc["CapabilityBoundingSet"] == "" and svc["NoNewPrivileges"] == "yes", name
        assert svc["ExecStart"].startswith("/usr/bin/evidock "), name


def test_console_unit_runs_as_evidock_without_privileges() -> None:
    """The console runs as the evidock user, with no capability and a read-only system."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(SYSTEMD / "evidock-console.service")
    svc = unit["Service"]
    assert svc["ExecStart"].split()[1:] == ["console"]
    assert svc["User"] == "evidock" and svc["Group"] == "evidock" and svc["UMask"] == "0027"
    assert svc["CapabilityBoundingSet"] == "" and svc["AmbientCapabilities"] == ""
    assert svc["NoNewPrivileges"] == "yes" and svc["ProtectSystem"] == "strict"
    assert svc["ReadWritePaths"] == "/var/lib/evidock" and svc["PrivateDevices"] == "yes"
    assert svc["MemoryDenyWriteExecute"] == "yes" and svc["ProtectHome"] == "yes"


def test_example_configuration_is_accepted_as_shipped() -> None:
    """systemd/evidock.toml.example parses with every key known (no drift from config.py)."""
    import tomllib

    from ingest.config import parse

    raw = tomllib.loads((SYSTEMD / "evidock.toml.example").read_text())
    settings = parse(raw, env={}, source="example")
    assert settings.dock.name == "dock-01" and settings.catalog_url.startswith("sqlite:")


def test_fleet_example_configuration_is_accepted_as_shipped() -> None:
    """systemd/evidock-fleet.toml.example (PostgreSQL, S3 as system of record) parses."""
    import tomllib

    from ingest.config import parse

    raw = tomllib.loads((SYSTEMD / "evidock-fleet.toml.example").read_text())
    settings = parse(raw, env={}, source="example")
    assert settings.catalog_url.startswith("postgresql+psycopg:")
    assert settings.store.system_of_record == ("s3",) and settings.store.s3 is not None
    assert settings.store.s3.prefix == "district-7/"
    assert settings.store.s3.multipart_threshold == 64 * 1024 * 1024
