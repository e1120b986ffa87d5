"""A catalog written before the log held every compliance fact gets them as facts_recorded
events once (issue 14): it still verifies clean, and later edits of its rows are caught."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from ingest.context import Context
from tests.verify.test_fixture_catalog import _copy, _evidock


def _baseline(home: Path) -> list[tuple[int, str, str]]:
    db = sqlite3.connect(home / "catalog.db")
    try:
        rows = db.execute(
            "SELECT seq, actor, data FROM custody_event WHERE type = 'facts_recorded' ORDER BY seq"
        ).fetchall()
        return [(seq, actor, json.loads(data)["kind"]) for seq, actor, data in rows]
    finally:
        db.close()


def test_old_catalog_records_its_facts_once_by_the_migration_and_signs_them(
    tmp_path: Path,
) -> None:
    """The first command records one facts_recorded event per row (5 items, 1 late flag,
    1 excuse, 1 link, 1 case, 2 devices, 2 officers) by system:migration, then a checkpoint;
    the next adds none."""
    home = _copy(tmp_path)
    first = _evidock(home, "verify")
    assert first.returncode == 0, first.stderr + first.stdout
    recorded = _baseline(home)
    assert Counter(kind for _, _, kind in recorded) == Counter(
        {"item": 5, "offload": 1, "excuse": 1, "link": 1, "case": 1, "device": 2, "officer": 2}
    )
    assert {actor for _, actor, _ in recorded} == {"system:migration"}
    assert [seq for seq, _, _ in recorded] == list(range(34, 47))  # after the 34 old events
    checked = json.loads(first.stdout)["checked"]
    # items, measurements, excuse, link, case, devices, officers
    assert checked["facts"] == 5 + 5 + 1 + 1 + 1 + 2 + 2
    again = _evidock(home, "verify")
    assert again.returncode == 0, again.stderr + again.stdout
    assert _baseline(home) == recorded


def test_edit_of_an_old_catalog_after_its_baseline_is_caught(tmp_path: Path) -> None:
    """An item's state and a case's status, known only from facts_recorded, edited by sqlite3:
    verify exits 1 naming both."""
    home = _copy(tmp_path)
    assert _evidock(home, "verify", "--quick").returncode == 0
    db = sqlite3.connect(home / "catalog.db")
    with db:
        db.execute("UPDATE evidence_item SET state = 'pending' WHERE id = 4")
        db.execute("UPDATE enforcement_case SET status = 'archived'")
    db.close()
    done = _evidock(home, "verify", "--quick")
    assert done.returncode == 1
    found = {
        (p["code"], p["subject"], p["expected"], p["found"])
        for p in json.loads(done.stdout)["problems"]
    }
    assert ("item-fact-mismatch", "item #4, field state", "'stored' (custody log)",
            "'pending' (catalog)") in found  # fmt: skip
    assert ("case-mismatch", "case 凤里执罚〔2026〕1号, field status", "'open' (custody log)",
            "'archived' (catalog)") in found  # fmt: skip


def test_new_catalog_needs_no_baseline(ingested: Context) -> None:
    """A catalog made by this version holds its facts in ordinary events from the start."""
    with ingested.catalog.read() as txn:
        types = {e.type for e in txn.log.events()}
    assert "facts_recorded" not in types
