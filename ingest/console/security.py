"""Pure rules of the console's security: tokens, the CSP and other response headers, and the
lockout after repeated login failures."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "media-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
"""Sent with every response: no inline script, nothing from another origin, no framing."""

HSTS = "max-age=31536000"


def new_token() -> str:
    """A secret for a cookie or a form: 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """What the catalog keeps of a session token: its SHA-256, so a copy of the catalog
    opens no session."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_secret(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode("utf-8"), expected.encode("utf-8"))


def locked_until(
    failures: Sequence[datetime],
    *,
    now: datetime,
    limit: int = LOCKOUT_FAILURES,
    window: timedelta = LOCKOUT_WINDOW,
) -> datetime | None:
    """Five failures within 15 minutes (of the failures since the last success, oldest
    first) lock the name for 15 minutes from the fifth; attempts while locked are refused and
    not counted. Returns when the lock ends, or None when the name is not locked at ``now``."""
    until: datetime | None = None
    for i in range(limit - 1, len(failures)):
        if failures[i] - failures[i - limit + 1] <= window:
            end = failures[i] + window
            until = end if until is None or end > until else until
    return until if until is not None and until > now else None
