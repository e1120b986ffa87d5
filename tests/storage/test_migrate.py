"""``evidock catalog migrate-to``: a dock's SQLite catalog moved, intact and verifiable.

The end-to-end tests run the real CLI as child processes on a catalog built by the real CLI
(ingest of a simulated camera, a case link, a checkpoint); the target is a fresh PostgreSQL
database (or, where the test says so, a SQLite file).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from ingest.dock.status import write_status
from storage.catalog.migrate import CatalogMove, MigrateRefused, catalog_tables, table_counts
from storage.catalog.models import Base, path_digest
from storage.catalog.session import Catalog
from storage.records import Event
from support.pg import fresh_database
from tests.conftest import lay_out_camera
from tests.procs import child_env, init

DOCK = "dock-mig"
CASE = "2026-0012"

Run = subprocess.CompletedProcess[str]


def evidock(env: dict[str, str], *args: str) -> Run:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def ok(p: Run) -> Run:
    assert p.returncode == 0, (p.args, p.stdout[-3000:], p.stderr[-3000:])
    assert "Traceback" not in p.stderr
    return p


def counts(url: str) -> dict[str, int]:
    cat = Catalog(url)
    try:
        with cat.engine.connect() as conn:
            return table_counts(conn)
    finally:
        cat.close()


@pytest.fixture
def pg_target(pg_admin: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (no tables at all)."""
    with fresh_database(pg_admin) as url:
        yield url


@pytest.fixture(scope="module")
def filled_dock(tmp_path_factory: pytest.TempPathFactory, media: dict[str, Path]) -> Path:
    """The data dir of a single dock on SQLite whose catalog was filled through the CLI: an
    officer and a device, four recordings ingested, a case with two items linked, a
    checkpoint. Made once (seven evidock runs); each test gets a copy (``dock``)."""
    base = tmp_path_factory.mktemp("filled-dock")
    camera = lay_out_camera(base / "camera", media)
    home = base / "home"
    env = _env(home)
    init(env)
    ok(evidock(env, "officer", "add", "J1", "--name", "张三", "--unit", "一中队"))
    ok(evidock(env, "device", "add", "BWC-7", "--officer", "J1"))
    ok(evidock(env, "ingest", str(camera), "--device", "BWC-7"))
    ok(evidock(env, "case", "open", CASE, "--type", "penalty", "--procedure", "simple",
               "--handler", "J1"))  # fmt: skip
    ok(evidock(env, "case", "link", CASE, "1", "2", "--stage", "investigation"))
    ok(evidock(env, "checkpoint"))
    return home


@pytest.fixture
def dock(tmp_path: Path, filled_dock: Path) -> dict[str, str]:
    """The child environment of a copy of ``filled_dock``'s data dir, this test's own."""
    home = tmp_path / "home"
    shutil.copytree(filled_dock, home, symlinks=True)
    return _env(home)


def _env(home: Path) -> dict[str, str]:
    return child_env(home, f"sqlite:///{home / 'catalog.db'}", dock=DOCK, EVIDOCK_LANG="en")


def _without(counts: dict[str, int], names: tuple[str, ...]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if k not in names}


def to(env: dict[str, str], url: str) -> dict[str, str]:
    """The same dock (same data dir, store and key) on another catalog."""
    return {**env, "EVIDOCK_CATALOG_URL": url}


def items(env: dict[str, str]) -> list[dict[str, Any]]:
    return list(json.loads(ok(evidock(env, "--json", "items")).stdout))


def case(env: dict[str, str]) -> dict[str, Any]:
    return dict(json.loads(ok(evidock(env, "--json", "case", "show", CASE)).stdout))


