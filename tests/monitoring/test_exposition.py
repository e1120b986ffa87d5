"""What evidock exports, scraped from real registries after a docking and a verify run: every
metric the dashboard and the alert rules query exists, and no label carries personal data."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devices.profiles import load_profiles
from ingest.cli.main import build_parser
from ingest.context import open_context
from ingest.dock.daemon import DockDaemon
from ingest.dock.notify import Notifier
from ingest.metrics.catalog import CatalogGauges
from ingest.metrics.prometheus import DockMetrics, exposition, parse_exposition
from ingest.output import Output
from tests.cases.conftest import Clip
from tests.conftest import make_settings
from tests.monitoring.scenario import DOCKED, Scenario, camera, place, populate
from tests.procs import wait_until

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"
DOCK = "dock-expo"
# Every label evidock puts on a metric, and what its values may be.
LABELS = {"dock", "result", "outcome", "state", "backend", "device", "kind", "code", "le"}
LABELS |= {"version", "commit", "python"}  # evidock_build_info


@dataclass(frozen=True)
class Exported:
    dock: str  # the dock endpoint's exposition
    textfile: str  # what evidock verify wrote for node_exporter
    scenario: Scenario


@pytest.fixture(scope="module")
def exported(
    tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Clip]
) -> Iterator[Exported]:
    """A dock daemon (in this process, real inotify) docks the camera; then evidock verify."""
    tmp = tmp_path_factory.mktemp("exposition")
    settings = make_settings(tmp / "home", f"sqlite:///{tmp}/catalog.db", dock=DOCK)
    ctx = open_context(settings, create=True)
    try:
        scenario = populate(ctx)
        metrics = DockMetrics(DOCK)
        metrics.add_families(CatalogGauges(ctx, max_age_s=0).families)
        watch = tmp / "watch"
        watch.mkdir()
        daemon = DockDaemon(
            ctx, profiles=load_profiles(), watch_roots=[watch], metrics=metrics,
            notifier=Notifier(None), use_udev=False,
        )  # fmt: skip
        thread = threading.Thread(target=daemon.run)
        thread.start()
        try:
            place(camera(tmp / "cam", clips), watch)
            wait_until(lambda: _stored(metrics), 60)
        finally:
            daemon.request_stop()
            thread.join(timeout=60)
        assert _stored(metrics), "the camera was not ingested"
        text = exposition(metrics.registry)
    finally:
        ctx.close()
    prom = tmp / "evidock.prom"
    args = build_parser().parse_args(["verify", "--metrics-textfile", str(prom)])
    args.func(args, Output(json_mode=False, zone=settings.zone, stream=io.StringIO()), settings)
    yield Exported(dock=text, textfile=prom.read_text(), scenario=scenario)


def _stored(metrics: DockMetrics) -> bool:
    done = metrics.registry.get_sample_value(
        "evidock_dock_sessions_total", {"dock": DOCK, "outcome": "complete"}
    )
    return done == 1.0


def _exported_names(text: str) -> set[str]:
    """Sample names a query can use: from the samples and from each declared family (a family
    without samples right now, such as jobs of a kind never queued, still exists)."""
    names = {name for name, _ in parse_exposition(text)}
    for m in re.finditer(r"^# TYPE (\w+) (\w+)$", text, re.MULTILINE):
        name, kind = m.groups()
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def _queried(expr: str) -> set[str]:
    return set(re.findall(r"\bevidock_[a-z0-9_]+\b", expr))


def _dashboard_exprs() -> list[str]:
    doc = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in doc["templating"]["list"] if "definition" in v]
    return exprs


def _alert_exprs() -> list[str]:
    text = (MONITORING / "alerts.yml").read_text()
    return re.findall(r"^\s+expr: (?:>-\n)?((?:.+\n)+?)\s+(?:for|labels):", text, re.MULTILINE)


def test_every_metric_the_dashboard_queries_is_exported(exported: Exported) -> None:
    """Each evidock_* name in a dashboard query is in the dock's or verify's exposition."""
    have = _exported_names(exported.dock) | _exported_names(exported.textfile)
    wanted = {n for e in _dashboard_exprs() for n in _queried(e)}
    assert len(wanted) > 20
    assert sorted(wanted - have) == []


def test_every_metric_the_alert_rules_query_is_exported(exported: Exported) -> None:
    """Each evidock_* name in an alert expression is in the dock's or verify's exposition."""
    have = _exported_names(exported.dock) | _exported_names(exported.textfile)
    exprs = _alert_exprs()
    assert len(exprs) == len(re.findall(r"- alert: ", (MONITORING / "alerts.yml").read_text()))
    wanted = {n for e in exprs for n in _queried(e)}
    assert sorted(wanted - have) == []


def test_no_personal_data_in_any_label(exported: Exported) -> None:
    """Officer names, badges, case numbers, units and file names of the catalog appear nowhere
    in what is exported; labels are the known few, device labels are device serials."""
    for text in (exported.dock, exported.textfile):
        for word in exported.scenario.personal:
            assert word not in text, f"{word!r} is exported"
        samples = parse_exposition(text)
        names = {k for _, labels in samples for k, _ in labels}
        assert names <= LABELS
        values = {k: {v for _, labels in samples for n, v in labels if n == k} for k in names}
        assert values.get("dock", {DOCK}) == {DOCK}
        assert values.get("device", set()) <= set(exported.scenario.serials)
        for v in values.get("result", set()) | values.get("state", set()):
            assert re.fullmatch(r"[a-z_]+", v), v
    dock = parse_exposition(exported.dock)
    assert dock[("evidock_files_ingested_total", (("dock", DOCK), ("result", "stored")))] == 2
    assert ("evidock_device_undocked_seconds", (("device", DOCKED),)) in dock


def test_verify_textfile_reports_the_sweep(exported: Exported) -> None:
    """The textfile holds the sweep's time, objects and failures and the log's state."""
    t = parse_exposition(exported.textfile)
    assert t[("evidock_fixity_objects_checked", ())] == 2
    assert t[("evidock_fixity_failures", ())] == 0
    assert t[("evidock_verify_log_intact", ())] == 1
    assert abs(t[("evidock_fixity_last_sweep_timestamp_seconds", ())] - time.time()) < 300
