"""Catalog behaviour on both SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from storage.catalog.engine import current_revision, head_revision
from storage.catalog.models import Base
from storage.catalog.session import Catalog
from storage.errors import AlreadyExists, CatalogUnavailable, NotFound
from storage.records import MediaFacts, NewItem, StoredObject

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    cat = Catalog.open(catalog_url)
    yield cat
    cat.close()


def _new_item(device_id: int, session_id: int, path: bytes, sha: str) -> NewItem:
    return NewItem(
        sha256=sha,
        size=10,
        device_id=device_id,
        officer_id=None,
        session_id=session_id,
        original_path=path,
        original_path_display=path.decode("utf-8", "backslashreplace"),
        source_mtime_ns=1,
        acquired_at=T0,
        facts=MediaFacts(flags=("media_unreadable",), recorded_start=T0),
    )


def _device_and_session(catalog: Catalog) -> tuple[int, int]:
    with catalog.write() as txn:
        dev = txn.add_device(
            serial="S1", kind="body-camera", vendor="", model="", profile="", registered=True,
            now=T0,
        )  # fmt: skip
        dock = txn.ensure_dock(name="d1", host="h", public_key=b"k" * 32, key_name="d1", now=T0)
        session = txn.open_session(dock_id=dock.id, device_id=dev.id, source="/x", now=T0)
    return dev.id, session


def test_migrations_reach_head_and_match_the_models(catalog: Catalog) -> None:
    """The migrated schema is the one the ORM models describe, with nothing missing."""
    assert current_revision(catalog.engine) == head_revision()
    with catalog.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_opening_twice_is_idempotent(catalog_url: str) -> None:
    """A second open migrates nothing and keeps the data."""
    a = Catalog.open(catalog_url)
    with a.write() as txn:
        txn.add_officer(badge="B1", name="N", unit="", certificate_no="", now=T0)
    a.close()
    b = Catalog.open(catalog_url)
    with b.read() as txn:
        assert [o.badge for o in txn.officers()] == ["B1"]
    b.close()


def test_duplicate_badge_is_refused_and_transaction_stays_usable(catalog: Catalog) -> None:
    """A duplicate officer raises AlreadyExists without poisoning the rest of the transaction."""
    with catalog.write() as txn:
        txn.add_officer(badge="B1", name="N", unit="", certificate_no="", now=T0)
        with pytest.raises(AlreadyExists):
            txn.add_officer(badge="B1", name="M", unit="", certificate_no="", now=T0)
        txn.add_officer(badge="B2", name="M", unit="", certificate_no="", now=T0)
    with catalog.read() as txn:
        assert [o.badge for o in txn.officers()] == ["B1", "B2"]


def test_device_holder_follows_assignment_history(catalog: Catalog) -> None:
    """Items are attributed to whoever held the device at the time; history is kept."""
    with catalog.write() as txn:
        txn.add_officer(badge="A", name="A", unit="", certificate_no="", now=T0)
        txn.add_officer(badge="B", name="B", unit="", certificate_no="", now=T0)
        dev = txn.add_device(
            serial="S", kind="k", vendor="", model="", profile="", registered=True, now=T0
        )
        txn.assign_device(serial="S", badge="A", start=T0)
        txn.assign_device(serial="S", badge="B", start=T0 + timedelta(days=2))
    with catalog.read() as txn:
        holder_a = txn.holder(dev.id, T0 + timedelta(days=1))
        holder_b = txn.holder(dev.id, T0 + timedelta(days=3))
        assert holder_a is not None and holder_a.badge == "A"
        assert holder_b is not None and holder_b.badge == "B"
        assert txn.holder(dev.id, T0 - timedelta(days=1)) is None
        assert txn.device("S").officer_badge == "B"


def test_same_file_and_hash_cannot_be_filed_twice(catalog: Catalog) -> None:
    """(device, original path, sha256) is unique: a racing second ingest cannot duplicate."""
    dev, session = _device_and_session(catalog)
    raw = b"DCIM/\xff\xfeclip.mp4"
    with catalog.write() as txn:
        first = txn.insert_item(_new_item(dev, session, raw, "a" * 64), state="stored",
                                durable_at=T0)  # fmt: skip
    with catalog.write() as txn:
        with pytest.raises(AlreadyExists):
            txn.insert_item(_new_item(dev, session, raw, "a" * 64), state="stored", durable_at=T0)
        txn.insert_item(_new_item(dev, session, raw, "b" * 64), state="stored", durable_at=T0)
    with catalog.read() as txn:
        items = txn.items_at_path(dev, raw)
    assert sorted(i.sha256[0] for i in items) == ["a", "b"]
    assert items[0].original_path == raw  # bytes kept exactly
    assert first.facts.flags == ("media_unreadable",)
    assert first.facts.recorded_start == T0  # aware UTC round trip


def test_missing_records_say_how_to_fix(catalog: Catalog) -> None:
    """NotFound carries a hint naming the command that registers the record."""
    with catalog.read() as txn, pytest.raises(NotFound) as err:
        txn.officer("nobody")
    assert "evidock officer add" in err.value.hint


def test_sqlite_catalog_is_durable_and_serialised(tmp_path: Path) -> None:
    """SQLite runs in WAL with synchronous=FULL, foreign keys on and a busy timeout."""
    cat = Catalog.open(f"sqlite:///{tmp_path}/c.db")
    with cat.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 60000
    cat.close()


def test_catalog_in_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A SQLite path whose folder does not exist tells the operator to run init."""
    with pytest.raises(CatalogUnavailable) as err:
        Catalog.open(f"sqlite:///{tmp_path}/nope/c.db")
    assert "evidock init" in err.value.hint


def test_two_writers_filing_the_same_bytes_at_once_share_one_stored_object(
    catalog: Catalog,
) -> None:
    """Two docks file identical bytes concurrently: the second waits, then uses the first's
    row (PostgreSQL lets both transactions run; SQLite lets one writer in at a time)."""
    obj = StoredObject(backend="local", sha256="ab" * 32, key="sha256/ab/ab/" + "ab" * 32,
                       size=10, version_id=None, created_at=T0)  # fmt: skip
    second: list[StoredObject] = []
    with catalog.write() as txn:
        first = txn.record_object(obj)
        other = threading.Thread(target=lambda: second.append(_record(catalog, obj)))
        other.start()
        other.join(0.5)  # it blocks on our uncommitted row (or on the write lock)
        assert other.is_alive()
    other.join(30)
    assert second == [first]
    with catalog.read() as txn:
        assert len(txn.stored_objects("ab" * 32)) == 1


def _record(catalog: Catalog, obj: StoredObject) -> StoredObject:
    with catalog.write() as txn:
        return txn.record_object(obj)
