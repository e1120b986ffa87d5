"""``evidock worker`` and the dock's embedded workers as real processes: --drain, SIGKILL while
holding a lease, SIGTERM giving a job back, proxies made by a running dock."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.media.simcam import make_clip
from storage.catalog.derived import DerivedOps
from storage.catalog.jobs import DONE, QUEUED, RUNNING, JobOps
from storage.catalog.session import Catalog
from storage.records import Job
from tests.conftest import CLIP1, CLIP_START, CUT
from tests.procs import Notify, child_env, evidock, from_catalog, init, reap, wait_until

FAST = "[worker]\nretry_seconds = 0.05\npoll_seconds = 0.2\nlease_seconds = 2\n"


def _env(home: Path, url: str, config: str) -> dict[str, str]:
    """A dock made by 'evidock init', speaking English like the suite (child_env drops every
    EVIDOCK_ setting, the language too: a worker would record its job errors in Chinese)."""
    return init(child_env(home, url, dock="dock-w", config=config, EVIDOCK_LANG="en"))


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


def _worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    return evidock(env, "worker", "--metrics-address", "off", *args)


def _jobs(url: str) -> list[Job]:
    return from_catalog(url, lambda txn: JobOps(txn).jobs(), [])


def _ffmpeg_on(folder: Path) -> list[int]:
    """Processes whose command line names ``folder`` (ffmpeg children of a worker)."""
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and str(folder) in (p / "cmdline").read_bytes().decode(
                "utf-8", "replace"
            ):
                found.append(int(p.name))
        except OSError:
            continue
    return found


def test_worker_drain_exits_0_when_no_job_is_left(
    tmp_path: Path, camera: Path, media: dict[str, Path], catalog_url: str
) -> None:
    """After an ingest, 'worker --drain' makes every proxy and exits 0; 'items --json' lists
    each item's derivatives, and a broken clip as 'no proxy: <reason>' after its attempts."""
    shutil.copy(media["cut"], camera / "DCIM" / "100MEDIA" / CUT)
    env = _env(tmp_path / "home", catalog_url, FAST)
    assert _cli(env, "ingest", str(camera), "--device", "BWC-W1").returncode == 0
    done = _cli(env, "--json", "worker", "--drain", "--concurrency", "2",
                "--metrics-address", "off")  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["left"] == 0 and doc["drained"] and doc["ended"]["done"] == 4
    assert doc["ended"]["failed"] == 1 and doc["ended"]["retry"] == 2
    items = {i["original_path"].rsplit("/", 1)[-1]: i for i in json.loads(
        _cli(env, "--json", "items").stdout)}  # fmt: skip
    assert {k["kind"] for k in items[CLIP1]["derived"]} == {
        "proxy", "poster", "contact_sheet"}  # fmt: skip
    assert all(len(k["sha256"]) == 64 for i in items.values() for k in i["derived"])
    broken = items[CUT]
    assert broken["derived"] == [] and broken["proxy"]["state"] == "failed"
    assert broken["proxy"]["note"].startswith("no proxy: ")
    again = _cli(env, "worker", "--drain", "--metrics-address", "off")
    assert again.returncode == 0 and "0 done" in again.stdout
    assert "Traceback" not in done.stderr + again.stderr
    # the operator queues the failed job again (after fixing its cause): it runs once more
    retried = json.loads(_cli(env, "--json", "jobs", "--retry-failed").stdout)
    assert len(retried["retried"]) == 1
    assert {"kind": "transcode", "state": "queued", "jobs": 1} in retried["counts"]
    third = json.loads(_cli(env, "--json", "worker", "--drain", "--metrics-address", "off").stdout)
    assert third["ended"]["failed"] == 1 and third["ended"]["retry"] == 2


