"""The permission rules as a table: role x level x relation x action -> allowed or refused."""

from __future__ import annotations

import itertools
import re

import pytest

import i18n
from ingest.access.roles import Action, Level, Relation, Role, decide, level_of, strictest

# Who may do what at level "none": a = in any relation, c = on the case only, oc = own
# recordings or on the case, - = never. Written out here, apart from the code's RULES.
TABLE = """
action             officer custodian reviewer approver supervisor auditor admin
view-item          oc      a         c        c        c          a       -
stream             oc      a         c        c        c          -       -
download-original  c       a         c        c        -          -       -
view-case          c       a         c        c        a          a       -
view-compliance    -       a         -        -        a          a       -
run-verify         -       a         -        -        -          a       -
view-access-log    -       a         -        -        -          a       -
manage-people      -       -         -        -        -          -       a
export             c       a         c        c        -          -       -
approve-export     -       a         -        a        -          -       -
decide-case        -       -         c        c        -          -       -
"""
CONTENT = {"view-item", "stream", "download-original", "view-case", "export"}


def _table() -> dict[tuple[str, str], str]:
    lines = [line.split() for line in TABLE.strip().splitlines()]
    roles = lines[0][1:]
    return {
        (row[0], role): spec for row in lines[1:] for role, spec in zip(roles, row[1:], strict=True)
    }


SPEC = _table()


def expected(role: Role, action: Action, level: Level, relation: Relation) -> bool:
    spec = SPEC[(action.value, role.value)]
    base = spec == "a" or (
        (relation == Relation.ON_CASE and "c" in spec) or (relation == Relation.OWN and "o" in spec)
    )
    if not base:
        return False
    if action.value in CONTENT and level != Level.NONE:
        return role == Role.CUSTODIAN or relation == Relation.ON_CASE
    return True


CJK = re.compile(r"[\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")


def test_the_table_names_every_role_and_action() -> None:
    """The table above covers the whole vocabulary: nothing is left to a default."""
    assert {a for a, _ in SPEC} == {a.value for a in Action}
    assert {r for _, r in SPEC} == {r.value for r in Role}


@pytest.mark.parametrize(
    ("role", "level", "relation", "action"),
    list(itertools.product(Role, Level, Relation, Action)),
    ids=lambda v: str(v),
)
def test_decision_of_one_role(role: Role, level: Level, relation: Relation, action: Action) -> None:
    """Each single role, at each level and relation, gets the table's answer; it says why (and
    when refused, who to ask) in the reader's one language, and in English for the log."""
    d = decide(frozenset({role.value}), action, level, relation)
    assert d.allowed is expected(role, action, level, relation)
    said = {}
    for lang in ("zh", "en"):
        with i18n.speaking(lang):
            said[lang] = (d.why, d.ask)
    (zh_why, zh_ask), (en_why, en_ask) = said["zh"], said["en"]
    assert CJK.search(zh_why) and not LATIN.search(zh_why), zh_why
    assert LATIN.search(en_why) and not CJK.search(en_why), en_why
    with i18n.speaking("zh"):
        assert d.recorded() == en_why
    if d.allowed:
        assert zh_ask == en_ask == ""
    else:
        assert CJK.search(zh_ask) and not LATIN.search(zh_ask), zh_ask
        assert LATIN.search(en_ask) and not CJK.search(en_ask), en_ask


def test_roles_add_up() -> None:
    """A person holding two roles may do what either allows."""
    both = frozenset({"admin", "officer"})
    assert decide(both, Action.STREAM, Level.NONE, Relation.OWN).allowed
    assert decide(both, Action.MANAGE_PEOPLE, Level.NONE, Relation.NONE).allowed


def test_admin_is_told_about_separation_of_duties() -> None:
    """An administrator is refused evidence content, and told it is separation of duties."""
    d = decide(frozenset({"admin"}), Action.VIEW_ITEM, Level.NONE, Relation.NONE)
    assert not d.allowed
    with i18n.speaking("zh"):
        assert d.why == "系统管理员不接触证据内容（职责分离）"
    with i18n.speaking("en"):
        assert d.why == "administrators see no evidence content (separation of duties)"


def test_restricted_refusal_names_the_level_and_who_to_ask() -> None:
    """An officer's own recording in a personal-privacy case is refused unless on the case."""
    d = decide(frozenset({"officer"}), Action.STREAM, Level.PERSONAL_PRIVACY, Relation.OWN)
    assert not d.allowed
    with i18n.speaking("zh"):
        assert "密级为个人隐私" in d.why and d.ask == "证据保管员或案件承办人"
    with i18n.speaking("en"):
        assert "this is personal privacy" in d.why and "custodian" in d.ask


def test_no_roles_and_unknown_roles_are_refused() -> None:
    """Without a role (or with a name that is no role) nothing is allowed."""
    for roles in (frozenset(), frozenset({"root"})):
        assert not decide(roles, Action.VIEW_ITEM, Level.NONE, Relation.OWN).allowed


def test_strictest_level() -> None:
    """An item takes the most restricted level; a legacy unknown level counts as the most."""
    assert strictest([]) == Level.NONE
    assert strictest([Level.WORK_SECRET, Level.PERSONAL_PRIVACY, Level.NONE]) == (
        Level.PERSONAL_PRIVACY
    )
    assert strictest([Level.COMMERCIAL_SECRET, Level.WORK_SECRET]) == Level.COMMERCIAL_SECRET
    assert level_of("state-secret") == Level.PERSONAL_PRIVACY
    assert level_of(None) == Level.NONE
