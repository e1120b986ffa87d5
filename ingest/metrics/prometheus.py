"""Prometheus metrics (the one module that imports prometheus_client).

- ``DockMetrics``: what a dock daemon counts as it works (files, bytes, seconds, sessions,
  offload delays, unknown devices, storage errors, bays), on its own registry.
- ``Family`` + ``register_families``: gauges computed at scrape time by someone else (the
  catalog gauges of ``ingest.metrics.catalog``), turned into Prometheus metrics here.
- ``serve``: the HTTP endpoint; ``write_textfile``/``read_textfile``: node_exporter's textfile
  format for one-shot commands (``evidock verify``).

Labels carry dock names, device serials, result and state codes only: never officer names,
badge numbers, case numbers or file paths, and never a value without a bound.
"""

from __future__ import annotations

import logging
import os
import platform
import selectors
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    make_wsgi_app,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families

from ingest.pipeline.results import FileOutcome, SessionOutcome
from ingest.version import commit, release

if TYPE_CHECKING:
    from wsgiref.types import StartResponse
    from wsgiref.types import WSGIApplication as WSGIApp

logger = logging.getLogger(__name__)

# No *_created series: they would double every counter for nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]

OFFLOAD_BUCKETS = (600, 3600, 4 * 3600, 8 * 3600, 16 * 3600, 20 * 3600, 24 * 3600, 48 * 3600)
FILE_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
FILE_RESULTS = tuple(FileOutcome)
SESSION_OUTCOMES = tuple(SessionOutcome)
# What a bay of the dock can be doing (the word before the colon of its status line).
BAY_STATES = (
    "waiting", "queued", "mounting", "ingesting", "complete", "incomplete", "interrupted",
    "refused", "ignored", "removed", "error",
)  # fmt: skip
ACTIVE_BAY_STATES = ("queued", "mounting", "ingesting")


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    """One gauge and its samples, as computed by a scrape-time source."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    samples: tuple[tuple[tuple[str, ...], float], ...] = ()

    @classmethod
    def single(cls, name: str, help: str, value: float | None) -> Family:
        """An unlabelled gauge; no sample when the value is unknown."""
        return cls(name=name, help=help, samples=() if value is None else (((), value),))


class _FamilyCollector:
    """A prometheus collector over a callable that returns ``Family`` records at scrape time."""

    def __init__(self, source: Callable[[], Sequence[Family]]) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        for f in self.source():
            g = GaugeMetricFamily(f.name, f.help, labels=list(f.labels))
            for values, value in f.samples:
                g.add_metric(list(values), value)
            yield g


def register_families(registry: CollectorRegistry, source: Callable[[], Sequence[Family]]) -> None:
    """Expose the gauges ``source()`` returns on ``registry``, computed at each scrape."""
    registry.register(_FamilyCollector(source))


def bay_states(states: Iterable[str]) -> dict[str, int]:
    """How many bays are in each of ``BAY_STATES``, from their free-text status lines."""
    counts = dict.fromkeys(BAY_STATES, 0)
    for s in states:
        word = s.split(":", 1)[0].strip()
        counts[word if word in counts else "error"] += 1
    return counts


class DockMetrics:
    """The dock's own counters on ``registry`` (a private one unless given)."""

    def __init__(
        self,
        dock: str,
        registry: CollectorRegistry | None = None,
        *,
        backends: Sequence[str] = ("local",),
    ) -> None:
        self.dock = dock
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.files = Counter(
            "evidock_files_ingested", "Files handled by ingest, by result", ["dock", "result"],
            registry=r,
        )  # fmt: skip
        self.bytes = Counter(
            "evidock_bytes_ingested", "Bytes of the files handled by ingest, by result",
            ["dock", "result"], registry=r,
        )  # fmt: skip
        self.file_seconds = Histogram(
            "evidock_ingest_file_seconds", "Seconds to acquire, verify and record one file",
            ["dock"], registry=r, buckets=FILE_SECONDS_BUCKETS,
        )  # fmt: skip
        self.offload_delay = Histogram(
            "evidock_offload_delay_seconds",
            "Seconds from the end of a recording to its bytes being durable (24-hour rule)",
            ["dock"], registry=r, buckets=OFFLOAD_BUCKETS,
        )  # fmt: skip
        self.sessions = Counter(
            "evidock_dock_sessions", "Dock sessions ended, by outcome", ["dock", "outcome"],
            registry=r,
        )  # fmt: skip
        self.unknown_devices = Counter(
            "evidock_unknown_devices_seen", "USB storage devices that matched no profile",
            ["dock"], registry=r,
        )  # fmt: skip
        self.storage_errors = Counter(
            "evidock_storage_errors", "Failed operations of an evidence store, by backend",
            ["dock", "backend"], registry=r,
        )  # fmt: skip
        self.bays = Gauge(
            "evidock_docked_devices", "Docked devices being ingested now", ["dock"], registry=r
        )
        build = Gauge(
            "evidock_build_info", "Version and git commit of evidock, and Python's; always 1",
            ["version", "commit", "python"], registry=r,
        )  # fmt: skip
        build.labels(release(), commit() or "unknown", platform.python_version()).set(1)
        # Every series exists from the start, so increase() sees the first event too.
        for result in FILE_RESULTS:
            self.files.labels(dock, result)
            self.bytes.labels(dock, result)
        for outcome in SESSION_OUTCOMES:
            self.sessions.labels(dock, outcome)
        for backend in backends:
            self.storage_errors.labels(dock, backend)
        self.file_seconds.labels(dock)
        self.offload_delay.labels(dock)
        self.unknown_devices.labels(dock)
        self.bays.labels(dock).set(0)
        self._bays: Callable[[], Iterable[str]] = tuple
        register_families(r, self._bay_families)

    def file_done(self, result: str, size: int | None) -> None:
        self.files.labels(self.dock, result).inc()
        if size and result in (FileOutcome.STORED, FileOutcome.ALREADY):
            self.bytes.labels(self.dock, result).inc(size)

    def offload_delays(self, delays: Iterable[float]) -> None:
        h = self.offload_delay.labels(self.dock)
        for d in delays:
            h.observe(d)

    def storage_error(self, backend: str) -> None:
        self.storage_errors.labels(self.dock, backend).inc()

    def watch_bays(self, states: Callable[[], Iterable[str]]) -> None:
        """Read the bays' status lines from ``states()`` at each scrape."""
        self._bays = states

    def add_families(self, source: Callable[[], Sequence[Family]]) -> None:
        register_families(self.registry, source)

    def _bay_families(self) -> list[Family]:
        counts = bay_states(self._bays())
        return [
            Family(
                name="evidock_bays",
                # untranslated: Prometheus HELP, read by monitoring in English
                help="Bays of the dock by state (a bay keeps its last outcome until it docks)",
                labels=("dock", "state"),
                samples=tuple(((self.dock, s), float(n)) for s, n in counts.items()),
            )
        ]


