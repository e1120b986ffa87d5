"""Password hashes with the standard library's scrypt (RFC 7914); no third-party library.

A hash describes itself: ``scrypt$N$r$p$salt$hash`` (salt and hash in base64), so the cost can
be raised later and old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1  # ~16 MiB and ~50 ms a hash: the interactive parameters of RFC 7914
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P)
    b64 = base64.b64encode
    return f"scrypt${N}${R}${P}${b64(salt).decode()}${b64(key).decode()}"


# What a login under a name nobody has (or a person without a password) is checked against:
# the same cost as a real hash, so the response time does not tell whether a name exists. Its
# salt and key are zeros: a real derivation never gives that key (it would take a preimage).
DUMMY_HASH = (
    f"scrypt${N}${R}${P}${base64.b64encode(bytes(SALT_BYTES)).decode()}"
    f"${base64.b64encode(bytes(KEY_BYTES)).decode()}"
)


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored``; a malformed hash never matches."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        want = base64.b64decode(parts[5], validate=True)
        if n > 2**20 or r > 32 or p > 16:  # a hash that would take the host down
            return False
        got = _derive(password, salt, n, r, p)
    except ValueError:
        return False
    return hmac.compare_digest(got, want)
