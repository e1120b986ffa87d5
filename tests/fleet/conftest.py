"""A fleet on one machine: docks and workers as real processes sharing one PostgreSQL catalog and
one evidence store.

Each node has its own data dir (its key in keys/, its status in run/), as on separate hosts;
every node's ``store/`` is a symlink to one shared folder, as every host of a fleet mounts the
shared store (NFS) at ``data_dir/store``. Daemons log to files (never a pipe that could fill
up) and report to systemd through an abstract notify socket the test reads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from ingest.media.simcam import make_clip
from storage.catalog.session import Catalog, Transaction
from storage.errors import StorageError
from support.pg import ThrowawayServer, _pg_bin, fresh_database
from tests.conftest import CLIP_START, camera_name
from tests.procs import Notify, child_env

T = TypeVar("T")

# Short waits so that the whole fleet run takes seconds: folders settle in 0.3 s, idle workers
# look for jobs every 0.2 s. Leases stay long enough to outlive a PostgreSQL restart.
CONFIG = """\
[store]
shared = true

[dock]
settle_seconds = 0.3
stop_grace_seconds = 20

[worker]
embedded = {embedded}
poll_seconds = 0.2
lease_seconds = 10
retry_seconds = 0.2
"""

CAMERAS = 8  # distinct clips made once; a test takes the ones it needs


@pytest.fixture(scope="session")
def fleet_clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Short clips with distinct bytes (each starts a minute later, relative to now)."""
    d = tmp_path_factory.mktemp("fleet-media")
    return [
        make_clip(
            d / f"clip{i}.mp4",
            start=CLIP_START + timedelta(minutes=i),
            seconds=1,
            size="160x120",
            gps=None,
        )
        for i in range(CAMERAS)
    ]


def make_camera(root: Path, serial: str, clip: Path) -> Path:
    """A camera folder named by its serial: one clip (a transcode job) and a notes file."""
    dcim = root / serial / "DCIM" / "100MEDIA"
    dcim.mkdir(parents=True)
    start = CLIP_START + timedelta(minutes=int(clip.stem.removeprefix("clip")))
    os.link(clip, dcim / camera_name("REC", start, "MP4"))
    (root / serial / "NOTES.TXT").write_text(f"shift notes of {serial}\n")
    return root / serial


@dataclass
class Node:
    name: str
    home: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    notify: Notify | None = None

    def logged(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def bay_states(self) -> list[str]:
        try:
            doc = json.loads((self.home / "run" / f"dock-{self.name}.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return []
        return [str(b["state"]) for b in doc["bays"]]

    def logged_line(self, text: str) -> bool:
        """``text`` is in the node's log (a condition to wait on)."""
        return text in self.logged()

    def a_bay_is(self, state: str) -> bool:
        """A bay's state in the status file starts with ``state`` (a condition to wait on)."""
        return any(s.startswith(state) for s in self.bay_states())


@dataclass
class Fleet:
    """Nodes of one fleet under ``root``: the shared store, one data dir per node."""

    root: Path
    url: str
    nodes: dict[str, Node] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = self.root / "shared-store"
        self.store.mkdir()
        self._catalog = Catalog(self.url)

    def node(self, name: str, *, home: str | None = None, embedded: bool = False) -> Node:
        """The node whose data dir is ``home`` (default: its dock name), made on first use."""
        where = home or name
        if where not in self.nodes:
            data = self.root / "nodes" / where
            data.mkdir(parents=True)
            (data / "store").symlink_to(self.store)
            config = CONFIG.format(embedded=str(embedded).lower())
            env = child_env(data, self.url, dock=name, config=config)
            self.nodes[where] = Node(name=name, home=data, env=env, log=data / "daemon.log")
        return self.nodes[where]

    def dock(self, name: str, watch: list[Path], *, embedded: bool) -> Node:
        node = self.node(name, embedded=embedded)
        node.notify = Notify()
        env = {**node.env, "NOTIFY_SOCKET": node.notify.address}
        args = [a for w in watch for a in ("--watch", str(w))]
        node.proc = _spawn(env, node.log, "dock", "--no-udev", "--metrics-address", "off", *args)
        return node

    def worker(self, name: str) -> Node:
        node = self.node(name)
        node.proc = _spawn(node.env, node.log, "worker", "--metrics-address", "off")
        return node

    def cli(self, home: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``evidock ARGS`` run to its end on the node of data dir ``home``."""
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env=self.node(home).env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def daemons(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.proc is not None]

    def read(self, fn: Callable[[Transaction], T]) -> T:
        """One read of the shared catalog, which must answer."""
        with self._catalog.read() as txn:
            return fn(txn)

    def try_read(self, fn: Callable[[Transaction], T], default: T) -> T:
        """One read of the shared catalog; ``default`` while it does not answer (a poll)."""
        try:
            return self.read(fn)
        except StorageError:
            return default

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every daemon, then their exit codes (None: still running after 60 s)."""
        for n in self.daemons():
            assert n.proc is not None
            if n.proc.poll() is None:
                n.proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for n in self.daemons():
            assert n.proc is not None
            try:
                codes[n.name] = n.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                codes[n.name] = None
        return codes

    def close(self) -> None:
        for n in self.nodes.values():
            if n.proc is not None and n.proc.poll() is None:
                n.proc.kill()
                n.proc.wait()
            if n.notify is not None:
                n.notify.close()
        self._catalog.close()


def _spawn(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


class OwnServer(ThrowawayServer):
    """A throwaway server the test may stop and start again (never the machine's server)."""

    def halt(self) -> None:
        """Stop now: open sessions are terminated, new connections refused (-m fast)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def restart_now(self, mode: str) -> None:
        """``pg_ctl restart -m MODE``: ``fast`` ends every session (rolled back), ``immediate``
        kills the server outright (crash recovery when it starts again)."""
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-m", mode,
                  "-l", str(self.dir / "server.log"), "restart")  # fmt: skip

    def resume(self) -> None:
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-t",
            "60",
            "-l",
            str(self.dir / "server.log"),
            "-o",
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200",
            "start",
        )


@pytest.fixture
def own_pg() -> Iterator[OwnServer]:
    srv = OwnServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fleet(tmp_path: Path, pg_admin: str) -> Iterator[Fleet]:
    """A fleet on a fresh database of the suite's server (EVIDOCK_TEST_DATABASE_URL, else the
    session's throwaway server)."""
    with fresh_database(pg_admin) as url:
        f = Fleet(root=tmp_path, url=url)
        try:
            yield f
        finally:
            f.close()


@pytest.fixture
def own_fleet(tmp_path: Path, own_pg: OwnServer) -> Iterator[tuple[Fleet, OwnServer]]:
    """A fleet on a server of its own, which the test may stop and start."""
    with fresh_database(own_pg.admin_url) as url:
        f = Fleet(root=tmp_path, url=url)
        try:
            yield f, own_pg
        finally:
            f.close()
