"""The docking daemon: watch folders over real inotify, recorded udev devices, systemd notify,
SIGTERM and SIGKILL, refusals. Real subprocesses where the behaviour is a process's."""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devices.mounts import Mounter
from devices.profiles import UsbProps, load_profiles
from devices.udev import UdevEvent, UdevSource, parse_property_dump, props_from_mapping
from devices.watch import WatchSource
from ingest.context import Context
from ingest.dock.daemon import DockDaemon, Health, judge_health
from ingest.dock.notify import Notifier
from ingest.metrics.prometheus import DockMetrics
from storage.catalog.session import Catalog
from storage.records import Item
from tests.devices.deeptree import chain_path, make_chain, removed_after
from tests.procs import Notify, child_env, evidock, from_catalog, init, reap, wait_until

DATA = Path(__file__).resolve().parents[1] / "data" / "udev"


def _props(name: str) -> UsbProps:
    return props_from_mapping(parse_property_dump((DATA / name).read_text()))


class ReplayedUdev(UdevSource):
    """Stands in for devices.udev.UdevSource (every method of it replaced): replays recorded
    devices as events."""

    def __init__(self, on_event: Callable[[UdevEvent], None]) -> None:
        super().__init__(on_event)
        self.on_event = on_event
        self.started = False

    def start(self) -> None:
        self.started = True

    def existing(self) -> list[UdevEvent]:
        return []

    def stop(self) -> None:
        self.started = False

    def plug(self, props: UsbProps) -> None:
        self.on_event(UdevEvent(action="add", props=props))


def test_recorded_usb_devices_are_ingested_or_ignored_by_profile(
    ctx: Context, camera: Path, tmp_path: Path
) -> None:
    """A camera-like medium is ingested under its udev serial; a stick with no DCIM is ignored
    and counted; both were 'mounted' through the mount seam, read-only."""
    docs = tmp_path / "stick"
    (docs / "docs").mkdir(parents=True)
    (docs / "docs" / "report.pdf").write_bytes(b"%PDF")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sdc1 {camera} vfat ro 0 0\n/dev/sda {docs} vfat ro 0 0\n")
    mounter = Mounter(tmp_path / "mnt", run=lambda c: None, mounts_file=mounts)
    metrics = DockMetrics("dock-test")
    replay: list[ReplayedUdev] = []

    def factory(on_event: Callable[[UdevEvent], None]) -> UdevSource:
        replay.append(ReplayedUdev(on_event))
        return replay[0]

    daemon = DockDaemon(
        ctx, profiles=load_profiles(), watch_roots=[tmp_path / "watch"], metrics=metrics,
        notifier=Notifier(None), use_udev=True, mounter=mounter, udev_factory=factory,
    )  # fmt: skip
    t = threading.Thread(target=daemon.run)
    t.start()
    try:
        replay[0].plug(_props("lg-flashdrive-disk.properties"))
        replay[0].plug(_props("sony-storage-media-part1.properties"))
        assert wait_until(lambda: _stored(ctx) == 4)
        assert wait_until(
            lambda: metrics.registry.get_sample_value(
                "evidock_unknown_devices_seen_total", {"dock": "dock-test"}
            ) == 1.0
        )  # fmt: skip
    finally:
        daemon.request_stop()
        t.join(timeout=30)
    with ctx.catalog.read() as txn:
        assert {i.device_serial for i in txn.items()} == {"5A10101105904"}
        assert txn.device("5A10101105904").profile == "dcim-camera"


def _stored(ctx: Context) -> int:
    with ctx.catalog.read() as txn:
        return len(txn.items())


