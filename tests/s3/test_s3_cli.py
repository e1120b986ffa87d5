"""Issue 8 at the command line: a daemon refuses to start against a bucket without the Object
Lock the configuration asks for, or with credentials the store refuses, and says what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.procs import child_env, init
from tests.s3.conftest import bucket_name, s3_toml
from tests.s3server import S3Server

pytestmark = pytest.mark.xdist_group("s3")


# The assertions read English: tests.procs.child_env drops EVIDOCK_LANG with the other settings.
ENGLISH = {"EVIDOCK_LANG": "en"}
WORKER = ("worker", "--drain")
DOCK = ("dock", "--no-udev", "--metrics-address", "off")


def _worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *(args or WORKER)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", [WORKER, DOCK], ids=["worker", "dock"])
def test_a_bucket_without_object_lock_is_refused_at_start(
    tmp_path: Path, s3_server: Any, s3_env: dict[str, str], command: tuple[str, ...]
) -> None:
    bucket = bucket_name()
    s3_server.make_bucket(bucket, object_lock=False)
    env = child_env(tmp_path / "home", f"sqlite:///{tmp_path}/home/catalog.db", dock="dock-1",
                    config=s3_toml(s3_server.endpoint, bucket), **s3_env, **ENGLISH)  # fmt: skip
    init(env)
    done = _worker(env, *command)
    assert done.returncode == 2, done.stderr
    assert "Object Lock" in done.stderr and "object-lock-enabled-for-bucket" in done.stderr
    assert "Traceback" not in done.stderr


def test_wrong_credentials_are_refused_at_start(tmp_path: Path) -> None:
    server = S3Server(auth=True, log=tmp_path / "moto-auth.log")
    try:
        bucket = bucket_name()
        server.make_bucket(bucket, object_lock=True)
        env = child_env(tmp_path / "home", f"sqlite:///{tmp_path}/home/catalog.db",
                        dock="dock-1", config=s3_toml(server.endpoint, bucket),
                        **server.env, **ENGLISH)  # fmt: skip
        init(env)
        assert _worker(env).returncode == 0  # the server's own keys: accepted
        env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
        done = _worker(env)
        assert done.returncode == 2, done.stderr
        assert "credential" in done.stderr.lower() or "signature" in done.stderr.lower()
        assert "not-the-secret" not in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        server.close()


def test_a_drain_while_s3_is_down_ends_and_names_what_waits(tmp_path: Path) -> None:
    """'worker --drain' with the object store unreachable does what it can (the proxies), then
    ends with exit 1 and each upload that waits, with its next try and its reason, instead of
    waiting out the outage (it used to hang for as long as the outage lasted)."""
    import json

    from ingest.media.simcam import make_wav

    server = S3Server(log=tmp_path / "moto.log")
    try:
        bucket = bucket_name()
        server.make_bucket(bucket, object_lock=True)
        env = child_env(tmp_path / "home", f"sqlite:///{tmp_path}/home/catalog.db",
                        dock="dock-1", config=s3_toml(server.endpoint, bucket),
                        **server.env, **ENGLISH)  # fmt: skip
        init(env)
        make_wav(tmp_path / "card" / "AUD_0001.WAV", seconds=1.0)
        ingest = _worker(env, "ingest", str(tmp_path / "card"), "--device", "REC-1")
        assert ingest.returncode == 0, ingest.stderr
        server.stop()
        done = _worker(env, "--json", "worker", "--drain", "--metrics-address", "off")
        assert done.returncode == 1, done.stderr
        report = json.loads(done.stdout)
        assert report["ended"]["done"] == 1  # the proxy was made meanwhile
        assert report["drained"] is False and report["left"] == len(report["waiting"]) >= 1
        assert {w["kind"] for w in report["waiting"]} == {"upload"}
        assert all(w["last_error"] for w in report["waiting"])
        assert "Traceback" not in done.stderr
    finally:
        server.close()