# -- the move, end to end ----------------------------------------------------------------------
def test_moved_catalog_verifies_and_keeps_growing(
    dock: dict[str, str], catalog_url: str, tmp_path: Path, media: dict[str, Path]
) -> None:
    """After migrate-to, 'evidock verify' on the target is clean, the items are the same,
    and ingesting more continues the ids (no unique violation) with verify still clean."""
    target = catalog_url  # a fresh PostgreSQL database, or a SQLite file for a backup
    source = dock["EVIDOCK_CATALOG_URL"]
    items_before = items(dock)
    case_before = case(dock)
    before = counts(source)  # after 'case show', whose reading is itself an event (issue 16)
    assert [k["item"] for k in case_before["links"]] == [1, 2]
    p = ok(evidock(dock, "--json", "catalog", "migrate-to", target))
    doc = json.loads(p.stdout)
    assert doc["dry_run"] is False and doc["source_audit"]["ok"] is True
    assert {n: t["rows"] for n, t in doc["copied"]["tables"].items()} == before
    assert doc["verified"] == {**doc["verified"], "ok": True, "differences": []}
    log = doc["source"]["log"]
    assert doc["verified"]["log"] == log and log["events"] == log["size"] > 12
    rec = doc["recorded"]
    assert rec["type"] == "catalog_migrated" and rec["event"] == log["size"]
    assert rec["checkpoint_size"] == log["size"] + 1 and rec["verify_ok"] is True
    if target.startswith("postgresql"):
        seqs = doc["copied"]["sequences"]
        assert seqs["evidence_item"] == 4 and seqs["officer"] == 1 and seqs["checkpoint"] >= 2
    assert any("catalog_url" in step for step in doc["next"])

    # the source did not change; the target holds it all, plus the event and checkpoint
    assert counts(source) == before
    after = counts(target)
    assert after["custody_event"] == before["custody_event"] + 1
    assert after["checkpoint"] == before["checkpoint"] + 1
    log_tables = ("custody_event", "checkpoint", "log_node")
    assert _without(after, log_tables) == _without(before, log_tables)
    moved = to(dock, target)
    assert items(moved) == items_before
    ok(evidock(moved, "verify"))
    assert case(moved) == case_before

    # more evidence after the move: a second camera, new rows in every growing table
    cam2 = tmp_path / "camera2" / "DCIM" / "100MEDIA"
    cam2.mkdir(parents=True)
    shutil.copy2(media["clip"], cam2 / "REC_9001.MP4")
    shutil.copy2(media["wav"], cam2 / "AUD_9002.WAV")
    ok(evidock(moved, "officer", "add", "J2", "--name", "李四"))
    ok(evidock(moved, "device", "add", "BWC-8", "--officer", "J2"))
    ingest = json.loads(
        ok(
            evidock(moved, "--json", "ingest", str(tmp_path / "camera2"), "--device", "BWC-8")
        ).stdout
    )
    assert ingest["summary"]["stored"] == 2 and ingest["session"] == before["dock_session"] + 1
    new_ids = sorted(f["item"] for f in ingest["files"])
    assert new_ids == [5, 6]
    ok(evidock(moved, "case", "link", CASE, "5", "--stage", "investigation"))
    assert [k["item"] for k in case(moved)["links"]] == [1, 2, 5]
    verify = json.loads(ok(evidock(moved, "--json", "verify")).stdout)
    assert verify["ok"] is True and verify["checked"]["items"] == 6
    # the old file is a backup now: its items are still the ones before the move
    assert items(dock) == items_before


@pytest.mark.postgres
def test_non_empty_target_is_refused_and_left_as_it_was(
    dock: dict[str, str], pg_target: str
) -> None:
    """A target that already holds evidock data: exit 2, the reason and what to do, and
    neither catalog changes."""
    ok(evidock(to(dock, pg_target), "init"))  # the target now holds a dock row
    before_target = counts(pg_target)
    before_source = counts(dock["EVIDOCK_CATALOG_URL"])
    p = evidock(dock, "catalog", "migrate-to", pg_target)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "already holds evidock data" in p.stderr and "dock (1 row)" in p.stderr
    assert "hint: Give an empty database" in p.stderr and "Traceback" not in p.stderr
    assert counts(pg_target) == before_target
    assert counts(dock["EVIDOCK_CATALOG_URL"]) == before_source