def _daemon(watch: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return evidock(env, "dock", "--watch", str(watch), "--no-udev", "--metrics-address", "off")


def _items(url: str) -> list[Item]:
    return from_catalog(url, lambda txn: txn.items(), [])


def _datagrams(sock: socket.socket, until: str, timeout: float = 60) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            break
        got.append(msg)
        if until in msg:
            break
    return got


def test_daemon_ingests_a_camera_dropped_in_a_watch_folder_and_stops_on_sigterm(
    tmp_path: Path, camera: Path, catalog_url: str
) -> None:
    """READY is sent to systemd, every file is stored and verified once the folder settles,
    SIGTERM ends the daemon with exit 0 after STOPPING."""
    watch = tmp_path / "watch"
    watch.mkdir()
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    proc = _daemon(
        watch,
        init(
            child_env(tmp_path / "home", catalog_url, dock="dock-e2e", NOTIFY_SOCKET=str(sock_path))
        ),
    )
    try:
        ready = _datagrams(sock, "READY=1")
        assert any("READY=1" in m for m in ready), (ready, proc.stderr)
        shutil.move(str(camera), watch / "BWC-0042")
        assert wait_until(lambda: len(_items(catalog_url)) == 4), "the camera was not ingested"
        items = _items(catalog_url)
        assert {i.device_serial for i in items} == {"BWC-0042"}
        assert all(i.state == "stored" and i.durable_at for i in items)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        rest = _datagrams(sock, "STOPPING=1", timeout=5)
        assert any("STOPPING=1" in m for m in ready + rest)
    finally:
        reap(proc)
        sock.close()


def test_daemon_killed_mid_copy_resumes_on_restart_without_loss_or_duplicates(
    tmp_path: Path, camera: Path, catalog_url: str
) -> None:
    """SIGKILL while a large clip is being copied; the restarted daemon finishes the device
    and every file is recorded exactly once."""
    for i in range(2):
        (camera / "DCIM" / f"LONG_{i}.MP4").write_bytes(os.urandom(64 << 20))
    watch = tmp_path / "watch"
    watch.mkdir()
    home = tmp_path / "home"
    notify = Notify()
    env = init(child_env(home, catalog_url, dock="dock-e2e", NOTIFY_SOCKET=notify.address))
    proc = _daemon(watch, env)
    try:
        assert notify.ready(proc), "the daemon never said READY"
        shutil.move(str(camera), watch / "BWC-0043")
        staging = home / "store" / "staging"
        assert wait_until(lambda: staging.is_dir() and any(staging.glob("*.part")), 60)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        reap(proc)
        notify.close()
    proc = _daemon(watch, {k: v for k, v in env.items() if k != "NOTIFY_SOCKET"})
    try:
        assert wait_until(lambda: len(_items(catalog_url)) == 6, 120), "restart did not finish"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        reap(proc)
    items = _items(catalog_url)
    assert max(collections.Counter(i.original_path for i in items).values()) == 1
    assert not list((home / "store" / "staging").glob("*.part"))


def test_unregistered_recorder_whose_profile_requires_registration_is_refused(
    tmp_path: Path, media: dict[str, Path], catalog_url: str
) -> None:
    """A GA/T 947 recorder with an unknown serial: nothing taken, the reason is visible, and
    every file is still on the device. (The watch folder's name is the device's identity.)"""
    watch = tmp_path / "watch"
    dev = watch / "BWC0099" / "DCIM" / "100GAT"
    dev.mkdir(parents=True)
    name = "BWC0099_J0001_20261126083000_0001.MP4"
    shutil.copy(media["clip"], dev / name)
    home = tmp_path / "home"
    env = init(child_env(home, catalog_url, dock="dock-e2e"))
    proc = _daemon(watch, env)
    try:
        status = home / "run" / "dock-dock-e2e.json"

        def refused() -> bool:
            try:
                doc = json.loads(status.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                return False
            return any(b["state"].startswith("refused") for b in doc["bays"])

        assert wait_until(refused, 60)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        reap(proc)
    assert (dev / name).exists()
    assert _items(catalog_url) == []
    out = subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", "--json", "status"], env=env, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    doc = json.loads(out.stdout)
    assert doc["sessions"][0]["outcome"] == "refused"
    assert "not registered" in doc["daemon"]["bays"][0]["state"]
    assert "evidock device add BWC0099" in doc["daemon"]["bays"][0]["state"]


def test_sigterm_past_the_grace_period_abandons_the_copy_and_records_nothing_of_it(
    tmp_path: Path, catalog_url: str
) -> None:
    """With no grace left, SIGTERM abandons the file in flight: the daemon exits 0 quickly,
    the staging copy is gone, and nothing of that file is in the catalog or the log."""
    watch = tmp_path / "watch"
    dev = watch / "BWC-0050" / "DCIM"
    dev.mkdir(parents=True)
    big = dev / "HUGE.MP4"
    with open(big, "wb") as f:
        f.truncate(6 << 30)  # sparse: reads cost no disk, the copy still takes seconds
    home = tmp_path / "home"
    config = "[dock]\nstop_grace_seconds = 0\nsettle_seconds = 0.5\n"
    env = init(child_env(home, catalog_url, dock="dock-e2e", config=config))
    proc = _daemon(watch, env)
    try:
        staging = home / "store" / "staging"
        assert wait_until(lambda: staging.is_dir() and any(staging.glob("*.part")), 60)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        assert time.monotonic() - started < 30
    finally:
        reap(proc)
    assert not list(staging.glob("*.part"))
    assert _items(catalog_url) == []
    cat = Catalog(catalog_url)
    with cat.read() as txn:
        sessions = txn.recent_sessions()
        types = {e.type for e in txn.log.events()}
    cat.close()
    assert sessions[0].outcome == "interrupted"
    assert not {"acquired", "verified", "stored"} & types


# -- issue 23: hostile trees, dead threads --------------------------------------------------


def _drain(sock: socket.socket) -> list[str]:
    """Every datagram already waiting on the socket."""
    got: list[str] = []
    sock.setblocking(False)
    try:
        while True:
            got.append(sock.recv(4096).decode())
    except BlockingIOError:
        return got
    finally:
        sock.setblocking(True)


def _after_failure(messages: list[str]) -> list[str]:
    """The datagrams from the dock's 'failed:' status on (none: the dock never failed)."""
    marks = [n for n, m in enumerate(messages) if "STATUS=failed: " in m]
    return messages[marks[0] :] if marks else []


def test_judge_health_pings_only_while_every_thread_runs_and_no_bay_is_stuck() -> None:
    """A dead thread is fatal (no ping, stop); a stuck bay withholds the ping; else ping."""
    ok = judge_health(now=100.0, progress=[90.0], stuck_after_s=30, dead=[])
    stuck = judge_health(now=100.0, progress=[90.0, 60.0], stuck_after_s=30, dead=[])
    dead = judge_health(now=100.0, progress=[], stuck_after_s=30, dead=["evidock-watch"])
    assert ok == Health(ping=True)
    assert stuck == Health(ping=False, reason="1 bay(s) without progress for 30 s")
    assert dead == Health(ping=False, fatal=True, reason="thread(s) stopped: evidock-watch")


class CrashingWatch(WatchSource):
    """Stands in for devices.watch.WatchSource (every method the dock calls replaced): its
    thread runs until it is told to crash."""

    def __init__(self) -> None:
        super().__init__([], lambda folder: None)
        self._go = threading.Event()
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name="evidock-watch")

    def _run(self) -> None:
        self._go.wait()
        if not self._stopping:
            raise RuntimeError("inotify reader failed (test)")

    def crash(self) -> None:
        self._go.set()

    def start(self) -> None:
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self._stopping = True
        self._go.set()
        self.thread.join(timeout=30)


class PulledOut(BaseException):
    """Escapes every handler of a bay's job (they catch Exception)."""


class BrokenMounter(Mounter):
    """A mounter whose mount ends the bay's thread (nothing is mounted)."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent"))

    def mount(self, props: UsbProps) -> tuple[Path, bool]:
        raise PulledOut("the bay's thread ends here (test)")

    def unmount(self, target: Path) -> None:
        raise AssertionError("nothing was mounted")


def _watched_daemon(ctx: Context, tmp_path: Path, **kw: Any) -> tuple[DockDaemon, socket.socket]:
    """A dock in this process that pings systemd every 0.1 s on a socket of the test's."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    settings = dataclasses.replace(
        ctx.settings, watchdog_usec=200_000,
        worker=dataclasses.replace(ctx.settings.worker, embedded=False),
    )  # fmt: skip
    daemon = DockDaemon(
        dataclasses.replace(ctx, settings=settings), profiles=load_profiles(),
        watch_roots=[tmp_path / "watch"], metrics=DockMetrics("dock-test"),
        notifier=Notifier(str(path)), **kw,
    )  # fmt: skip
    return daemon, sock


