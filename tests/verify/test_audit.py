"""``evidock verify``: every kind of tampering is caught, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.context import LOG_ORIGIN, Context
from ingest.pipeline.run import ingest_device
from storage.records import Event
from tests.conftest import LATER
from tests.verify.tamper import (
    Cli,
    Sql,
    audit,
    codes,
    events,
    flip_byte,
    item_sha,
    only,
    rewrite_log,
    truncate_tail,
    write_event,
)
from verify.audit.replay import fast_leaf
from verify.log.events import EventType, encode_data, event_leaf
from verify.log.merkle import root
from verify.log.note import Checkpoint, format_checkpoint, sign_note
from verify.log.signing import generate_private_key
from verify.problems import Problems

LOG_CODES_AFTER_EDIT = {"event-leaf-mismatch", "chain-broken", "checkpoint-root-mismatch"}


def test_clean_catalog_verifies_with_exit_0(ingested: Context, cli: Cli) -> None:
    """An untouched catalog passes every check and exits 0."""
    rc, out, _ = cli("--json", "verify")
    doc = json.loads(out)
    assert (rc, doc["ok"], doc["problems"]) == (0, True, [])
    assert doc["checked"]["items"] == 4 and doc["checked"]["objects_rehashed"] == 4
    assert doc["checked"]["checkpoint_files"] == 1 and doc["checked"]["checkpoint_rows"] == 1


def test_verify_records_a_fixity_event_per_item_then_signs_a_checkpoint(
    ingested: Context, cli: Cli
) -> None:
    """After a clean sweep each item gets a fixity_checked event and the new head is signed."""
    rc, out, _ = cli("verify")
    assert rc == 0 and "verify: OK" in out
    fixity = [e for e in events(ingested) if e.type == "fixity_checked"]
    assert sorted(e.item for e in fixity if e.item is not None) == [1, 2, 3, 4]
    with ingested.catalog.read() as txn:
        assert txn.log.head().size == 17
        assert max(cp.size for cp in txn.log.checkpoints()) == 17
    assert audit(ingested).ok  # the new events verify as well


def test_changed_byte_in_a_stored_object_is_reported_with_its_item(ingested: Context) -> None:
    """One flipped byte: the item is named with the expected and the found hash."""
    sha = item_sha(ingested, 2)
    flip_byte(ingested, sha)
    (p,) = audit(ingested).problems
    assert (p.code, p.item) == ("object-corrupt", 2)
    assert sha in p.expected and sha not in p.found


def test_missing_stored_object_is_reported(ingested: Context) -> None:
    """A deleted object file is reported by item, never recreated."""
    path = ingested.store.path_for(item_sha(ingested, 3))
    path.unlink()
    (p,) = audit(ingested).problems
    assert (p.code, p.item, p.found) == ("object-missing", 3, "no file")
    assert not path.exists()


def test_edited_past_event_is_detected(ingested: Context, sql: Sql) -> None:
    """Changing the size recorded in event #5 breaks its leaf, the chain and the checkpoints."""
    ev = events(ingested, 5, 6)[0]
    data = json.loads(ev.data) | {"size": 1}
    write_event(sql, dataclasses.replace(ev, data=encode_data(data)))
    report = audit(ingested)
    assert codes(report) >= LOG_CODES_AFTER_EDIT
    assert only(report, "event-leaf-mismatch")[0].seq == 5
    assert only(report, "chain-broken")[0].seq == 6
    assert not report.log_intact


def test_deleted_past_event_is_detected(ingested: Context, sql: Sql) -> None:
    """A gap in the sequence numbers is reported at the missing event."""
    sql("DELETE FROM custody_event WHERE seq = 4")
    report = audit(ingested)
    (missing,) = only(report, "event-missing")
    assert missing.seq == 4
    assert "checkpoint-root-mismatch" in codes(report)