def test_a_killed_workers_job_is_finished_by_another_after_its_lease_expires(
    tmp_path: Path, catalog_url: str
) -> None:
    """Worker A is SIGKILLed mid-transcode while holding the lease (its ffmpeg dies with it);
    worker B takes the job once the 2 s lease ran out and records its proxies exactly once."""
    card = tmp_path / "card" / "DCIM"
    make_clip(card / "LONG.MP4", start=CLIP_START, seconds=20,
              size="320x240", gps=None)  # fmt: skip
    home = tmp_path / "home"
    env_b = _env(home, catalog_url, FAST)
    assert _cli(env_b, "ingest", str(card.parent), "--device", "BWC-W2").returncode == 0
    env_a = _env(home, catalog_url, FAST + 'preset = "veryslow"\n')
    a = _worker(env_a)
    staging = home / "store" / "derived" / "staging"
    try:
        assert wait_until(lambda: any(j.state == RUNNING for j in _jobs(catalog_url))), (
            "not claimed"
        )
        assert wait_until(lambda: bool(_ffmpeg_on(staging)), 30), "ffmpeg did not start"
        a.send_signal(signal.SIGKILL)
        a.wait()
    finally:
        reap(a)
    assert wait_until(lambda: not _ffmpeg_on(staging), 10), "ffmpeg outlived its killed worker"
    (held,) = _jobs(catalog_url)
    assert held.state == RUNNING and held.attempts == 1
    b = _cli(env_b, "--json", "worker", "--drain", "--metrics-address", "off", timeout=180)
    assert b.returncode == 0, b.stderr
    (job,) = _jobs(catalog_url)
    assert job.state == DONE and job.attempts == 2
    assert "expired" in job.last_error and job.lease_owner is None
    cat = Catalog(catalog_url)
    try:
        with cat.read() as txn:
            kinds = sorted(d.kind for d in DerivedOps(txn).all())
            events = [e for e in txn.log.events() if e.type == "transcoded"]
    finally:
        cat.close()
    assert kinds == ["contact_sheet", "poster", "proxy"]
    assert len(events) == 3
    assert not list(staging.glob("*.part")), "the killed worker's staging file was not cleaned"


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_sigterm_gives_the_job_in_hand_back_to_the_queue(tmp_path: Path, catalog_url: str) -> None:
    """SIGTERM mid-transcode: ffmpeg is stopped, the worker exits 0, the job is queued again
    with its attempt given back, and nothing of it is recorded."""
    card = tmp_path / "card" / "DCIM"
    make_clip(card / "LONG.MP4", start=CLIP_START, seconds=20,
              size="320x240", gps=None)  # fmt: skip
    home = tmp_path / "home"
    env = _env(home, catalog_url, FAST + 'preset = "veryslow"\n')
    assert _cli(env, "ingest", str(card.parent), "--device", "BWC-W3").returncode == 0
    w = _worker(env)
    staging = home / "store" / "derived" / "staging"
    try:
        assert wait_until(lambda: bool(_ffmpeg_on(staging)), 60), "ffmpeg did not start"
        w.send_signal(signal.SIGTERM)
        assert w.wait(timeout=30) == 0
    finally:
        reap(w)
    (job,) = _jobs(catalog_url)
    assert job.state == QUEUED and job.attempts == 0 and job.lease_owner is None
    assert not _ffmpeg_on(staging)
    assert not list(staging.glob("*.part"))


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_the_dock_daemon_makes_proxies_with_its_embedded_workers(
    tmp_path: Path, camera: Path, catalog_url: str
) -> None:
    """A single dock needs nothing else: a camera dropped in its watch folder is ingested and
    its proxies are made by the daemon's own workers; SIGTERM still exits 0."""
    watch = tmp_path / "watch"
    watch.mkdir()
    notify = Notify()
    env = _env(tmp_path / "home", catalog_url, FAST) | {"NOTIFY_SOCKET": notify.address}
    dock = evidock(env, "dock", "--watch", str(watch), "--no-udev", "--metrics-address", "off")
    try:
        assert notify.ready(dock), "the daemon never said READY"
        shutil.move(str(camera), watch / "BWC-W4")
        assert wait_until(lambda: len(_jobs(catalog_url)) == 4, 60), "nothing ingested"
        assert wait_until(lambda: {j.state for j in _jobs(catalog_url)} == {DONE}, 120)
        dock.send_signal(signal.SIGTERM)
        assert dock.wait(timeout=60) == 0
    finally:
        reap(dock)
        notify.close()
