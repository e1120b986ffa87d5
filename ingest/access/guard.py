"""A person's access to an item or a case: decided by ``roles.decide``, and recorded.

``check_item`` / ``check_case`` find the level and the person's relation from the catalog and
append ``access_denied`` (person, roles, action, what, why) when the answer is no.
``record_access`` appends ``viewed`` / ``streamed`` / ``downloaded``; a ``viewed`` of the same
person and thing within a minute of the last one shares that event (returns None), a download
never does. ``person=None`` is a host account that maps to no person (the CLI run by root or
an operator): the host's file permissions already decide what it can read, so it is allowed,
and its accesses are recorded under ``actor``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from i18n import N_
from ingest.access.roles import (
    ASK_ADMIN,
    Action,
    Decision,
    Level,
    Relation,
    Text,
    decide,
    level_of,
    strictest,
)
from ingest.context import Context
from storage.catalog import confidentiality as rows
from storage.catalog.cases import CaseOps
from storage.catalog.people import last_access
from storage.catalog.session import Transaction
from storage.records import Event, Person
from verify.log.events import EventType, parse_time

COALESCE = timedelta(seconds=60)
ACCESS_KINDS = frozenset({EventType.VIEWED, EventType.STREAMED, EventType.DOWNLOADED})
HOST = Decision(
    allowed=True,
    reason=Text(N_("a host account mapped to no person: the host's file permissions decide")),
)
DISABLED = Decision(
    allowed=False, reason=Text(N_("this account is disabled")), asking=Text(ASK_ADMIN)
)


def item_level(txn: Transaction, item_id: int) -> Level:
    """The strictest level of the cases the item is linked to (and of its row, so that a
    level the log recorded still holds while the links catch up)."""
    levels = [rows.item_level(txn, item_id), *rows.linked_case_levels(txn, item_id)]
    return strictest(level_of(x) for x in levels)


def case_level(txn: Transaction, case_number: str) -> Level:
    return level_of(CaseOps(txn).case(case_number).confidentiality)


def relation_to_item(txn: Transaction, person: Person, item_id: int) -> Relation:
    """ON_CASE when the person's badge handles, reviews or approves a case the item is
    linked to; OWN when the item is their recording; else NONE."""
    if person.badge is None:
        return Relation.NONE
    mine = set(rows.cases_of_badge(txn, person.badge))
    if mine.intersection(rows.linked_case_numbers(txn, item_id)):
        return Relation.ON_CASE
    if rows.item_officer_badge(txn, item_id) == person.badge:
        return Relation.OWN
    return Relation.NONE


def relation_to_case(txn: Transaction, person: Person, case_number: str) -> Relation:
    if person.badge is None:
        return Relation.NONE
    on = case_number in rows.cases_of_badge(txn, person.badge)
    return Relation.ON_CASE if on else Relation.NONE


def check_item(
    txn: Transaction, ctx: Context, person: Person | None, action: Action, item_id: int
) -> Decision:
    if person is None:
        return HOST
    level = item_level(txn, item_id)
    d = _decide(person, action, level, lambda: relation_to_item(txn, person, item_id))
    if not d.allowed:
        deny(txn, ctx, person, action, d, level, item_id=item_id)
    return d


def check_case(
    txn: Transaction, ctx: Context, person: Person | None, action: Action, case_number: str
) -> Decision:
    if person is None:
        return HOST
    level = case_level(txn, case_number)
    d = _decide(person, action, level, lambda: relation_to_case(txn, person, case_number))
    if not d.allowed:
        deny(txn, ctx, person, action, d, level, case=case_number)
    return d


def _decide(person: Person, action: Action, level: Level, relation: Any) -> Decision:
    if person.disabled:
        return DISABLED
    return decide(person.roles, action, level, relation())


def deny(
    txn: Transaction,
    ctx: Context,
    person: Person,
    action: Action,
    d: Decision,
    level: Level,
    *,
    item_id: int | None = None,
    case: str | None = None,
    what: str | None = None,
) -> Event:
    """The ``access_denied`` event of a refusal: who, with which roles, tried what and why not
    (``what``: a page that is no item's or case's, such as a report or a log)."""
    data: dict[str, Any] = {
        "person": person.username,
        "roles": sorted(person.roles),
        "action": action.value,
        "level": level.value,
        "why": d.recorded(),  # English, whatever the reader read
    }
    if case is not None:
        data["case"] = case
    if what is not None:
        data["what"] = what
    return ctx.custody.append(
        txn, type=EventType.ACCESS_DENIED, actor=person.actor, item=item_id, data=data
    )


def record_access(
    txn: Transaction,
    ctx: Context,
    person: Person | None,
    kind: EventType,
    *,
    item_id: int | None = None,
    case: str | None = None,
    detail: dict[str, Any] | None = None,
    now: datetime,
    actor: str | None = None,
) -> Event | None:
    """Append the access event (``actor``: who, when ``person`` is None); None when a
    ``viewed`` is coalesced with one of the last minute."""
    if kind not in ACCESS_KINDS:
        raise ValueError(f"not an access event: {kind!r}")
    if item_id is None and case is None:
        raise ValueError("an access is of an item or a case")
    who = person.actor if person is not None else actor or "user:unknown"
    if kind == EventType.VIEWED:
        last = last_access(txn, type=kind.value, actor=who, item_id=item_id, case=case)
        if last is not None and timedelta(0) <= now - parse_time(last.time) < COALESCE:
            return None
    data: dict[str, Any] = dict(detail or {})
    if person is not None:
        data.update(person=person.username, roles=sorted(person.roles))
    if case is not None:
        data["case"] = case
    return ctx.custody.append(txn, type=kind, actor=who, item=item_id, data=data)