def test_inserted_past_event_is_detected(ingested: Context, sql: Sql) -> None:
    """An event slipped in at #4 (later ones renumbered, head bumped) is caught at #4."""
    sql("UPDATE custody_event SET seq = seq + 1000 WHERE seq >= 4")
    sql("UPDATE custody_event SET seq = seq - 999 WHERE seq >= 1000")
    prev = event_leaf(events(ingested, 3, 4)[0]).hex()
    forged = Event(
        seq=4, time="2026-11-26T02:00:00.000000Z", type=EventType.VIEWED, item=2,
        actor="user:mallory", dock="dock-test", data=encode_data({}), prev=prev,
    )  # fmt: skip
    write_event(sql, forged, insert=True)
    sql("UPDATE log_head SET size = size + 1")
    report = audit(ingested)
    run = only(report, "event-leaf-mismatch")[0]
    assert (run.seq, run.last_seq) == (4, 12)  # one run, not nine problems
    assert {"chain-broken", "log-node-missing"} <= codes(report)


def test_reordered_events_are_detected(ingested: Context, sql: Sql) -> None:
    """Swapping the contents of events #4 and #7 is reported at both places."""
    a, b = events(ingested, 4, 5)[0], events(ingested, 7, 8)[0]
    write_event(sql, dataclasses.replace(b, seq=4))
    write_event(sql, dataclasses.replace(a, seq=7))
    report = audit(ingested)
    assert [p.seq for p in only(report, "event-leaf-mismatch")] == [4, 7]


def test_truncated_log_tail_is_caught_by_the_checkpoint_file(ingested: Context, sql: Sql) -> None:
    """Deleting the last events and rewriting the head to match still leaves the signed
    write-once checkpoint file of the longer log, which is named as such."""
    truncate_tail(ingested, sql, keep=7)
    report = audit(ingested)
    (beyond,) = only(report, "checkpoint-beyond-log")
    assert "000000000013.dock-test.note" in beyond.subject
    assert "7 events" in beyond.found


def test_catalog_replaced_by_an_older_copy_is_detected(
    ingested: Context, sql: Sql, camera: Path
) -> None:
    """A catalog restored from before the last docking: its checkpoint file and its object
    outlive the restore. (On PostgreSQL the restore is emulated by cutting the tail.)"""
    db = Path(str(ingested.catalog.engine.url.database))
    if ingested.catalog.is_sqlite:
        ingested.catalog.engine.dispose()  # the backup is taken with evidock stopped
        with contextlib.closing(sqlite3.connect(db)) as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy2(db, db.with_name("old.db"))
    (camera / "DCIM" / "100MEDIA" / LATER).write_bytes(os.urandom(8192))
    ingest_device(ingested, camera, serial="CAM-1", officer=None, actor="user:test")
    new_sha = item_sha(ingested, 5)
    if ingested.catalog.is_sqlite:
        ingested.catalog.engine.dispose()  # and so is the restore
        shutil.copy2(db.with_name("old.db"), db)
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:  # the restore loses the log's tail and the object's row (the item row, which
        # other tables point at, may stay: it is not what is checked here)
        truncate_tail(ingested, sql, keep=13)
        sql("DELETE FROM stored_object WHERE sha256 = :s", s=new_sha)
    report = audit(ingested)
    assert {"checkpoint-beyond-log", "object-not-in-catalog"} <= codes(report)
    assert new_sha in only(report, "object-not-in-catalog")[0].subject


def test_checkpoint_file_signed_by_another_key_is_a_forgery(ingested: Context) -> None:
    """A checkpoint file of the right tree, signed by a key that is not the dock's."""
    with ingested.catalog.read() as txn:
        tree_root = root(13, txn.log.read_node)
    body = format_checkpoint(Checkpoint(origin=LOG_ORIGIN, size=13, root=tree_root))
    path = ingested.store.root / "checkpoints" / "000000000013.dock-test.note"
    os.chmod(path, 0o644)
    path.write_text(sign_note(body, "dock-test", generate_private_key()), encoding="utf-8")
    report = audit(ingested)
    assert "checkpoint-unknown-key" in codes(report)
    assert "000000000013.dock-test.note" in only(report, "checkpoint-unknown-key")[0].subject


