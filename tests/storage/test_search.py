"""The console's item search (``storage.catalog.search``) on SQLite and PostgreSQL: each
filter, flags read through their indexes, newest recording first, pages cut by offset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import insert

from storage.catalog.models import OffloadCheckRow
from storage.catalog.search import CLOCK, DAMAGED, LATE, ItemQuery, search_items
from storage.catalog.session import Catalog
from tests.storage.test_catalog import T0, _device_and_session, _new_item

FLAGS = {1: ("media_damaged",), 2: ("officer_mismatch",), 3: ("empty", "media_unreadable")}
LATE_ITEMS, CLOCK_ITEMS, OFFICER_ITEMS = {2, 4}, {5}, {1, 2}


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """Five items an hour apart on device S1 (item n recorded at T0 + n h), flagged and
    measured as FLAGS, LATE_ITEMS and CLOCK_ITEMS say; officer J1 on OFFICER_ITEMS."""
    cat = Catalog.open(catalog_url)
    dev, session = _device_and_session(cat)
    with cat.write() as txn:
        txn.add_officer(badge="J1", name="李娜", unit="", certificate_no="", now=T0)
        for n in range(1, 6):
            new = _new_item(dev, session, f"DCIM/{n}.MP4".encode(), f"{n:064x}")
            facts = replace(new.facts, flags=FLAGS.get(n, ()),
                            recorded_start=T0 + timedelta(hours=n))  # fmt: skip
            item = txn.insert_item(replace(new, facts=facts), state="stored", durable_at=T0)
            assert item.id == n
            if n in OFFICER_ITEMS:
                txn.set_item_officer(n, "J1")
            txn.s.execute(insert(OffloadCheckRow).values(
                item_id=n, reference_source="recorded", durable_at=T0, checked_at=T0,
                clock_problem="clock_ahead" if n in CLOCK_ITEMS else "",
                late_flag_seq=100 + n if n in LATE_ITEMS else None,
            ))  # fmt: skip
    yield cat
    cat.close()


def _ids(catalog: Catalog, **kw: object) -> tuple[list[int], bool]:
    with catalog.read() as txn:
        found = search_items(txn, ItemQuery(**kw))  # type: ignore[arg-type]
    return [h.id for h in found.hits], found.more


def test_each_filter_newest_first(catalog: Catalog) -> None:
    assert _ids(catalog) == ([5, 4, 3, 2, 1], False)
    assert _ids(catalog, flags=frozenset({DAMAGED})) == ([3, 1], False)
    assert _ids(catalog, flags=frozenset({LATE})) == ([4, 2], False)
    assert _ids(catalog, flags=frozenset({CLOCK})) == ([5], False)
    assert _ids(catalog, flags=frozenset({LATE, DAMAGED})) == ([], False)
    assert _ids(catalog, officer="J1") == ([2, 1], False)
    assert _ids(catalog, officer="J1", since=T0 + timedelta(hours=2)) == ([2], False)
    assert _ids(catalog, device="S1", until=T0 + timedelta(hours=3)) == ([2, 1], False)
    assert _ids(catalog, device="nope") == ([], False)
    assert _ids(catalog, officer="nope") == ([], False)


def test_pages_are_cut_in_order(catalog: Catalog) -> None:
    assert _ids(catalog, limit=2) == ([5, 4], True)
    assert _ids(catalog, limit=2, offset=2) == ([3, 2], True)
    assert _ids(catalog, limit=2, offset=4) == ([1], False)
    assert _ids(catalog, flags=frozenset({DAMAGED}), limit=1, offset=1) == ([1], False)
    with catalog.read() as txn:
        [hit] = search_items(txn, ItemQuery(flags=frozenset({LATE}), limit=1)).hits
    assert (hit.id, hit.late, hit.officer_badge, hit.device_serial) == (4, True, None, "S1")
