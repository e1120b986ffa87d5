"""A session whose process was killed (SIGKILL, power loss) does not stay 'open' forever: the
next start of its dock closes it as 'interrupted' (issue 18); a live one is left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from ingest.context import Context
from ingest.liveness import gone, start_mark, this_process
from ingest.pipeline.docking import close_killed_sessions, open_docking
from ingest.pipeline.stages import Stage
from storage.catalog.session import Catalog
from storage.records import SessionOwner
from tests.procs import child_env, init


def _evidock(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args], env=env, capture_output=True, timeout=300
    )


def _outcomes(url: str) -> list[tuple[str | None, bool]]:
    cat = Catalog(url)
    try:
        with cat.read() as txn:
            return [(s.outcome, s.ended_at is not None) for s in txn.recent_sessions()]
    finally:
        cat.close()


def test_a_sigkilled_ingest_session_is_closed_interrupted_by_the_next_start(
    tmp_path: Path, camera: Path, catalog_url: str
) -> None:
    """Killed after its first file is recorded, the session is open; 'evidock status' (the next
    start) closes it as interrupted, and the rerun's own session completes."""
    env = init(child_env(tmp_path / "home", catalog_url, dock="dock-killed"))
    killed = _evidock(
        env | {"EVIDOCK_TEST_STOP_AT": Stage.RECORDED}, "ingest", str(camera), "--device", "K-1"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    assert _outcomes(catalog_url) == [(None, False)], "the killed session should still be open"

    status = _evidock(env, "--json", "status")
    assert status.returncode == 0, status.stderr.decode()
    (shown,) = json.loads(status.stdout)["sessions"]
    assert shown["outcome"] == "interrupted" and shown["ended_at"] is not None

    rerun = _evidock(env, "ingest", str(camera), "--device", "K-1")
    assert rerun.returncode == 0, rerun.stderr.decode()
    assert _outcomes(catalog_url) == [("complete", True), ("interrupted", True)]
    assert _evidock(env, "verify").returncode == 0


def test_the_session_of_a_live_process_or_another_host_stays_open(ctx: Context) -> None:
    """Only a session whose process is gone from this host is closed."""
    mine = open_docking(ctx, Path("/media/a"), serial="L-1", badge=None, actor="t",
                        profile=None, claims={})  # fmt: skip
    elsewhere = SessionOwner(host="another-host", pid=1, start="x:1")
    with ctx.catalog.write() as txn:
        device = txn.device("L-1")
        far = txn.open_session(dock_id=ctx.dock.id, device_id=device.id, source="/b",
                               now=ctx.clock(), owner=elsewhere)  # fmt: skip
        dead = txn.open_session(dock_id=ctx.dock.id, device_id=device.id, source="/c",
                                now=ctx.clock(), owner=_dead_owner())  # fmt: skip
        old = txn.open_session(dock_id=ctx.dock.id, device_id=device.id, source="/d",
                               now=ctx.clock())  # fmt: skip
    assert close_killed_sessions(ctx) == [dead]
    with ctx.catalog.read() as txn:
        still = {s.id for s in txn.open_sessions(ctx.dock.id)}
    assert still == {mine.session, far, old}


def _dead_owner() -> SessionOwner:
    """The mark of a process that has ended (a child we started and reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    mark = start_mark(child.pid)
    child.wait()
    return SessionOwner(host=this_process().host, pid=child.pid, start=mark or "")


def test_a_reused_pid_is_not_taken_for_the_process_that_ran_the_session() -> None:
    """Same pid, other start mark: the owner is gone; the same mark: it is alive."""
    me = this_process()
    assert me.pid == os.getpid() and me.start
    assert not gone(me)
    assert gone(SessionOwner(host=me.host, pid=me.pid, start=me.start + "0"))
    assert not gone(SessionOwner(host="elsewhere", pid=me.pid, start="other"))