@pytest.mark.parametrize("where", ["root column", "signed note"])
def test_checkpoint_row_with_an_edited_root_is_detected(
    ingested: Context, sql: Sql, where: str
) -> None:
    """Editing the root of a checkpoint row: its column no longer matches its signed note,
    and a root edited inside the note breaks the signature."""
    forged = "ab" * 32
    if where == "root column":
        sql("UPDATE checkpoint SET root = :r", r=forged)
        expected = "checkpoint-row-mismatch"
    else:
        ((note,),) = sql("SELECT note FROM checkpoint")
        lines = note.split("\n")
        lines[2] = base64.b64encode(bytes.fromhex(forged)).decode("ascii")
        sql("UPDATE checkpoint SET note = :n", n="\n".join(lines))
        expected = "checkpoint-bad-signature"
    assert expected in codes(audit(ingested))


def test_item_whose_sha256_was_edited_in_the_catalog_is_caught(ingested: Context, sql: Sql) -> None:
    """The custody events still carry the original hash: the catalog row is the liar."""
    original = item_sha(ingested, 2)
    sql("UPDATE evidence_item SET sha256 = :s WHERE id = 2", s="f" * 64)
    report = audit(ingested)
    mismatches = only(report, "item-event-mismatch")
    assert {p.item for p in mismatches} == {2} and len(mismatches) == 3
    assert original in mismatches[0].expected
    assert {"object-without-item", "item-object-missing"} <= codes(report)


def test_log_rewritten_with_a_recomputed_chain_and_tree_is_caught_by_the_checkpoints(
    ingested: Context, sql: Sql
) -> None:
    """A careful rewrite (chain, stored tree and head all recomputed) leaves only the signed
    checkpoints to tell, and they do."""

    def edit(ev: Event) -> Event:
        if ev.seq != 5:
            return ev
        return dataclasses.replace(ev, actor="user:mallory")

    rewrite_log(ingested, sql, edit)
    report = audit(ingested)
    assert codes(report) == {"checkpoint-root-mismatch"}
    assert len(report.problems) == 2  # the catalog row and the write-once file


def test_edited_stored_tree_node_is_detected(ingested: Context, sql: Sql) -> None:
    """A stored subtree hash that is not the hash of its children (proofs would fail)."""
    sql("UPDATE log_node SET hash = :h WHERE level = 1 AND idx = 2", h=b"\x00" * 32)
    report = audit(ingested)
    assert "stored tree node (level 1, index 2)" in [
        p.subject for p in only(report, "log-node-mismatch")
    ]


def test_quick_skips_the_rehash_but_still_finds_missing_objects(ingested: Context) -> None:
    """--quick: a same-size corruption goes unseen, a missing file does not."""
    flip_byte(ingested, item_sha(ingested, 1))
    ingested.store.path_for(item_sha(ingested, 4)).unlink()
    report = audit(ingested, quick=True)
    assert codes(report) == {"object-missing"}
    assert report.fixity == () and report.checked.objects_rehashed == 0


def test_verify_item_rehashes_only_that_items_object(ingested: Context) -> None:
    """--item 1 checks item 1 (and the whole log); a corrupt item 2 is not its business."""
    flip_byte(ingested, item_sha(ingested, 2))
    assert audit(ingested, item=1).ok
    (p,) = audit(ingested, item=2).problems
    assert (p.code, p.item) == ("object-corrupt", 2)


def test_failing_verify_exits_1_prints_every_problem_and_records_nothing(
    ingested: Context, sql: Sql, cli: Cli
) -> None:
    """Two unrelated problems are both reported; nothing is appended to a broken log."""
    flip_byte(ingested, item_sha(ingested, 3))
    sql("UPDATE custody_event SET actor = 'user:mallory' WHERE seq = 2")
    rc, out, _ = cli("verify", "--json")
    doc = json.loads(out)
    assert rc == 1 and doc["ok"] is False
    found = {(p["code"], p["item"]) for p in doc["problems"]}
    assert {("object-corrupt", 3), ("event-leaf-mismatch", 1)} <= found
    assert all(p["expected"] and p["found"] and p["hint"] for p in doc["problems"])
    assert doc["recorded"] == {"fixity_events": 0, "checkpoint_size": None}
    with ingested.catalog.read() as txn:
        assert txn.log.head().size == 13