def _run_until_it_ends(daemon: DockDaemon, trigger: Callable[[], None]) -> int:
    codes: list[int] = []
    t = threading.Thread(target=lambda: codes.append(daemon.run()))
    t.start()
    try:
        trigger()
        t.join(timeout=60)
    finally:
        if t.is_alive():
            daemon.request_stop()
            t.join(timeout=60)
    return codes[0]


def test_a_crashed_watch_thread_is_logged_ends_the_watchdog_pings_and_the_dock_with_exit_1(
    ctx: Context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The watcher's thread dies: the crash is logged with its thread, no WATCHDOG=1 follows
    the dock's 'failed' status, and run() returns 1 so that systemd restarts the dock."""
    fake = CrashingWatch()
    daemon, sock = _watched_daemon(
        ctx, tmp_path, use_udev=False, watch_factory=lambda roots, on_change: fake
    )

    def crash_once_pinging() -> None:
        assert any("WATCHDOG=1" in m for m in _datagrams(sock, "WATCHDOG=1"))
        fake.crash()

    try:
        with caplog.at_level(logging.ERROR, logger="ingest.dock.daemon"):
            code = _run_until_it_ends(daemon, crash_once_pinging)
        after = _after_failure(_drain(sock))
    finally:
        daemon.notifier.close()
        sock.close()
    assert code == 1
    assert after and not any("WATCHDOG=1" in m for m in after)
    assert any("STOPPING=1" in m for m in after)
    logged = [r.getMessage() for r in caplog.records]
    assert any(
        m.startswith("thread crashed thread=evidock-watch error=RuntimeError") for m in logged
    )
    assert any(m.startswith("dock stops: thread(s) stopped: evidock-watch") for m in logged)


def test_a_bay_whose_job_dies_past_its_handlers_ends_the_dock_with_exit_1(
    ctx: Context, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Something that escapes a bay's handlers (they take every Exception) is logged and
    fatal: no WATCHDOG=1 after the dock's 'failed' status, exit 1."""
    replay: list[ReplayedUdev] = []

    def factory(on_event: Callable[[UdevEvent], None]) -> UdevSource:
        replay.append(ReplayedUdev(on_event))
        return replay[0]

    daemon, sock = _watched_daemon(
        ctx, tmp_path, use_udev=True, udev_factory=factory, mounter=BrokenMounter()
    )

    def plug_once_pinging() -> None:
        assert any("WATCHDOG=1" in m for m in _datagrams(sock, "WATCHDOG=1"))
        replay[0].plug(_props("sony-storage-media-part1.properties"))

    try:
        with caplog.at_level(logging.ERROR, logger="ingest.dock.daemon"):
            code = _run_until_it_ends(daemon, plug_once_pinging)
        after = _after_failure(_drain(sock))
    finally:
        daemon.notifier.close()
        sock.close()
    assert code == 1
    assert after and not any("WATCHDOG=1" in m for m in after)
    logged = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("bay crashed source=usb:/dev/") for m in logged)
    assert any(m.startswith("dock stops: thread(s) stopped: bay usb:/dev/") for m in logged)


def test_daemon_with_device_folders_1200_levels_deep_keeps_ingesting_and_pinging(
    tmp_path: Path, camera: Path, catalog_url: str
) -> None:
    """A device folder 1200 levels deep when the dock starts, another moved in while it runs:
    the dock starts, ingests what lies within [dock] max_depth of both and records why the
    rest stays, ingests a camera docked next to them, and keeps telling systemd it is alive.
    When a watch folder is then removed (nothing can be watched there any more) it says so,
    stops pinging and exits 1 for systemd to restart it."""
    watch, spare = tmp_path / "watch", tmp_path / "spare"
    spare.mkdir()
    chain = {1: ("NEAR.MP4", b"near"), 8: ("EDGE.MP4", b"edge"), 1100: ("LOST.MP4", b"lost")}
    make_chain(watch / "HOSTILE-1", 1200, chain)
    make_chain(tmp_path / "HOSTILE-2", 1200, chain)
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    config = "[dock]\nsettle_seconds = 0.5\nmax_depth = 8\n"
    env = init(child_env(
        tmp_path / "home", catalog_url, dock="dock-e2e", config=config,
        NOTIFY_SOCKET=str(sock_path), WATCHDOG_USEC="1000000",
    ))  # fmt: skip
    proc = evidock(env, "dock", "--watch", str(watch), "--watch", str(spare), "--no-udev",
                   "--metrics-address", "off")  # fmt: skip
    with removed_after(watch, tmp_path / "HOSTILE-2"):
        try:
            ready = _datagrams(sock, "READY=1")
            assert any("READY=1" in m for m in ready), (ready, proc.poll())
            os.rename(tmp_path / "HOSTILE-2", watch / "HOSTILE-2")
            shutil.move(str(camera), watch / "BWC-0042")
            assert wait_until(lambda: len(_items(catalog_url)) == 8, proc=proc), "not ingested"
            _drain(sock)
            assert any("WATCHDOG=1" in m for m in _datagrams(sock, "WATCHDOG=1", timeout=30))
            assert proc.poll() is None
            spare.rmdir()
            assert proc.wait(timeout=60) == 1
            after = _after_failure(_drain(sock))
        finally:
            err = reap(proc)
            sock.close()
    assert after and not any("WATCHDOG=1" in m for m in after)
    assert f"watch folder '{spare}' was removed or moved away" in err
    assert "dock stops: thread(s) stopped: watch folders" in err
    paths = {(i.device_serial, i.original_path) for i in _items(catalog_url)}
    for device in ("HOSTILE-1", "HOSTILE-2"):
        assert {(device, b"d/NEAR.MP4"), (device, chain_path(8) + b"/EDGE.MP4")} <= paths
    cat = Catalog(catalog_url)
    with cat.read() as txn:
        failed = [json.loads(e.data) for e in txn.log.events() if e.type == "acquisition_failed"]
    cat.close()
    assert {(f["device"], f["path"], f["kind"]) for f in failed} == {
        ("HOSTILE-1", chain_path(9).decode(), "too-deep"),
        ("HOSTILE-2", chain_path(9).decode(), "too-deep"),
    }


def test_the_wipe_after_offload_does_not_dock_the_folder_again(
    ctx: Context, tmp_path: Path, media: dict[str, Path]
) -> None:
    """Real inotify: a recorder's WAV is stored and wiped, its notes.txt stays as 'not a media
    file'. The wipe's deletions are not a new docking: a recorder docked afterwards is taken,
    and the first one still has its one session, notes.txt was never stored."""
    watch = tmp_path / "watch"
    watch.mkdir()
    profiles = [
        dataclasses.replace(p, wipe_after_offload=True)
        for p in load_profiles()
        if p.name == "audio-recorder"
    ]
    settings = dataclasses.replace(
        ctx.settings,
        dock=dataclasses.replace(
            ctx.settings.dock, wipe_after_offload=True, settle_seconds=0.3, parallel_devices=1
        ),
        worker=dataclasses.replace(ctx.settings.worker, embedded=False),
    )
    daemon = DockDaemon(
        dataclasses.replace(ctx, settings=settings), profiles=profiles, watch_roots=[watch],
        metrics=DockMetrics("dock-test"), notifier=Notifier(None), use_udev=False,
    )  # fmt: skip
    t = threading.Thread(target=daemon.run)
    t.start()

    def recorder(name: str) -> Path:
        staged = tmp_path / name
        staged.mkdir()
        shutil.copy2(media["wav"], staged / "REC_20261201_080000.WAV")
        (staged / "notes.txt").write_text("battery low\n")
        return Path(shutil.move(str(staged), watch / name))

    def sessions(serial: str) -> list[str | None]:
        with ctx.catalog.read() as txn:
            return [s.outcome for s in txn.recent_sessions() if s.device_serial == serial]

    try:
        first = recorder("REC-W1")
        assert wait_until(lambda: sessions("REC-W1") == ["complete"], 60)
        assert not (first / "REC_20261201_080000.WAV").exists(), "the WAV was not wiped"
        recorder("REC-W2")  # one bay: docked after anything the wipe would have started
        assert wait_until(lambda: sessions("REC-W2") == ["complete"], 60)
    finally:
        daemon.request_stop()
        t.join(timeout=60)
    assert sessions("REC-W1") == ["complete"], "the wipe docked the folder again"
    assert (first / "notes.txt").exists()
    with ctx.catalog.read() as txn:
        names = sorted(i.original_path for i in txn.items())
    assert names == [b"REC_20261201_080000.WAV", b"REC_20261201_080000.WAV"]
