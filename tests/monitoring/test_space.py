"""Free space of the store and the catalog as gauges, with the threshold of one full camera
that the alert EvidockStoreNearlyFull compares them to (issue 18)."""

from __future__ import annotations

import dataclasses
import os
from functools import partial
from pathlib import Path

from ingest.context import Context
from ingest.metrics.prometheus import DockMetrics, exposition, parse_exposition
from ingest.metrics.space import space_families
from tests.conftest import make_settings


def _gauges(metrics: DockMetrics) -> dict[str, float]:
    return {name: v for (name, labels), v in parse_exposition(exposition(metrics.registry)).items()
            if name.startswith(("evidock_store_free", "evidock_catalog_free"))
            and labels == (("dock", "dock-test"),)}  # fmt: skip


def test_the_dock_exports_the_free_space_of_its_store_and_catalog(ctx: Context) -> None:
    """The gauges are the file systems' free bytes at scrape time; the threshold is
    [dock] alert_free_gib (64 GiB unless configured)."""
    metrics = DockMetrics("dock-test")
    metrics.add_families(partial(space_families, ctx.settings))
    got = _gauges(metrics)
    st = os.statvfs(ctx.settings.store_dir)
    assert abs(got["evidock_store_free_bytes"] - st.f_bavail * st.f_frsize) < 64 << 20
    assert got["evidock_store_free_alert_bytes"] == 64 << 30
    if ctx.catalog.is_sqlite:
        assert got["evidock_catalog_free_bytes"] > 0
    else:  # a database server's disk is its own exporter's
        assert "evidock_catalog_free_bytes" not in got


def test_the_threshold_is_configured_and_a_vanished_store_has_no_sample(tmp_path: Path) -> None:
    """[dock] alert_free_gib sets the threshold gauge; a store path that cannot be asked gives
    no sample rather than a false zero."""
    settings = make_settings(tmp_path / "nowhere", f"sqlite:///{tmp_path}/nowhere/catalog.db")
    settings = dataclasses.replace(
        settings, dock=dataclasses.replace(settings.dock, alert_free_gib=128)
    )
    metrics = DockMetrics("dock-test")
    metrics.add_families(partial(space_families, settings))
    assert _gauges(metrics) == {"evidock_store_free_alert_bytes": float(128 << 30)}