def test_failed_object_is_recorded_as_fixity_failed(ingested: Context, cli: Cli) -> None:
    """With an intact log, a corrupt object gets a fixity_failed event carrying what was found."""
    flip_byte(ingested, item_sha(ingested, 4))
    rc, out, _ = cli("verify")
    assert rc == 1 and "PROBLEM [object-corrupt] item #4" in out
    failed = [e for e in events(ingested) if e.type == "fixity_failed"]
    assert [e.item for e in failed] == [4]
    assert json.loads(failed[0].data)["reason"] == "mismatch"


def test_dock_key_replaced_in_the_catalog_is_reported(
    ingested: Context, sql: Sql, cli: Cli
) -> None:
    """The catalog's copy of this dock's key must be the key file's: a swap is an integrity
    failure (exit 1), not a usage error."""
    sql("UPDATE dock SET public_key = :k WHERE name = 'dock-test'", k=b"\x01" * 32)
    rc, out, _ = cli("verify", "--json")
    assert rc == 1
    assert "dock-key-mismatch" in {p["code"] for p in json.loads(out)["problems"]}


def test_audit_reads_one_snapshot_while_events_are_appended(ingested: Context) -> None:
    """Events appended during an audit are not half-seen (PostgreSQL needs REPEATABLE READ)."""
    with ingested.catalog.read() as txn:
        txn.pin_snapshot()
        before = txn.log.event_count()
        with ingested.catalog.write() as w:
            ingested.custody.append(w, type=EventType.VIEWED, actor="user:test", item=1, data={})
        assert txn.log.event_count() == before
        assert txn.log.events_outside(before) == []


def test_problems_of_consecutive_events_are_reported_as_one_run() -> None:
    """Runs keep a shifted log readable; other codes and gaps start new problems."""
    problems = Problems()
    for seq in (3, 4, 5, 9):
        problems.add_event(
            "event-missing", seq, what="is missing", expected="e", found="f", item=None
        )
        problems.add_event("chain-broken", seq, what="x", expected="e", found="f", item=None)
    listed = [(p.code, p.seq, p.last_seq) for p in problems.listed()]
    assert listed == [
        ("event-missing", 3, 5),
        ("chain-broken", 3, 5),
        ("event-missing", 9, 9),
        ("chain-broken", 9, 9),
    ]


def test_problems_beyond_the_limit_are_counted_not_listed() -> None:
    """A flood of one code is capped, and the rest is still counted."""
    problems = Problems(limit_per_code=2)
    for seq in range(0, 10, 2):
        problems.add_event("event-missing", seq, what="m", expected="e", found="f", item=None)
    listed = problems.listed()
    assert len(listed) == 3 and listed[-1].count == 3


_text = st.text(st.characters(codec="utf-8"), max_size=20)
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(-1e15, 1e15, allow_nan=False)
    | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


@given(
    data=st.dictionaries(_text, _json, max_size=6),
    actor=_text,
    item=st.none() | st.integers(0, 2**40),
)
def test_fast_leaf_is_the_canonical_leaf_of_every_event_custody_log_writes(
    data: dict[str, object], actor: str, item: int | None
) -> None:
    """The replay's shortcut gives RFC 8785's answer for canonical data (so it stays fast)."""
    ev = Event(
        seq=7, time="2026-11-26T01:30:00.000000Z", type=EventType.ACQUIRED, item=item,
        actor=actor, dock="dock-01", data=encode_data(data), prev="0" * 64,
    )  # fmt: skip
    assert fast_leaf(ev) == event_leaf(ev)


def test_a_release_mark_without_an_s3_copy_does_not_switch_off_the_local_check(
    ingested: Context, sql: Sql
) -> None:
    """A 'released' mark written into the catalog, with no S3 copy behind it, is not trusted:
    the local file is still checked, and its absence reported."""
    (sha,) = sql("SELECT sha256 FROM stored_object WHERE backend = 'local' LIMIT 1")[0]
    sql("UPDATE stored_object SET released_at = created_at WHERE sha256 = :s", s=sha)
    path = ingested.store.path_for(sha)
    path.chmod(0o644)
    path.unlink()
    report = audit(ingested)
    assert any(p.code == "object-missing" and sha in p.subject for p in report.problems)
