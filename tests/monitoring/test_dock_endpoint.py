"""The running `evidock dock` daemon scraped over HTTP, on SQLite and PostgreSQL: after a
docking its counters and the catalog gauges say what happened, and no label says who."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from ingest.context import open_context
from ingest.metrics.prometheus import parse_exposition
from tests.cases.conftest import Clip
from tests.conftest import make_settings
from tests.monitoring.dockproc import start_dock
from tests.monitoring.scenario import (
    DOCKED,
    PENDING_FOR,
    UNDOCKED,
    UNDOCKED_FOR,
    camera,
    place,
    populate,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
DOCK = "dock-e2e"


def _scrape(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode("utf-8"))
    except OSError:
        return None


def _until(port: int, ready: Callable[[Samples], bool], timeout: float = 90) -> tuple[str, Samples]:
    deadline = time.monotonic() + timeout
    text: str | None = None
    while time.monotonic() < deadline:
        text = _scrape(port)
        if text is not None and ready(parse_exposition(text)):
            return text, parse_exposition(text)
        time.sleep(0.2)
    raise AssertionError(f"the endpoint never showed what was awaited; last scrape:\n{text}")


def _v(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_dock_endpoint_shows_the_docking_and_the_catalog_after_an_ingest(
    tmp_path: Path, catalog_url: str, clips: dict[str, Clip]
) -> None:
    """A real daemon with a watch folder and --metrics-address: after a camera with a late and
    a timely clip is docked, the scrape counts 2 files stored with their bytes and delays (one
    over 24 h), 1 late offload unexcused, 1 item pending for 21 h, 1 of 2 devices in service
    undocked for 3 days, 1 case past its archive deadline, the custody log's size; and no
    officer name, badge, case number or file name in it."""
    home = tmp_path / "home"
    settings = make_settings(home, catalog_url, dock=DOCK)
    ctx = open_context(settings, create=True)
    try:
        scenario = populate(ctx)
    finally:
        ctx.close()
    dock = start_dock(tmp_path, home, catalog_url, DOCK)
    port = dock.port
    try:
        _, before = _until(port, lambda s: _v(s, "evidock_catalog_up") == 1.0)
        assert _v(before, "evidock_files_ingested_total", dock=DOCK, result="stored") == 0
        started = time.time()
        place(camera(tmp_path / "cam", clips), dock.watch)

        def docked(s: Samples) -> bool:
            return (
                _v(s, "evidock_dock_sessions_total", dock=DOCK, outcome="complete") == 1
                and _v(s, "evidock_offloads_late_unexcused") == 1
                and _v(s, "evidock_bays", dock=DOCK, state="complete") == 1
            )

        text, s = _until(port, docked)
        dock.stop()
    finally:
        dock.reap()
    err = dock.log
    assert "Traceback" not in err, err
    scraped = time.time()

    cat = open_context(settings)
    try:
        with cat.catalog.read() as txn:
            items = [i for i in txn.items() if i.device_serial == DOCKED]
            log_size = txn.log.head().size
    finally:
        cat.close()
    assert len(items) == 2
    # what the dock did
    assert _v(s, "evidock_files_ingested_total", dock=DOCK, result="stored") == 2
    assert _v(s, "evidock_files_ingested_total", dock=DOCK, result="failed") == 0
    assert _v(s, "evidock_bytes_ingested_total", dock=DOCK, result="stored") == sum(
        i.size for i in items
    )
    assert _v(s, "evidock_ingest_file_seconds_count", dock=DOCK) == 2
    assert _v(s, "evidock_offload_delay_seconds_count", dock=DOCK) == 2
    assert _v(s, "evidock_offload_delay_seconds_bucket", dock=DOCK, le="86400.0") == 1
    assert _v(s, "evidock_offload_delay_seconds_bucket", dock=DOCK, le="172800.0") == 2
    assert _v(s, "evidock_storage_errors_total", dock=DOCK, backend="local") == 0
    assert _v(s, "evidock_docked_devices", dock=DOCK) == 0
    assert _v(s, "evidock_unknown_devices_seen_total", dock=DOCK) == 0
    # what the catalog says
    assert _v(s, "evidock_offloads_late_unexcused") == 1
    assert _v(s, "evidock_offload_pending_items") == 1
    pending_age = _v(s, "evidock_offload_pending_oldest_age_seconds")
    assert pending_age is not None
    low = PENDING_FOR.total_seconds() - 1
    assert low <= pending_age <= low + (scraped - started) + 120
    assert _v(s, "evidock_devices_in_service") == 2
    assert _v(s, "evidock_devices_undocked_overdue") == 1
    undocked = _v(s, "evidock_device_undocked_seconds", device=UNDOCKED)
    assert undocked is not None
    assert abs(undocked - UNDOCKED_FOR.total_seconds()) < (scraped - started) + 120
    just_docked = _v(s, "evidock_device_undocked_seconds", device=DOCKED)
    assert just_docked is not None and just_docked < timedelta(minutes=5).total_seconds()
    assert _v(s, "evidock_cases_archive_overdue") == 1
    assert _v(s, "evidock_custody_log_events") == log_size
    checkpoint = _v(s, "evidock_custody_last_checkpoint_timestamp_seconds")
    assert checkpoint is not None and started - 5 <= checkpoint <= scraped
    # who: nobody
    for word in scenario.personal:
        assert word not in text, f"{word!r} is in the exposition"
    devices = {dict(labels).get("device") for (_, labels) in s} - {None}
    assert devices == set(scenario.serials)