def test_postgresql_source_is_refused(tmp_path: Path) -> None:
    """Only a dock's SQLite catalog is moved: a configured PostgreSQL catalog exits 2."""
    env = child_env(
        tmp_path / "home",
        "postgresql+psycopg://evidock@127.0.0.1:1/fleet",
        dock=DOCK,
        EVIDOCK_LANG="en",
    )
    p = evidock(env, "catalog", "migrate-to", f"sqlite:///{tmp_path / 'copy.db'}")
    assert p.returncode == 2, p.stderr
    assert "not a SQLite file" in p.stderr and "hint:" in p.stderr
    assert not (tmp_path / "copy.db").exists()


def test_bad_targets_are_refused_before_anything_is_written(dock: dict[str, str]) -> None:
    """The source itself, or a URL that is no PostgreSQL or SQLite database: exit 2."""
    source = dock["EVIDOCK_CATALOG_URL"]
    same = evidock(dock, "catalog", "migrate-to", source)
    assert same.returncode == 2 and "the target is the source" in same.stderr
    mysql = evidock(dock, "catalog", "migrate-to", "mysql://u@db/evidock")
    assert mysql.returncode == 2 and "not a PostgreSQL" in mysql.stderr
    assert "Traceback" not in same.stderr + mysql.stderr


def test_running_dock_is_refused(dock: dict[str, str], tmp_path: Path) -> None:
    """While the dock daemon of the data dir runs (its status file names a live pid), the
    catalog is not moved: exit 2 with how to stop it."""
    home = Path(dock["EVIDOCK_HOME"])
    write_status(home / "run" / f"dock-{DOCK}.json", dock=DOCK, bays=[])  # our pid: alive
    target = tmp_path / "copy.db"
    p = evidock(dock, "catalog", "migrate-to", f"sqlite:///{target}")
    assert p.returncode == 2 and "dock daemon of this data dir runs" in p.stderr, p.stderr
    assert "systemctl stop" in p.stderr and not target.exists()


@pytest.mark.postgres
def test_dry_run_writes_nothing(dock: dict[str, str], pg_target: str) -> None:
    """--dry-run says what would be copied and leaves the target without even a table."""
    p = ok(evidock(dock, "--json", "catalog", "migrate-to", pg_target, "--dry-run"))
    doc = json.loads(p.stdout)
    source = counts(dock["EVIDOCK_CATALOG_URL"])
    assert doc["dry_run"] is True and doc["would_copy"]["tables"] == source
    assert doc["would_copy"]["rows"] == sum(source.values()) and "copied" not in doc
    cat = Catalog(pg_target)
    try:
        with cat.engine.connect() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar()
    finally:
        cat.close()
    assert tables == 0


