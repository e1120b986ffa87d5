"""Prometheus metrics of the dock (the one module that imports prometheus_client).

Labels carry dock names, device serials and result codes only: never officer names, badge
numbers, case numbers or file paths.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

logger = logging.getLogger(__name__)

OFFLOAD_BUCKETS = (600, 3600, 4 * 3600, 8 * 3600, 16 * 3600, 20 * 3600, 24 * 3600, 48 * 3600)


class DockMetrics:
    def __init__(self, dock: str, registry: CollectorRegistry | None = None) -> None:
        self.dock = dock
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.files = Counter(
            "evidock_files_ingested", "Files handled by ingest, by result", ["dock", "result"],
            registry=r,
        )  # fmt: skip
        self.bytes = Counter(
            "evidock_bytes_ingested", "Bytes stored by ingest", ["dock"], registry=r
        )
        self.file_seconds = Histogram(
            "evidock_ingest_file_seconds", "Seconds to acquire, verify and record one file",
            ["dock"], registry=r,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )  # fmt: skip
        self.sessions = Counter(
            "evidock_dock_sessions", "Dock sessions ended, by outcome", ["dock", "outcome"],
            registry=r,
        )  # fmt: skip
        self.unknown_devices = Counter(
            "evidock_unknown_devices_seen", "USB storage devices that matched no profile",
            ["dock"], registry=r,
        )  # fmt: skip
        self.bays = Gauge("evidock_bays", "Devices being ingested now", ["dock"], registry=r)
        self.bays.labels(dock).set(0)
        self.unknown_devices.labels(dock)

    def file_done(self, result: str, size: int | None) -> None:
        self.files.labels(self.dock, result).inc()
        if result == "stored" and size:
            self.bytes.labels(self.dock).inc(size)

    @contextmanager
    def timed_file(self) -> Iterator[None]:
        with self.file_seconds.labels(self.dock).time():
            yield


def serve(address: str, registry: CollectorRegistry) -> Served:
    """Start the metrics endpoint at HOST:PORT; returns a handle with ``shutdown()``."""
    host, _, port = address.rpartition(":")
    server, thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=registry)
    logger.info("metrics endpoint address=%s", address)
    return Served(server, thread)


class Served:
    """The running endpoint; ``shutdown()`` stops its thread and closes its socket."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
