"""Catalog rows of the evidence console (issue 16): sessions, login attempts, TOTP secrets.

``ConsoleOps(txn)`` works inside the caller's transaction and hands out frozen records; the
custody events (``login``, ``login_failed``, ``session_revoked``) are appended by
``ingest.console.auth`` in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from storage.catalog.models import ConsoleLoginRow, ConsoleSessionRow, ConsoleTotpRow
from storage.catalog.session import Transaction


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsoleSession:
    id: str  # SHA-256 (hex) of the cookie's token
    person_id: int
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None
    remote: str
    agent: str

    def live(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at


class ConsoleOps:
    def __init__(self, txn: Transaction) -> None:
        self.s = txn.s

    # -- sessions ---------------------------------------------------------------------------
    def add_session(
        self,
        *,
        id: str,
        person_id: int,
        csrf: str,
        now: datetime,
        expires_at: datetime,
        remote: str,
        agent: str,
    ) -> ConsoleSession:
        row = ConsoleSessionRow(
            id=id, person_id=person_id, csrf=csrf, created_at=now, last_seen_at=now,
            expires_at=expires_at, remote=remote[:64], agent=agent[:500],
        )  # fmt: skip
        self.s.add(row)
        self.s.flush()
        return _session(row)

    def session(self, id: str) -> ConsoleSession | None:
        row = self.s.get(ConsoleSessionRow, id)
        return None if row is None else _session(row)

    def touch(self, id: str, *, now: datetime, expires_at: datetime) -> None:
        """A request of a live session: it stays open ``session_minutes`` from now."""
        row = self.s.get(ConsoleSessionRow, id)
        if row is not None and row.revoked_at is None:
            row.last_seen_at = now
            row.expires_at = expires_at

    def revoke(self, id: str, *, now: datetime, by: str) -> ConsoleSession | None:
        """End a session (sign-out or an admin's revocation); None when there is none live."""
        row = self.s.get(ConsoleSessionRow, id)
        if row is None or row.revoked_at is not None:
            return None
        row.revoked_at = now
        row.revoked_by = by
        self.s.flush()
        return _session(row)

    def live_sessions(self, *, at: datetime, limit: int = 500) -> list[ConsoleSession]:
        q = (
            select(ConsoleSessionRow)
            .where(ConsoleSessionRow.revoked_at.is_(None), ConsoleSessionRow.expires_at > at)
            .order_by(ConsoleSessionRow.last_seen_at.desc())
            .limit(limit)
        )
        return [_session(r) for r in self.s.scalars(q)]

    # -- login attempts ---------------------------------------------------------------------
    def add_attempt(self, *, username: str, at: datetime, ok: bool, remote: str) -> None:
        self.s.add(ConsoleLoginRow(username=username[:200], at=at, ok=ok, remote=remote[:64]))
        self.s.flush()

    def failures_since_success(self, username: str, *, since: datetime) -> list[datetime]:
        """Times of the failed attempts at ``username`` after ``since`` and after its last
        successful login, oldest first (the lockout's input)."""
        last_ok = self.s.scalar(
            select(ConsoleLoginRow.at)
            .where(ConsoleLoginRow.username == username, ConsoleLoginRow.ok.is_(True))
            .order_by(ConsoleLoginRow.at.desc())
            .limit(1)
        )
        start = since if last_ok is None else max(since, last_ok)
        q = (
            select(ConsoleLoginRow.at)
            .where(
                ConsoleLoginRow.username == username,
                ConsoleLoginRow.ok.is_(False),
                ConsoleLoginRow.at > start,
            )
            .order_by(ConsoleLoginRow.at)
        )
        return list(self.s.scalars(q))

    # -- TOTP -------------------------------------------------------------------------------
    def totp_secret(self, person_id: int) -> str | None:
        row = self.s.get(ConsoleTotpRow, person_id)
        return None if row is None else row.secret

    def set_totp_secret(self, person_id: int, secret: str | None, *, now: datetime) -> None:
        row = self.s.get(ConsoleTotpRow, person_id)
        if secret is None:
            if row is not None:
                self.s.delete(row)
        elif row is None:
            self.s.add(ConsoleTotpRow(person_id=person_id, secret=secret, enrolled_at=now))
        else:
            row.secret, row.enrolled_at = secret, now
        self.s.flush()


def _session(row: ConsoleSessionRow) -> ConsoleSession:
    return ConsoleSession(
        id=row.id, person_id=row.person_id, csrf=row.csrf, created_at=row.created_at,
        last_seen_at=row.last_seen_at, expires_at=row.expires_at, revoked_at=row.revoked_at,
        revoked_by=row.revoked_by, remote=row.remote, agent=row.agent,
    )  # fmt: skip
