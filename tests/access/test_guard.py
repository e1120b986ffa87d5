"""Access to items and cases: decided from the catalog, and every access recorded."""

from __future__ import annotations

import json
from datetime import timedelta

import i18n
from ingest.access.guard import (
    check_case,
    check_item,
    item_level,
    record_access,
    relation_to_case,
    relation_to_item,
)
from ingest.access.roles import Action, Level, Relation
from ingest.cases.levels import set_case_level
from ingest.cases.links import link_items
from ingest.context import Context
from storage.catalog import people as rows
from storage.records import Event
from tests.access.conftest import Office
from verify.log.events import EventType


def _link(ctx: Context, office: Office, item: int) -> None:
    link_items(ctx, number=office.case, item_ids=[item], stage="investigation",
               activity_id=None, why="on the clip", actor="user:test")  # fmt: skip


def _restrict(ctx: Context, office: Office) -> None:
    with ctx.catalog.write() as txn:
        set_case_level(txn, ctx, office.case, "personal-privacy", actor="user:test", reason="minor")


def _access(ctx: Context, **kw: object) -> list[Event]:
    with ctx.catalog.read() as txn:
        return rows.access_events(txn, **kw)  # type: ignore[arg-type]


def test_relations_follow_badges_and_links(ctx: Context, office: Office) -> None:
    """J1 owns their recordings; J2 is on the case once an item is linked to it."""
    a, b = office.items
    officer1, handler = office.person(ctx, "officer1"), office.person(ctx, "handler")
    _link(ctx, office, a)
    with ctx.catalog.read() as txn:
        assert relation_to_item(txn, officer1, a) == Relation.OWN
        assert relation_to_item(txn, handler, a) == Relation.ON_CASE
        assert relation_to_item(txn, handler, b) == Relation.NONE
        assert relation_to_case(txn, handler, office.case) == Relation.ON_CASE
        assert relation_to_case(txn, officer1, office.case) == Relation.NONE


def test_restricted_item_is_refused_to_its_officer_and_the_refusal_is_an_event(
    ctx: Context, office: Office
) -> None:
    """Linked to a personal-privacy case, J1's own recording is refused to J1 (access_denied
    with person, roles, action and level) and allowed to the custodian and the handler."""
    a, _ = office.items
    _link(ctx, office, a)
    _restrict(ctx, office)
    with ctx.catalog.write() as txn:
        assert item_level(txn, a) == Level.PERSONAL_PRIVACY
        d = check_item(txn, ctx, office.person(ctx, "officer1"), Action.STREAM, a)
        assert not d.allowed and "personal privacy" in d.why and "custodian" in d.ask
        for who in ("keeper", "handler"):
            assert check_item(txn, ctx, office.person(ctx, who), Action.STREAM, a).allowed
    [denied] = _access(ctx, item_id=a)
    assert (denied.type, denied.actor) == ("access_denied", "person:officer1")
    data = json.loads(denied.data)
    assert (data["action"], data["level"], data["roles"]) == ("stream", "personal-privacy",
                                                              ["officer"])  # fmt: skip


def test_a_refusal_read_in_chinese_is_recorded_in_english(ctx: Context, office: Office) -> None:
    """The officer reads why in Chinese (the office's language); the access_denied event keeps
    the English, whatever language the reader had: the log is read by programs and auditors."""
    a, _ = office.items
    _link(ctx, office, a)
    _restrict(ctx, office)
    with i18n.speaking("zh"), ctx.catalog.write() as txn:
        d = check_item(txn, ctx, office.person(ctx, "officer1"), Action.VIEW_ITEM, a)
        why, ask = d.why, d.ask
    assert why == "该内容密级为个人隐私，仅限证据保管员及其案件的承办人、审核人、批准人"
    assert ask == "证据保管员或案件承办人"
    [denied] = _access(ctx, item_id=a)
    assert json.loads(denied.data)["why"] == (
        "this is personal privacy: only custodians and the handler, reviewer and approver of "
        "its case"
    )


def test_unrestricted_own_recording_is_allowed_to_its_officer(ctx: Context, office: Office) -> None:
    """At level none an officer sees their own recordings and nobody else's."""
    a, _ = office.items
    with ctx.catalog.write() as txn:
        assert check_item(txn, ctx, office.person(ctx, "officer1"), Action.STREAM, a).allowed
        assert not check_item(txn, ctx, office.person(ctx, "handler"), Action.STREAM, a).allowed
        assert not check_item(
            txn, ctx, office.person(ctx, "root.admin"), Action.VIEW_ITEM, a
        ).allowed


