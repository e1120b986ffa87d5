"""People and their roles, each change with its custody event in the same transaction.

``person_added``, ``role_granted``, ``role_revoked`` and ``person_disabled`` name the actor
and the person; ``verify`` rebuilds the people and their roles from them and compares
(``verify.audit.facts``). A password is never written to the log, only that one is set.
"""

from __future__ import annotations

from i18n import _
from ingest.access.passwords import hash_password
from ingest.access.roles import Role
from ingest.config import Settings
from ingest.context import Context, os_user
from ingest.errors import UsageError
from storage.catalog import people as rows
from storage.catalog.session import Transaction
from storage.records import Person
from verify.log.events import EventType


def add(
    txn: Transaction,
    ctx: Context,
    *,
    username: str,
    name: str,
    badge: str | None,
    unit: str,
    os_user: str | None,
    password: str | None,
    actor: str,
) -> Person:
    """A new person, without roles (``grant`` gives them)."""
    if badge is not None:
        txn.officer(badge)  # an officer's person names a registered officer
    person = rows.add_person(
        txn,
        username=username,
        name=name,
        badge=badge,
        unit=unit,
        os_user=os_user,
        password_hash=hash_password(password) if password else None,
        now=ctx.clock(),
    )
    ctx.custody.append(
        txn,
        type=EventType.PERSON_ADDED,
        actor=actor,
        data={"person": username, "name": name, "badge": badge, "unit": unit,
              "os_user": os_user, "password": password is not None},
    )  # fmt: skip
    return person


def grant(txn: Transaction, ctx: Context, person: Person, role: Role, *, actor: str) -> None:
    if role in person.roles:
        raise UsageError(
            _("{person} already holds the role {role}").format(person=person.username, role=role),
            hint=_(
                "See: evidock person list. Revoke with: evidock person revoke {person} {role}"
            ).format(person=person.username, role=role),
        )
    _disabled_refused(person)
    rows.set_role(txn, person.id, role.value, True)
    ctx.custody.append(txn, type=EventType.ROLE_GRANTED, actor=actor,
                       data={"person": person.username, "role": role.value})  # fmt: skip


def revoke(txn: Transaction, ctx: Context, person: Person, role: Role, *, actor: str) -> None:
    if role not in person.roles:
        raise UsageError(
            _("{person} does not hold the role {role}").format(person=person.username, role=role),
            hint=_("See who holds what: evidock person list"),
        )
    rows.set_role(txn, person.id, role.value, False)
    ctx.custody.append(txn, type=EventType.ROLE_REVOKED, actor=actor,
                       data={"person": person.username, "role": role.value})  # fmt: skip


def disable(txn: Transaction, ctx: Context, person: Person, *, actor: str) -> None:
    """The person can no longer act; their roles stay on record (and in the log)."""
    _disabled_refused(person)
    rows.set_disabled(txn, person.id, True)
    ctx.custody.append(txn, type=EventType.PERSON_DISABLED, actor=actor,
                       data={"person": person.username})  # fmt: skip


def _disabled_refused(person: Person) -> None:
    if person.disabled:
        raise UsageError(
            _("{person} is disabled").format(person=person.username),
            hint=_("A disabled person stays disabled; add a new person if they come back."),
        )


def invoking_user(settings: Settings) -> str | None:
    """The OS account behind this command: who ran sudo first, else the process's user."""
    return settings.sudo_user or os_user()


def cli_actor(txn: Transaction, settings: Settings) -> tuple[str, Person | None]:
    """The invoking OS user mapped to a person: ``(person.actor, person)``, or
    ``("user:<os user>", None)`` when no person has that OS account."""
    user = invoking_user(settings)
    person = rows.person_by_os_user(txn, user) if user else None
    if person is not None:
        return person.actor, person
    return f"user:{user or 'unknown'}", None
