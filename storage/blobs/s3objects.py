"""What an S3 server reports about an object, what we sent, and the pure checks between them
(no boto3 here: ``verify`` uses these to judge objects without loading the SDK)."""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from i18n import _
from storage.blobs.s3config import MIB

MAX_PARTS = 10_000  # S3: parts of one multipart upload
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Object:
    """What the server says about one object version."""

    key: str
    size: int
    version_id: str | None
    checksum_sha256: str | None  # as reported: base64; "-N" suffix for a multipart composite
    sha256: str | None  # our full-object hex digest, from x-amz-meta-sha256
    lock_mode: str | None  # "COMPLIANCE" | "GOVERNANCE" | None
    retain_until: datetime | None  # aware UTC
    legal_hold: bool | None  # None when not asked / unknown


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """What we sent in one upload and expect the server to report back."""

    key: str
    size: int
    sha256: str
    checksum: str  # base64 digest, or "<base64>-<parts>" for a multipart composite
    version_id: str | None
    lock_mode: str | None
    retain_until: datetime | None
    legal_hold: bool


# -- pure helpers ---------------------------------------------------------------------------


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def composite_checksum(part_digests: Sequence[bytes]) -> str:
    """S3's checksum of a multipart upload: SHA-256 over the parts' raw digests, "-N"."""
    return f"{b64(hashlib.sha256(b''.join(part_digests)).digest())}-{len(part_digests)}"


def checksum_matches(expected: str, found: str) -> bool:
    """Does a reported checksum equal ours? A composite may come without its "-N" part count
    (moto's HEAD drops it; its GET keeps it): the digest itself must still be equal."""
    if found == expected:
        return True
    base, sep, _ = expected.partition("-")
    return bool(sep) and found == base


def part_size_for(size: int, part_size: int) -> int:
    """The configured part size, raised to whole MiB when the file would need > 10,000 parts."""
    if size <= part_size * MAX_PARTS:
        return part_size
    return math.ceil(size / MAX_PARTS / MIB) * MIB


def upload_mismatches(sent: Sent, found: S3Object) -> list[str]:
    """Every way in which the server's report of a new upload differs from what we sent.

    A server that reports no SHA-256 checksum at all is tolerated (size and metadata digest
    still have to match; the caller logs it); one that reports a checksum must report ours.
    """
    problems: list[str] = []

    def differ(what: str, expected: object, got: object) -> None:
        problems.append(
            _("{what}: expected {expected}, found {found}").format(
                what=what, expected=expected, found=got
            )
        )

    if found.size != sent.size:
        differ(_("size"), sent.size, found.size)
    if found.checksum_sha256 is not None and not checksum_matches(
        sent.checksum, found.checksum_sha256
    ):
        differ(_("SHA-256 checksum"), sent.checksum, found.checksum_sha256)
    if found.sha256 != sent.sha256:
        differ("x-amz-meta-sha256", sent.sha256, found.sha256)
    if sent.version_id is not None and found.version_id != sent.version_id:
        differ(_("version id"), sent.version_id, found.version_id)
    if sent.lock_mode is not None:
        if sent.version_id is None:
            problems.append(_("version id: none returned, so the bucket cannot hold a lock"))
        if found.lock_mode != sent.lock_mode:
            differ(_("Object Lock mode"), sent.lock_mode, found.lock_mode)
        got = found.retain_until.replace(microsecond=0) if found.retain_until else None
        if got != sent.retain_until:
            differ("retain-until", _iso(sent.retain_until), _iso(got))
    if sent.legal_hold and found.legal_hold is not True:
        differ(_("legal hold"), "ON", found.legal_hold)
    return problems


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def check_hex(sha256: str) -> str:
    if not _HEX64.fullmatch(sha256):
        raise ValueError(f"not a lowercase hex SHA-256: {sha256!r}")
    return sha256
