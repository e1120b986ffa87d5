"""Catalog behaviour on both SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, text

from storage.catalog.engine import _alembic_config, current_revision, head_revision, make_engine
from storage.catalog.models import Base
from storage.catalog.session import Catalog
from storage.errors import AlreadyExists, CatalogRefused, CatalogUnavailable, NotFound
from storage.records import MediaFacts, NewItem, StoredObject
from support.pg import fresh_database

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


def test_a_path_longer_than_an_index_entry_can_hold_is_filed_found_and_kept_unique(
    catalog: Catalog,
) -> None:
    """8 KB of random path bytes (PostgreSQL's btree holds about 2.7 KB an entry and cannot
    compress them): filed, found by its exact path only, and refused a second time."""
    dev, session = _device_and_session(catalog)
    pick = random.Random(16).randrange
    long = bytes(pick(0x80, 0x100) for _ in range(8192))  # not UTF-8, no NUL: a name's bytes
    neighbour = long[:-1] + bytes([long[-1] ^ 1])
    with catalog.write() as txn:
        txn.insert_item(_new_item(dev, session, long, "a" * 64), state="stored", durable_at=T0)
        txn.insert_item(_new_item(dev, session, neighbour, "a" * 64), state="stored",
                        durable_at=T0)  # fmt: skip
    with catalog.write() as txn, pytest.raises(AlreadyExists):
        txn.insert_item(_new_item(dev, session, long, "a" * 64), state="stored", durable_at=T0)
    with catalog.read() as txn:
        [item] = txn.items_at_path(dev, long)
        assert item.original_path == long
        assert [i.original_path for i in txn.items_at_path(dev, neighbour)] == [neighbour]
        assert txn.items_at_path(dev, long[:-1]) == []
        # many paths at once (the pipeline reads ahead): the same answer for each
        at = txn.items_at_paths(dev, [long, neighbour, long[:-1]])
        assert at == {p: txn.items_at_path(dev, p) for p in (long, neighbour, long[:-1])}
        assert [len(at[p]) for p in (long, neighbour, long[:-1])] == [1, 1, 0]


def _catalog_at(url: str, revision: str) -> Engine:
    engine = make_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return engine


def test_the_path_digest_migration_fills_every_item_and_keeps_what_points_at_them(
    catalog_url: str,
) -> None:
    """0016 on a catalog of one batch and one item more: every item gets its path's digest,
    the (device, path, sha256) rule holds on the digest, a derivative still points at its
    item, and SQLite's foreign keys are checked and on again after the table was rebuilt."""
    batch = ScriptDirectory.from_config(_alembic_config()).get_revision("0016").module.BATCH
    paths = [b"DCIM/\xff\xfeclip.mp4"] + [f"DCIM/{i:05d}.MP4".encode() for i in range(batch)]
    naive = T0.replace(tzinfo=None)
    engine = _catalog_at(catalog_url, "0015")
    try:  # a fresh catalog: every first row's id is 1, the items' ids follow ``paths``
        with engine.begin() as conn:
            t = MetaData()
            t.reflect(conn, only=["device", "dock", "dock_session", "evidence_item",
                                  "derived_media"])  # fmt: skip
            conn.execute(t.tables["device"].insert(), {
                "serial": "S1", "kind": "k", "vendor": "", "model": "", "profile": "",
                "registered": True, "created_at": naive,
            })  # fmt: skip
            conn.execute(t.tables["dock"].insert(), {
                "name": "d1", "host": "h", "public_key": b"k" * 32, "key_name": "d1",
                "created_at": naive,
            })  # fmt: skip
            conn.execute(t.tables["dock_session"].insert(), {
                "dock_id": 1, "device_id": 1, "source": "/x", "started_at": naive,
            })  # fmt: skip
            conn.execute(t.tables["evidence_item"].insert(), [
                {"sha256": "a" * 64, "size": 10, "device_id": 1, "session_id": 1,
                 "original_path": p, "original_path_display": p.decode("utf-8", "replace"),
                 "source_mtime_ns": 1, "state": "stored", "acquired_at": naive,
                 "confidentiality": "none", "flags": "", "probe_errors": ""}
                for p in paths
            ])  # fmt: skip
            conn.execute(t.tables["derived_media"].insert(), {
                "item_id": 1, "kind": "thumbnail", "sha256": "d" * 64, "size": 1, "params": "",
                "created_at": naive,
            })  # fmt: skip
    finally:
        engine.dispose()
    catalog = Catalog.open(catalog_url)
    try:
        with catalog.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT original_path, original_path_sha256 FROM evidence_item")
            ).all()
            assert len(rows) == len(paths)
            assert all(bytes(d) == hashlib.sha256(bytes(p)).digest() for p, d in rows)
            assert conn.execute(text("SELECT item_id FROM derived_media")).all() == [(1,)]
            if catalog_url.startswith("sqlite"):
                assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        with catalog.write() as txn:
            with pytest.raises(AlreadyExists):
                txn.insert_item(_new_item(1, 1, paths[0], "a" * 64), state="stored",
                                durable_at=T0)  # fmt: skip
            txn.insert_item(_new_item(1, 1, paths[0], "b" * 64), state="stored", durable_at=T0)
        with catalog.read() as txn:
            found = txn.items_at_path(1, paths[0])
        assert sorted((i.sha256[0], i.id == 1) for i in found) == [("a", True), ("b", False)]
    finally:
        catalog.close()


@pytest.mark.postgres
def test_a_write_the_database_refuses_for_good_is_not_called_unavailable(pg_admin: str) -> None:
    """An index entry beyond PostgreSQL's btree limit (40,000 characters of random flags in
    ix_item_flags): CatalogRefused, which nobody waits out, not CatalogUnavailable."""
    with fresh_database(pg_admin) as url:
        catalog = Catalog.open(url)
        try:
            dev, session = _device_and_session(catalog)
            flag = random.Random(54).randbytes(20000).hex()
            new = _new_item(dev, session, b"DCIM/A.MP4", "a" * 64)
            big = replace(new, facts=MediaFacts(flags=(flag,)))
            with pytest.raises(CatalogRefused) as err, catalog.write() as txn:
                txn.insert_item(big, state="stored", durable_at=T0)
            assert err.value.code == "catalog-refused"
            assert not isinstance(err.value, CatalogUnavailable)
            with catalog.read() as txn:
                assert txn.items_at_path(dev, b"DCIM/A.MP4") == []
        finally:
            catalog.close()


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
