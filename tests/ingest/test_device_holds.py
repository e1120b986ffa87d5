"""The holder a docking attributes files to, from the device's holds read as it docks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ingest.pipeline.docking import holder_at
from storage.catalog.session import Catalog

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def test_holder_from_the_docking_holds_is_the_catalog_holder_at_every_edge(
    catalog: Catalog,
) -> None:
    """At each start and end of a hold (and just before and after), including an earlier
    custody added later, the docking's holder is the one ``Transaction.holder`` reads."""
    with catalog.write() as txn:
        for badge in ("A", "B", "C"):
            txn.add_officer(badge=badge, name=badge, unit="", certificate_no="", now=T0)
        dev = txn.add_device(
            serial="S", kind="k", vendor="", model="", profile="", registered=True, now=T0
        )
        txn.assign_device(serial="S", badge="A", start=T0 + 10 * HOUR)
        txn.assign_device(serial="S", badge="B", start=T0 + 20 * HOUR)
        txn.assign_device(serial="S", badge="C", start=T0 + 2 * HOUR, reason="found out later")
    edges = [T0 + h * HOUR for h in (0, 2, 10, 20, 30)]
    instants = sorted({t + d for t in edges for d in (-timedelta(microseconds=1), timedelta(0))})
    with catalog.read() as txn:
        holds = txn.device_holds(dev.id)
        seen = {}
        for at in instants:
            want = txn.holder(dev.id, at)
            got = holder_at(holds, at)
            assert got == want, (at, got, want)
            seen[at] = got.badge if got else None
    assert seen[T0 + 2 * HOUR - timedelta(microseconds=1)] is None
    assert seen[T0 + 2 * HOUR] == "C"
    assert seen[T0 + 10 * HOUR - timedelta(microseconds=1)] == "C"
    assert seen[T0 + 10 * HOUR] == "A"
    assert seen[T0 + 20 * HOUR] == "B"
    assert seen[T0 + 30 * HOUR] == "B"