LOGIN_OUTCOMES = ("ok", "failed", "locked")


class ConsoleMetrics:
    """The evidence console's counters (issue 16) on ``registry`` (a private one unless given):
    logins by outcome and refused accesses. No person, item or case in a label."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.logins = Counter(
            "evidock_console_logins", "Console logins, by outcome (ok, failed, locked)",
            ["outcome"], registry=self.registry,
        )  # fmt: skip
        for outcome in LOGIN_OUTCOMES:
            self.logins.labels(outcome=outcome)
        self.refusals = Counter(
            "evidock_console_refusals",
            "Console requests refused for want of a role (each is an access_denied event)",
            registry=self.registry,
        )

    def login(self, outcome: str) -> None:
        self.logins.labels(outcome=outcome).inc()

    def refused(self) -> None:
        self.refusals.inc()


# -- the endpoint ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """An HTML page the endpoint serves beside /metrics (the dock's kiosk, issue 20)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True, kw_only=True)
class PageRequest:
    """What a page is asked with: its path, its query string (``lang=en``) and the browser's
    Accept-Language (a page may answer in the reader's language, issue 20)."""

    path: str
    query: str = ""
    accept_language: str | None = None


Pages = Callable[[PageRequest], Page | None]  # a request -> its page, or None: the metrics


def serve(address: str, registry: CollectorRegistry, *, pages: Pages | None = None) -> Served:
    """Start the metrics endpoint at HOST:PORT; returns a handle with ``shutdown()``.
    ``pages`` answers the paths it knows (GET only) before the metrics do."""
    host, _, port = address.rpartition(":")
    addr = host.strip("[]") or "127.0.0.1"
    app = make_wsgi_app(registry)
    server, thread = _start(addr, int(port), app if pages is None else _with_pages(app, pages))
    logger.info("metrics endpoint address=%s", address)
    return Served(server, thread)


def _with_pages(metrics: WSGIApp, pages: Pages) -> WSGIApp:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = PageRequest(
            path=environ.get("PATH_INFO", "/"),
            query=environ.get("QUERY_STRING", ""),
            accept_language=environ.get("HTTP_ACCEPT_LANGUAGE"),
        )
        page = pages(request)
        if page is None:
            return metrics(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            page = Page(status=405, body=b"GET only\n", content_type="text/plain; charset=utf-8",
                        headers=(("Allow", "GET, HEAD"),))  # fmt: skip
        status = f"{page.status} {HTTPStatus(page.status).phrase}"
        start_response(
            status,
            [("Content-Type", page.content_type), ("Content-Length", str(len(page.body))),
             *page.headers],
        )  # fmt: skip
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else page.body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests are not evidence: no line per scrape or page view


class _Server(ThreadingMixIn, WSGIServer):
    """Serves until ``shutdown()`` and sleeps between requests. socketserver's
    ``serve_forever`` wakes every 0.5 s to look for a shutdown request: two wake-ups a second
    of an idle dock (issue 19). This one waits in select for a connection or a byte on its
    wake pipe, which ``shutdown()`` writes."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._wake_r, self._wake_w = os.pipe()
        self._stopping = False
        self._stopped = threading.Event()
        super().__init__(*args, **kwargs)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self, selectors.EVENT_READ)
                selector.register(self._wake_r, selectors.EVENT_READ)
                while not self._stopping:
                    for key, _ in selector.select():
                        if key.fileobj is self and not self._stopping:
                            self._accept_one()
                    self.service_actions()
        finally:
            self._stopped.set()

    def _accept_one(self) -> None:
        """What socketserver does for a readable socket (its private _handle_request_noblock)."""
        try:
            request, client = self.get_request()
        except OSError:
            return
        if not self.verify_request(request, client):
            self.shutdown_request(request)
            return
        try:
            self.process_request(request, client)
        except Exception:  # noqa: BLE001 - as socketserver: the request ends, the server serves on
            self.handle_error(request, client)
            self.shutdown_request(request)
        except BaseException:
            self.shutdown_request(request)
            raise

    def shutdown(self) -> None:
        """Stop ``serve_forever`` (running on another thread) and wait until it has ended."""
        self._stopping = True
        os.write(self._wake_w, b"!")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        wake, self._wake_r, self._wake_w = (self._wake_r, self._wake_w), -1, -1
        for fd in wake:
            if fd >= 0:  # closed once, even if closed again
                os.close(fd)


def _start(addr: str, port: int, app: WSGIApp) -> tuple[WSGIServer, threading.Thread]:
    family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]
    server_class = type("_FamilyServer", (_Server,), {"address_family": family})
    server: WSGIServer = make_server(addr, port, app, server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="evidock-metrics", daemon=True)
    thread.start()
    return server, thread


class Served:
    """The running endpoint; ``shutdown()`` stops its thread and closes its socket."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- node_exporter textfile format -----------------------------------------------------------


def write_textfile(path: Path, families: Sequence[Family]) -> None:
    """Write the gauges to ``path`` (a temp file beside it, then a rename)."""
    registry = CollectorRegistry()
    register_families(registry, lambda: families)
    write_to_textfile(str(path), registry)


def read_textfile(path: Path) -> dict[str, float]:
    """The unlabelled samples of a textfile written before (empty when there is none)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    return {
        s.name: s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if not s.labels
    }


def exposition(registry: CollectorRegistry) -> str:
    """What the endpoint would answer now (text format)."""
    return generate_latest(registry).decode("utf-8")


def parse_exposition(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }
