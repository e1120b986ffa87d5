"""Issue 8 with the real daemon: the object store goes down while a camera is docked; the dock
keeps docking into its spool, and its workers upload everything when the store is back."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from storage.records import Item
from tests.procs import child_env, evidock, from_catalog, init, reap, wait_until
from tests.s3.conftest import bucket_name, s3_toml

pytestmark = pytest.mark.xdist_group("s3")


FAST = (
    "connect_timeout_s = 0.5\nread_timeout_s = 5\n[dock]\nsettle_seconds = 0.5\n"
    "[worker]\nretry_seconds = 0.5\nmax_attempts = 30\npoll_seconds = 0.5\n"
)


def _items(url: str) -> list[Item]:
    return from_catalog(url, lambda txn: txn.items(), [])


def test_dock_spools_during_an_s3_outage_and_uploads_when_it_is_back(
    tmp_path: Path, camera: Path, s3_server: Any, s3_env: dict[str, str]
) -> None:
    """Nothing is lost and nothing is called offloaded before its bytes are in S3."""
    bucket = bucket_name()
    s3_server.make_bucket(bucket, object_lock=True)
    home, watch = tmp_path / "home", tmp_path / "watch"
    watch.mkdir()
    url = f"sqlite:///{tmp_path}/catalog.db"
    env = init(child_env(home, url, dock="dock-s3",
                         config=s3_toml(s3_server.endpoint, bucket, FAST), **s3_env,
                         EVIDOCK_LANG="en"))  # fmt: skip
    proc = evidock(env, "dock", "--watch", str(watch), "--no-udev", "--metrics-address", "off")
    try:
        assert wait_until(lambda: home.joinpath("run", "dock-dock-s3.json").is_file(), proc=proc)
        s3_server.stop()
        shutil.move(str(camera), watch / "BWC-0042")
        assert wait_until(lambda: len(_items(url)) == 4, proc=proc), "not docked during outage"
        # docked and spooled, none offloaded: the store is down
        assert all(i.durable_at is None and i.state == "pending" for i in _items(url))
        assert proc.poll() is None
        s3_server.start()
        assert wait_until(
            lambda: all(i.durable_at is not None for i in _items(url)), timeout=90, proc=proc
        ), "not uploaded after the outage"
        assert {i.state for i in _items(url)} == {"stored"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        err = reap(proc)
    assert "Traceback" not in err, err[-3000:]
    verify = evidock(env, "--json", "verify", "--quick")
    assert verify.wait(timeout=120) == 0, reap(verify)[-3000:]
    reap(verify)
