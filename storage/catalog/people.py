"""Catalog rows of people and their roles (issue 16), and the access log's query.

Functions work inside the caller's transaction and hand out frozen ``Person`` records; the
custody events that prove each change are appended by ``ingest.access.people``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete, select

from i18n import _
from storage.catalog.logrows import _EVENT_COLUMNS, _event_from_columns
from storage.catalog.models import ConsoleTotpRow, CustodyEventRow, PersonRoleRow, PersonRow
from storage.catalog.session import Transaction
from storage.errors import AlreadyExists, NotFound
from storage.records import Event, Person

ACCESS_TYPES = (
    "viewed",
    "streamed",
    "downloaded",
    "exported",
    "access_denied",
    "login",
    "login_failed",
)
"""The custody event types of the access log (Art. 29: every access is recorded)."""

MAX_PAGE = 1000


def add_person(
    txn: Transaction,
    *,
    username: str,
    name: str,
    badge: str | None,
    unit: str,
    os_user: str | None,
    password_hash: str | None,
    now: datetime | None = None,
) -> Person:
    if _row_by(txn, PersonRow.username, username) is not None:
        raise AlreadyExists(
            _("person {username} already exists").format(username=repr(username)),
            hint=_("List people: evidock person list"),
        )
    if os_user is not None and _row_by(txn, PersonRow.os_user, os_user) is not None:
        raise AlreadyExists(
            _("OS user {os_user} already maps to another person").format(os_user=repr(os_user)),
            hint=_("One OS account maps to one person; see: evidock person list"),
        )
    row = PersonRow(
        username=username,
        name=name,
        badge=badge,
        unit=unit,
        os_user=os_user,
        password_hash=password_hash,
        disabled=False,
        created_at=now or datetime.now(UTC),
    )
    txn._add_unique(row, _("person {username} already exists").format(username=repr(username)))
    return _person(txn, row)


def person_by_username(txn: Transaction, username: str) -> Person | None:
    row = _row_by(txn, PersonRow.username, username)
    return None if row is None else _person(txn, row)


def person_by_os_user(txn: Transaction, os_user: str) -> Person | None:
    row = _row_by(txn, PersonRow.os_user, os_user)
    return None if row is None else _person(txn, row)


def person_by_id(txn: Transaction, id: int) -> Person | None:
    row = txn.s.get(PersonRow, id)
    return None if row is None else _person(txn, row)


def list_people(txn: Transaction) -> list[Person]:
    rows = txn.s.scalars(select(PersonRow).order_by(PersonRow.username)).all()
    roles = _roles(txn, [r.id for r in rows])
    return [_record(r, roles.get(r.id, frozenset())) for r in rows]


def set_role(txn: Transaction, person_id: int, role: str, held: bool) -> None:
    _require(txn, person_id)
    now_held = txn.s.get(PersonRoleRow, (person_id, role)) is not None
    if held and not now_held:
        txn.s.add(PersonRoleRow(person_id=person_id, role=role))
    elif not held and now_held:
        txn.s.execute(
            delete(PersonRoleRow).where(
                PersonRoleRow.person_id == person_id, PersonRoleRow.role == role
            )
        )
    txn.s.flush()


def set_disabled(txn: Transaction, person_id: int, disabled: bool) -> None:
    _require(txn, person_id).disabled = disabled
    txn.s.flush()


def password_hash(txn: Transaction, person_id: int) -> str | None:
    return _require(txn, person_id).password_hash


def set_password_hash(txn: Transaction, person_id: int, hash: str) -> None:
    _require(txn, person_id).password_hash = hash
    txn.s.flush()


def access_events(
    txn: Transaction,
    *,
    person: str | None = None,
    item_id: int | None = None,
    case: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
    types: Collection[str] = ACCESS_TYPES,
) -> list[Event]:
    """Custody events of the access types, newest first. ``person`` is a username (its
    ``person:`` actor) or an actor string as written (``user:root``); ``case`` matches the
    ``case`` of the event's data; times bound the event time (``since`` <= t < ``until``)."""
    txn.log.flush()
    q = select(*_EVENT_COLUMNS).where(CustodyEventRow.type.in_(list(types)))
    if person is not None:
        actor = person if ":" in person else f"person:{person}"
        q = q.where(CustodyEventRow.actor == actor)
    if item_id is not None:
        q = q.where(CustodyEventRow.item_id == item_id)
    if case is not None:
        needle = '"case":' + json.dumps(case, ensure_ascii=False)
        q = q.where(CustodyEventRow.data.contains(needle, autoescape=True))
    if since is not None:
        q = q.where(CustodyEventRow.time >= _event_time(since))
    if until is not None:
        q = q.where(CustodyEventRow.time < _event_time(until))
    q = q.order_by(CustodyEventRow.seq.desc()).limit(min(limit, MAX_PAGE)).offset(offset)
    return [_event_from_columns(row) for row in txn.s.execute(q)]