def test_disabled_person_is_refused(ctx: Context, office: Office) -> None:
    """A disabled custodian sees nothing."""
    from ingest.access import people

    a, _ = office.items
    with ctx.catalog.write() as txn:
        people.disable(txn, ctx, office.person(ctx, "keeper"), actor="user:root")
    with ctx.catalog.write() as txn:
        d = check_item(txn, ctx, office.person(ctx, "keeper"), Action.VIEW_ITEM, a)
    assert not d.allowed and "disabled" in d.why


def test_case_refusal_is_recorded_with_the_case(ctx: Context, office: Office) -> None:
    """An officer not on a restricted case is refused its page; the event names the case."""
    _restrict(ctx, office)
    with ctx.catalog.write() as txn:
        d = check_case(txn, ctx, office.person(ctx, "officer1"), Action.VIEW_CASE, office.case)
        assert not d.allowed
        assert check_case(
            txn, ctx, office.person(ctx, "handler"), Action.VIEW_CASE, office.case
        ).allowed
    [denied] = _access(ctx, case=office.case)
    assert denied.type == "access_denied" and denied.item is None


def test_views_within_a_minute_share_one_event(ctx: Context, office: Office) -> None:
    """A second view of the same item by the same person within 60 s is coalesced; one a
    minute later, or by someone else, or of another item, is a new event."""
    a, b = office.items
    keeper, boss = office.person(ctx, "keeper"), office.person(ctx, "boss")
    t0 = ctx.clock()

    def view(person: object, item: int, at: timedelta) -> Event | None:
        with ctx.catalog.write() as txn:
            return record_access(txn, ctx, person, EventType.VIEWED, item_id=item,  # type: ignore[arg-type]
                                 now=t0 + at)  # fmt: skip

    assert view(keeper, a, timedelta(0)) is not None
    assert view(keeper, a, timedelta(seconds=30)) is None
    assert view(boss, a, timedelta(seconds=31)) is not None
    assert view(keeper, b, timedelta(seconds=32)) is not None
    assert view(keeper, a, timedelta(seconds=61)) is not None
    assert len(_access(ctx, person="keeper")) == 3


def test_downloads_are_never_coalesced(ctx: Context, office: Office) -> None:
    """Every download of an original is its own event, however close together."""
    a, _ = office.items
    keeper = office.person(ctx, "keeper")
    now = ctx.clock()
    for _ in range(3):
        with ctx.catalog.write() as txn:
            ev = record_access(txn, ctx, keeper, EventType.DOWNLOADED, item_id=a, now=now,
                               detail={"what": "original"})  # fmt: skip
            assert ev is not None
    got = _access(ctx, person="keeper", item_id=a)
    assert [e.type for e in got] == ["downloaded"] * 3
    assert json.loads(got[0].data)["person"] == "keeper"


def test_access_log_filters_and_pages_newest_first(ctx: Context, office: Office) -> None:
    """The access log holds only access events, newest first, and pages through them."""
    a, b = office.items
    keeper = office.person(ctx, "keeper")
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        for item in (a, b, a):
            record_access(txn, ctx, keeper, EventType.STREAMED, item_id=item, now=now)
        record_access(txn, ctx, None, EventType.VIEWED, case=office.case, now=now,
                      actor="user:root")  # fmt: skip
    everything = _access(ctx)
    assert [e.type for e in everything] == ["viewed", "streamed", "streamed", "streamed"]
    assert [e.seq for e in everything] == sorted((e.seq for e in everything), reverse=True)
    assert [e.item for e in _access(ctx, item_id=a)] == [a, a]
    assert [e.actor for e in _access(ctx, case=office.case)] == ["user:root"]
    assert [e.actor for e in _access(ctx, person="user:root")] == ["user:root"]
    page = _access(ctx, limit=2, offset=1)
    assert [e.seq for e in page] == [e.seq for e in everything[1:3]]
    assert _access(ctx, since=now + timedelta(days=1)) == []
    assert len(_access(ctx, until=now + timedelta(days=1))) == 4
