"""Signing in and out of the console: password (``ingest.access.passwords``), an optional
TOTP code (RFC 6238, pyotp: imported here only), the lockout of ``security.locked_until``,
server-side sessions in the catalog (``storage.catalog.console``) and their custody events:
``login``, ``login_failed``, ``session_revoked``. The session cookie holds a random token; the
catalog keeps only its SHA-256."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp

from ingest.access.passwords import DUMMY_HASH, verify_password
from ingest.console.security import LOCKOUT_WINDOW, locked_until, new_token, token_id
from ingest.context import Context
from ingest.metrics.prometheus import ConsoleMetrics
from storage.catalog import people
from storage.catalog.console import ConsoleOps, ConsoleSession
from storage.catalog.session import Transaction
from storage.records import Person
from verify.log.events import EventType

logger = logging.getLogger(__name__)

ANONYMOUS = "console:anonymous"  # the actor of a failed login under a name nobody has
TOTP_ISSUER = "evidock"

# why a login failed (in the event's data and on the page)
BAD_PASSWORD, BAD_CODE, LOCKED, DISABLED = "password", "totp", "locked", "disabled"


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    remote: str
    agent: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginResult:
    token: str | None  # the new session's cookie value; None when refused
    person: Person | None
    failure: str | None  # BAD_PASSWORD, BAD_CODE, LOCKED or DISABLED
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Signed:
    """The person behind a request's session cookie."""

    person: Person
    session: ConsoleSession


class Auth:
    def __init__(
        self,
        ctx: Context,
        *,
        metrics: ConsoleMetrics,
        session_minutes: int,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.lifetime = timedelta(minutes=session_minutes)
        self.clock = clock if clock is not None else ctx.clock

    def login(self, username: str, password: str, code: str, client: Client) -> LoginResult:
        """Check the name, password and code; on success open a session (``login``), else
        record the failure (``login_failed``) and count it towards the lockout."""
        now = self.clock()
        username = username.strip()
        with self.ctx.catalog.write() as txn:
            ops = ConsoleOps(txn)
            failures = ops.failures_since_success(username, since=now - 2 * LOCKOUT_WINDOW)
            person = people.person_by_username(txn, username) if username else None
            until = locked_until(failures, now=now)
            if until is not None:  # refused without looking at the password; not counted
                self._failed(txn, username, person, LOCKED, client)
                self.metrics.login("locked")
                return LoginResult(token=None, person=None, failure=LOCKED, locked_until=until)
            failure = self._check(txn, person, password, code)
            if failure is not None:
                ops.add_attempt(username=username, at=now, ok=False, remote=client.remote)
                self._failed(txn, username, person, failure, client)
                self.metrics.login("failed")
                return LoginResult(token=None, person=None, failure=failure)
            assert person is not None
            ops.add_attempt(username=username, at=now, ok=True, remote=client.remote)
            token = new_token()
            session = ops.add_session(
                id=token_id(token), person_id=person.id, csrf=new_token(), now=now,
                expires_at=now + self.lifetime, remote=client.remote, agent=client.agent,
            )  # fmt: skip
            self.ctx.custody.append(
                txn, type=EventType.LOGIN, actor=person.actor,
                data={**_who(person), "session": session.id[:16], **_client(client)},
            )  # fmt: skip
        self.metrics.login("ok")
        logger.info("console login person=%s", person.username)
        return LoginResult(token=token, person=person, failure=None)

    def _check(
        self, txn: Transaction, person: Person | None, password: str, code: str
    ) -> str | None:
        stored = people.password_hash(txn, person.id) if person is not None else None
        if person is None or stored is None:
            # an unknown name costs one scrypt like a known one: the time tells nothing
            verify_password(password, DUMMY_HASH)
            return BAD_PASSWORD
        if not verify_password(password, stored):
            return BAD_PASSWORD
        if person.disabled:
            return DISABLED
        secret = ConsoleOps(txn).totp_secret(person.id)
        if secret is not None and not totp_ok(secret, code, at=self.clock()):
            return BAD_CODE
        return None

    def _failed(
        self, txn: Transaction, username: str, person: Person | None, why: str, client: Client
    ) -> None:
        data: dict[str, Any] = {"username": username[:200], "reason": why, **_client(client)}
        if person is not None:
            data.update(_who(person))
        actor = person.actor if person is not None else ANONYMOUS
        self.ctx.custody.append(txn, type=EventType.LOGIN_FAILED, actor=actor, data=data)

    def current(self, token: str | None) -> Signed | None:
        """The live session of a cookie (and its person, enabled), kept open for another
        ``session_minutes``; None when there is none."""
        if not token:
            return None
        now = self.clock()
        with self.ctx.catalog.write() as txn:
            ops = ConsoleOps(txn)
            session = ops.session(token_id(token))
            if session is None or not session.live(now):
                return None
            person = people.person_by_id(txn, session.person_id)
            if person is None or person.disabled:
                return None
            ops.touch(session.id, now=now, expires_at=now + self.lifetime)
        return Signed(person=person, session=session)

    def revoke(self, session_id: str, *, by: Person, reason: str) -> bool:
        """End a session: the person signing out, or an admin revoking it
        (``session_revoked``). False when it was not live."""
        now = self.clock()
        with self.ctx.catalog.write() as txn:
            ended = ConsoleOps(txn).revoke(session_id, now=now, by=by.actor)
            if ended is None:
                return False
            owner = people.person_by_id(txn, ended.person_id)
            self.ctx.custody.append(
                txn, type=EventType.SESSION_REVOKED, actor=by.actor,
                data={**_who(by), "session": session_id[:16], "reason": reason,
                      "of": owner.username if owner is not None else ended.person_id},
            )  # fmt: skip
        return True


def _who(person: Person) -> dict[str, Any]:
    return {"person": person.username, "roles": sorted(person.roles)}


def _client(client: Client) -> dict[str, str]:
    return {"remote": client.remote[:64], "agent": client.agent[:200]}


# -- TOTP -------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_code(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def totp_ok(secret: str, code: str, *, at: datetime) -> bool:
    """The code of this 30-second step or the one either side (clock drift)."""
    code = code.strip().replace(" ", "")
    return code.isdigit() and pyotp.TOTP(secret).verify(code, for_time=at, valid_window=1)


def enrol_totp(ctx: Context, person: Person, *, actor: str) -> str:
    """Give ``person`` a new TOTP secret (replacing any) with its ``second_factor_changed``
    event naming ``actor`` (never the secret); returns the otpauth URI."""
    secret = new_totp_secret()
    with ctx.catalog.write() as txn:
        ops = ConsoleOps(txn)
        change = "replaced" if ops.totp_secret(person.id) is not None else "enrolled"
        ops.set_totp_secret(person.id, secret, now=ctx.clock())
        ctx.custody.append(txn, type=EventType.SECOND_FACTOR_CHANGED, actor=actor,
                           data={"person": person.username, "factor": "totp",
                                 "change": change})  # fmt: skip
    return totp_uri(secret, person.username)
