"""Confidentiality that follows the cases (Art. 31): an item takes the strictest level of its
cases, each change is an event, and verify catches an edit of a level or a role."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from ingest.cases.levels import set_case_level
from ingest.cases.links import link_items, unlink_item
from ingest.cli.audit import verify_run
from ingest.context import Context
from storage.catalog.confidentiality import item_level
from tests.access.conftest import Office, open_case

OTHER = "凤里执罚〔2026〕10号"


def _link(ctx: Context, number: str, item: int) -> None:
    link_items(ctx, number=number, item_ids=[item], stage="investigation", activity_id=None,
               why="on the clip", actor="user:test")  # fmt: skip


def _level(ctx: Context, item: int) -> str:
    with ctx.catalog.read() as txn:
        return item_level(txn, item)


def _changes(ctx: Context) -> list[tuple[int | None, dict[str, Any], str]]:
    with ctx.catalog.read() as txn:
        evs = txn.log.events_of_type("confidentiality_changed")
    return [(e.item, json.loads(e.data), e.actor) for e in evs]


def _problems(ctx: Context, **kw: Any) -> list[tuple[str, str]]:
    report, _, _ = verify_run(ctx.settings, quick=True, **{"item": None, **kw})
    return [(p.code, p.subject) for p in report.problems]


def _sql(ctx: Context, statement: str, **params: Any) -> None:
    with ctx.catalog.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_item_takes_the_strictest_level_of_its_cases(ctx: Context, office: Office) -> None:
    """Linking to a commercial-secret case, then a personal-privacy one, then unlinking the
    stricter one moves the item none -> commercial -> privacy -> commercial, one event each."""
    a, _ = office.items
    open_case(ctx, OTHER, handler="J2", level="personal-privacy")
    with ctx.catalog.write() as txn:
        set_case_level(txn, ctx, office.case, "commercial-secret", actor="user:c", reason="trade")
    _link(ctx, office.case, a)
    assert _level(ctx, a) == "commercial-secret"
    _link(ctx, OTHER, a)
    assert _level(ctx, a) == "personal-privacy"
    unlink_item(ctx, number=OTHER, item_id=a, reason="wrong case", actor="user:u")
    assert _level(ctx, a) == "commercial-secret"
    assert [(i, d.get("from"), d.get("to"), actor) for i, d, actor in _changes(ctx)] == [
        (None, "none", "commercial-secret", "user:c"),
        (a, "none", "commercial-secret", "user:test"),
        (a, "commercial-secret", "personal-privacy", "user:test"),
        (a, "personal-privacy", "commercial-secret", "user:u"),
    ]
    assert _problems(ctx) == []


def test_case_level_change_moves_its_items(ctx: Context, office: Office) -> None:
    """Raising a case's level raises its linked items' (not the others'), with the reason."""
    a, b = office.items
    _link(ctx, office.case, a)
    with ctx.catalog.write() as txn:
        changed = set_case_level(txn, ctx, office.case, "work-secret", actor="user:c",
                                 reason="internal")  # fmt: skip
        assert set_case_level(txn, ctx, office.case, "work-secret", actor="user:c",
                              reason="again") == []  # fmt: skip
    assert changed == [a]
    assert (_level(ctx, a), _level(ctx, b)) == ("work-secret", "none")
    [(_, case_change, _), (item, item_change, _)] = _changes(ctx)
    assert case_change == {"case": office.case, "from": "none", "to": "work-secret",
                           "reason": "internal"}  # fmt: skip
    assert item == a and item_change["case"] == office.case


def test_edited_item_level_is_caught_by_verify(ctx: Context, office: Office) -> None:
    """An item's level lowered behind evidock's back: item-fact-mismatch on confidentiality."""
    a, _ = office.items
    _link(ctx, office.case, a)
    with ctx.catalog.write() as txn:
        set_case_level(txn, ctx, office.case, "personal-privacy", actor="user:c", reason="x")
    _sql(ctx, "UPDATE evidence_item SET confidentiality = 'none' WHERE id = :i", i=a)
    want = ("item-fact-mismatch", f"item #{a}, field confidentiality")
    assert want in _problems(ctx)
    assert want in _problems(ctx, item=a)


def test_edited_case_level_is_caught_by_verify(ctx: Context, office: Office) -> None:
    """A case's level edited: case-mismatch on confidentiality, also by verify --case."""
    _sql(ctx, "UPDATE enforcement_case SET confidentiality = 'work-secret'")
    want = ("case-mismatch", f"case {office.case}, field confidentiality")
    assert want in _problems(ctx)
    assert want in _problems(ctx, case=office.case)


def test_edited_role_and_forged_person_are_caught_by_verify(ctx: Context, office: Office) -> None:
    """A role granted with plain SQL, a person disabled flag cleared and a person row nobody
    added are each caught."""
    _sql(ctx, "INSERT INTO person_role (person_id, role) SELECT id, 'custodian' FROM person "
              "WHERE username = 'officer1'")  # fmt: skip
    _sql(ctx, "INSERT INTO person (username, name, unit, disabled, created_at) "
              "VALUES ('ghost', 'ghost', '', false, CURRENT_TIMESTAMP)")  # fmt: skip
    found = _problems(ctx)
    assert ("person-mismatch", "person officer1, field roles") in found
    assert ("person-unlogged", "person ghost: no custody event records it") in found
    _sql(ctx, "DELETE FROM person_role WHERE role = 'auditor'")
    assert ("person-mismatch", "person checker, field roles") in _problems(ctx)