def last_access(
    txn: Transaction, *, type: str, actor: str, item_id: int | None, case: str | None
) -> Event | None:
    """The newest event of ``type`` by ``actor`` about the item (or, without one, the case):
    what a ``viewed`` within a minute of it is coalesced with."""
    txn.log.flush()
    q = select(*_EVENT_COLUMNS).where(CustodyEventRow.type == type, CustodyEventRow.actor == actor)
    if item_id is not None:
        q = q.where(CustodyEventRow.item_id == item_id)
    else:
        q = q.where(CustodyEventRow.item_id.is_(None))
        needle = '"case":' + json.dumps(case, ensure_ascii=False)
        q = q.where(CustodyEventRow.data.contains(needle, autoescape=True))
    row = txn.s.execute(q.order_by(CustodyEventRow.seq.desc()).limit(1)).first()
    return None if row is None else _event_from_columns(row)


def people_facts(txn: Transaction) -> list[tuple[str, dict[str, str | None]]]:
    """Each person's facts as comparable text (username, fields), for ``verify``; the second
    factor is "totp" with a TOTP secret, else "none" (the secret itself is never compared)."""
    totp = set(txn.s.scalars(select(ConsoleTotpRow.person_id)))
    return [
        (p.username, {**person_fields(p), "second_factor": "totp" if p.id in totp else "none"})
        for p in list_people(txn)
    ]


def person_fields(p: Person) -> dict[str, str | None]:
    return {
        "name": p.name,
        "badge": p.badge,
        "unit": p.unit,
        "os_user": p.os_user,
        "roles": ",".join(sorted(p.roles)),
        "disabled": "yes" if p.disabled else "no",
    }


# -- rows to records ----------------------------------------------------------------------------


def _event_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _row_by(txn: Transaction, column: object, value: str) -> PersonRow | None:
    return txn.s.scalars(select(PersonRow).where(column == value)).first()  # type: ignore[arg-type]


def _require(txn: Transaction, person_id: int) -> PersonRow:
    row = txn.s.get(PersonRow, person_id)
    if row is None:
        raise NotFound(
            _("no person #{person}").format(person=person_id),
            hint=_("List people: evidock person list"),
        )
    return row


def _roles(txn: Transaction, ids: list[int]) -> dict[int, frozenset[str]]:
    out: dict[int, set[str]] = {}
    for start in range(0, len(ids), 500):
        q = select(PersonRoleRow.person_id, PersonRoleRow.role).where(
            PersonRoleRow.person_id.in_(ids[start : start + 500])
        )
        for pid, role in txn.s.execute(q):
            out.setdefault(pid, set()).add(role)
    return {pid: frozenset(r) for pid, r in out.items()}


def _person(txn: Transaction, row: PersonRow) -> Person:
    return _record(row, _roles(txn, [row.id]).get(row.id, frozenset()))


def _record(row: PersonRow, roles: frozenset[str]) -> Person:
    return Person(
        id=row.id,
        username=row.username,
        name=row.name,
        badge=row.badge,
        unit=row.unit,
        roles=roles,
        os_user=row.os_user,
        disabled=row.disabled,
    )
