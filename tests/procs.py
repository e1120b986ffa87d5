"""Helpers of the tests that run evidock as real processes (daemons killed with signals)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from storage.catalog.session import Catalog, Transaction

T = TypeVar("T")


def child_env(
    home: Path, url: str, *, dock: str, config: str | None = None, **extra: str
) -> dict[str, str]:
    """This process's environment without evidock or systemd settings (but the suite's
    language, tests/conftest.py), plus the test's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k == "EVIDOCK_LANG" or not k.startswith(("EVIDOCK_", "NOTIFY_"))
    }
    env.update(EVIDOCK_HOME=str(home), EVIDOCK_CATALOG_URL=url, EVIDOCK_DOCK_NAME=dock)
    if config is not None:
        path = home.parent / f"evidock-{abs(hash(config))}.toml"
        path.write_text(config)
        env["EVIDOCK_CONFIG"] = str(path)
    env.update(extra)
    return env


def init(env: dict[str, str]) -> dict[str, str]:
    """``evidock init`` in the data dir of ``env`` (every other command refuses a data dir
    that init did not make); returns ``env``."""
    done = subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", "init"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return env


def evidock(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    """``evidock ARGS`` as a child process (stdout discarded, stderr kept)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ingest.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def gone(pid: int) -> bool:
    """The process is gone or a zombie waiting for its reaper (it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def wait_until(
    cond: Callable[[], bool],
    timeout: float = 60.0,
    *,
    proc: subprocess.Popen[bytes] | None = None,
    every: float = 0.05,
) -> bool:
    """Poll ``cond`` until it holds (True), the time is up or ``proc`` has ended (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(every)
    return False


def from_catalog(url: str, read: Callable[[Transaction], T], default: T) -> T:
    """One read of the catalog at ``url``; ``default`` while it does not exist yet."""
    cat = Catalog(url)
    try:
        with cat.read() as txn:
            return read(txn)
    except Exception:  # noqa: BLE001 - the process under test has not created it yet
        return default
    finally:
        cat.close()


def reap(proc: subprocess.Popen[bytes]) -> str:
    """Kill the child if it still runs; returns what it wrote on stderr, and prints its end
    (pytest shows a test's output only when it fails: a daemon that did not stop in time
    then says what it was doing)."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    print(f"--- stderr of {proc.args!r} (exit {proc.returncode}), its last 8,000 characters:")
    print(err[-8000:])
    return err


class Notify:
    """The systemd side of sd_notify: an abstract datagram socket whose messages a thread reads
    as they come, as systemd does (a unix datagram queue holds only a few messages; a daemon
    whose STATUS nobody reads blocks in send). Pass ``address`` as the child's NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.address = f"@evidock-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.address[1:])
        self.sock.settimeout(0.1)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="test-notify-reader")
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                self.messages.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except TimeoutError:
                continue

    def saw(self, text: str) -> bool:
        return any(text in m for m in list(self.messages))

    def ready(self, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> bool:
        """Wait until the daemon ``proc`` said READY=1 (its watch folders are watched); False
        if it ended or the time ran out first."""
        return wait_until(lambda: self.saw("READY=1"), timeout, proc=proc)

    def close(self) -> None:
        self._stop.set()
        self._reader.join()
        self.sock.close()
