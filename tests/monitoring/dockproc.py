"""A real `evidock dock` process for the endpoint tests: a watch folder, --metrics-address on a
free port, the log on stderr; stopped with SIGTERM (it must exit 0 without a traceback)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True, kw_only=True)
class DockProc:
    proc: subprocess.Popen[bytes]
    port: int
    watch: Path
    env: dict[str, str]
    log: str = ""

    def stop(self) -> None:
        """SIGTERM; the dock exits 0. Its log is kept in ``log``."""
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0

    def reap(self) -> None:
        """In a ``finally``: kill it if it still runs, read its log."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.stderr is not None
        self.log = self.proc.stderr.read().decode()
        self.proc.stderr.close()


def start_dock(
    tmp_path: Path, home: Path, catalog_url: str, dock: str, *, lang: str = "en"
) -> DockProc:
    """A dock on ``home`` watching ``tmp_path/watch``, folders settling after 0.3 s, speaking
    ``lang`` (its EVIDOCK_LANG; a real dock under systemd speaks Chinese, the default)."""
    config = tmp_path / "evidock.toml"
    config.write_text("[dock]\nsettle_seconds = 0.3\n")
    watch = tmp_path / "watch"
    watch.mkdir()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDOCK_", "NOTIFY_"))}
    env |= {
        "EVIDOCK_HOME": str(home),
        "EVIDOCK_CATALOG_URL": catalog_url,
        "EVIDOCK_DOCK_NAME": dock,
        "EVIDOCK_CONFIG": str(config),
        "EVIDOCK_LANG": lang,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli.main", "dock", "--watch", str(watch), "--no-udev",
         "--metrics-address", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    return DockProc(proc=proc, port=port, watch=watch, env=env)