@pytest.mark.postgres
def test_tampered_source_is_not_moved(dock: dict[str, str], pg_target: str) -> None:
    """One custody event's data edited in the SQLite file: migrate-to reports the failed
    verification (exit 1) and the target holds no evidock row."""
    db = Path(dock["EVIDOCK_HOME"]) / "catalog.db"
    with sqlite3.connect(db) as conn:
        data = conn.execute("SELECT data FROM custody_event WHERE seq = 5").fetchone()[0]
        edited = data[:-1] + ',"note":"edited"}'
        conn.execute("UPDATE custody_event SET data = ? WHERE seq = 5", (edited,))
    conn.close()
    p = evidock(dock, "--json", "catalog", "migrate-to", pg_target)
    assert p.returncode == 1, (p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    assert "does not verify" in doc["refused"] and "copied" not in doc
    assert "event-leaf-mismatch" in {x["code"] for x in doc["source_audit"]["problems"]}
    assert sum(counts(pg_target).values()) == 0
    human = evidock(dock, "catalog", "migrate-to", pg_target)
    assert human.returncode == 1 and "NOT MOVED" in human.stdout
    assert "PROBLEM [event-leaf-mismatch] event #5" in human.stdout


@pytest.mark.postgres
def test_copy_that_fails_half_way_leaves_the_target_empty(
    dock: dict[str, str], pg_target: str
) -> None:
    """A value PostgreSQL refuses (longer than its column) in a late table: exit 1, the
    whole copy rolled back, earlier tables included."""
    db = Path(dock["EVIDOCK_HOME"]) / "catalog.db"
    with sqlite3.connect(db) as conn:  # SQLite does not enforce VARCHAR lengths
        conn.execute("UPDATE evidence_item SET mime_type = ? WHERE id = 4", ("x" * 300,))
    conn.close()
    order = [t.name for t in catalog_tables()]
    assert order.index("evidence_item") > order.index("device")
    p = evidock(dock, "catalog", "migrate-to", pg_target)
    assert p.returncode == 1, (p.stdout, p.stderr)
    assert "[migrate-failed]" in p.stderr and "rolled back" in p.stderr
    assert "Traceback" not in p.stderr
    assert sum(counts(pg_target).values()) == 0


# -- the copy itself (storage.catalog.migrate) -----------------------------------------------------
T0 = datetime(2026, 11, 26, 1, 2, 3, 456789, tzinfo=UTC)


def _odd_values(url: str) -> None:
    """Rows with the values that break naive copies: non-UTF-8 bytes, 64-bit integers,
    floats that are not short decimals, microseconds, NULLs, CJK text, booleans."""
    cat = Catalog.open(url)
    try:
        with cat.write() as txn:
            txn.add_officer(badge="J1", name="张三 ☃", unit="", certificate_no="", now=T0)
            dev = txn.add_device(serial="BWC-1", kind="body-camera", vendor="", model="",
                                 profile="", registered=False, now=T0)  # fmt: skip
            dock = txn.ensure_dock(name="d", host="h", public_key=bytes(range(32)),
                                   key_name="d", now=T0)  # fmt: skip
            session = txn.open_session(dock_id=dock.id, device_id=dev.id, source="/m", now=T0)
        with cat.engine.begin() as conn:
            for i in range(1, 30):
                conn.execute(
                    text(
                        "INSERT INTO evidence_item (id, sha256, size, device_id, officer_id, "
                        "session_id, original_path, original_path_sha256, "
                        "original_path_display, source_mtime_ns, state, acquired_at, "
                        "durable_at, confidentiality, duration_s, gps_lat, gps_lon, flags, "
                        "probe_errors) VALUES (:id, :sha, :size, :dev, NULL, :ses, :path, "
                        ":digest, :disp, :mtime, 'stored', :t, NULL, 'none', :dur, :lat, :lon, "
                        "'', '')"
                    ),
                    {"id": i * 3, "sha": f"{i:064x}", "size": 2**62 + i, "dev": dev.id,
                     "ses": session, "path": b"\xff\x00\xfe/" + bytes([i]),
                     "digest": path_digest(b"\xff\x00\xfe/" + bytes([i])), "disp": "路径/\\xff",
                     "mtime": -(2**63) + i, "t": "2026-11-26 01:02:03.456789",
                     "dur": 0.1 * i, "lat": 1e-300 * i, "lon": -179.99999999999997},
                )  # fmt: skip
            for seq in range(40):
                conn.execute(
                    text(
                        "INSERT INTO custody_event (seq, time, type, item_id, actor, dock, "
                        "data, prev) VALUES (:s, 't', 'acquired', NULL, 'a', 'd', :d, :p)"
                    ),
                    {"s": seq, "d": json.dumps({"n": seq, "ü": "\u2028"}), "p": "0" * 64},
                )
    finally:
        cat.close()


def _all_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    cat = Catalog(url)
    try:
        with cat.engine.connect() as conn:
            return {
                t.name: [
                    tuple(row) for row in conn.execute(select(t).order_by(*t.primary_key.columns))
                ]
                for t in Base.metadata.sorted_tables
            }
    finally:
        cat.close()


def test_every_value_arrives_exactly_and_ids_continue(tmp_path: Path, catalog_url: str) -> None:
    """Byte-exact copy in small batches: equal rows and Python types in every table, aware
    UTC times, and the next id of each table after the copied ones."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _odd_values(source)
    with CatalogMove(source, catalog_url, batch=7) as move:
        move.lock_source()
        result = move.copy()
    assert {t.name: t.rows for t in result.tables}["evidence_item"] == 29
    src, dst = _all_rows(source), _all_rows(catalog_url)
    assert dst == src
    for table, rows in src.items():
        for a, b in zip(rows, dst[table], strict=True):
            assert [type(x) for x in a] == [type(x) for x in b], table
    item = dst["evidence_item"][0]
    assert b"\xff\x00\xfe/\x01" in item and T0 in item
    cat = Catalog(catalog_url)
    try:
        with cat.write() as txn:
            dev = txn.add_device(serial="BWC-2", kind="camera", vendor="", model="",
                                 profile="", registered=True, now=T0)  # fmt: skip
            txn.add_officer(badge="J2", name="x", unit="", certificate_no="", now=T0)
        assert dev.id == 2
    finally:
        cat.close()


def test_discard_empties_the_target_again(tmp_path: Path, catalog_url: str) -> None:
    """What a failed verification calls: every copied row deleted, nothing else left."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _odd_values(source)
    with CatalogMove(source, catalog_url) as move:
        move.lock_source()
        move.copy()
        assert sum(move.target_counts().values()) > 60
        move.discard()
        assert sum(move.target_counts().values()) == 0


def test_source_is_locked_against_writers_during_the_move(tmp_path: Path) -> None:
    """While the move holds the source, another writer cannot commit (it times out)."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _odd_values(source)
    with CatalogMove(source, f"sqlite:///{tmp_path / 'target.db'}") as move:
        move.lock_source()
        writer = sqlite3.connect(tmp_path / "source.db", timeout=0.2)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            writer.execute("BEGIN IMMEDIATE")
        assert writer.execute("SELECT count(*) FROM evidence_item").fetchone() == (29,)
        writer.close()
    writer = sqlite3.connect(tmp_path / "source.db", timeout=0.2)
    writer.execute("BEGIN IMMEDIATE")  # released once the move is over
    writer.rollback()
    writer.close()


def test_copy_of_a_long_log_keeps_memory_flat(tmp_path: Path, catalog_url: str) -> None:
    """20 000 events of ~1 KiB (~20 MiB of rows) copied with batches of 500: the peak of
    Python memory stays a small fraction of the log."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    cat = Catalog.open(source)
    pad = "x" * 1000
    with cat.write() as txn:
        for seq in range(20_000):
            txn.log.insert_event(
                Event(seq=seq, time=f"{seq}", type="acquired", item=None, actor="a",
                      dock="d", data=json.dumps({"pad": pad, "n": seq}), prev="0" * 64)
            )  # fmt: skip
    cat.close()
    with CatalogMove(source, catalog_url, batch=500) as move:
        move.lock_source()
        tracemalloc.start()
        try:
            result = move.copy()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert {t.name: t.rows for t in result.tables}["custody_event"] == 20_000
    assert peak < 6 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_copy_into_a_target_that_fills_meanwhile_is_refused(tmp_path: Path) -> None:
    """The emptiness is checked again inside the copy transaction."""
    source = f"sqlite:///{tmp_path / 'source.db'}"
    _odd_values(source)
    target = f"sqlite:///{tmp_path / 'target.db'}"
    with CatalogMove(source, target) as move:
        assert move.target_state().empty
        _odd_values(target)  # another process filled it after the first look
        move.lock_source()
        with pytest.raises(MigrateRefused, match="already holds evidock data"):
            move.copy()
    assert counts(target)["evidence_item"] == 29
