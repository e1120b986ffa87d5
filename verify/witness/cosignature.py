"""C2SP tlog-cosignature/v1 with Ed25519: a witness's timestamped signature of a checkpoint.

A cosignature is a signed-note signature line ``— <name> base64(key id || timestamp ||
signature)``: the key id is SHA-256(name || "\\n" || 0x04 || public key)[:4], the timestamp
8 bytes big-endian (POSIX seconds), the signature Ed25519 over
``"cosignature/v1\\ntime <timestamp>\\n" + checkpoint note body``. Verifier keys are vkeys
``<name>+<hex key id>+base64(0x04 || public key)``. Pure: no clock, no file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass

from i18n import N_, _
from verify.log.note import InvalidKeyError, NoteError
from verify.log.signing import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, public_key, sign, verify_signature

COSIGNATURE_ALGORITHM = 0x04
"""Signature type byte of Ed25519 cosignature/v1 keys (c2sp.org/tlog-cosignature)."""

MAX_TIMESTAMP = 2**63 - 1
_PREFIX = "\N{EM DASH} "
_HEX_ID = re.compile(r"[0-9a-f]{8}")
_BLOB = 4 + 8 + SIGNATURE_SIZE


class CosignatureError(NoteError):
    """A cosignature line that does not verify, or is not one."""

    code = "witness-bad-signature"
    hint = N_(
        "Keep the line as evidence; check that the witness key in [trust] witnesses is the "
        "one its operator published."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CosignerKey:
    """A pinned witness key: name, 4-byte key id (checked), 32-byte Ed25519 public key."""

    name: str
    key_id: bytes
    public: bytes

    def __post_init__(self) -> None:
        if not self.name or "+" in self.name or any(c.isspace() for c in self.name):
            raise InvalidKeyError(
                _("witness key name {name!r} is empty or has '+' or spaces").format(name=self.name)
            )
        if len(self.public) != PUBLIC_KEY_SIZE:
            raise InvalidKeyError(
                _("witness key {name!r} is not a 32-byte Ed25519 key").format(name=self.name)
            )
        if self.key_id != cosigner_key_id(self.name, self.public):
            raise InvalidKeyError(
                _("key id {key_id} does not belong to {name!r}").format(
                    key_id=self.key_id.hex(), name=self.name
                )
            )

    @property
    def vkey(self) -> str:
        raw = bytes([COSIGNATURE_ALGORITHM]) + self.public
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(raw).decode('ascii')}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cosignature:
    """A verified cosignature: whose, when (POSIX seconds), and its note signature line."""

    witness: str
    timestamp: int
    line: str


def cosigner_key_id(name: str, public: bytes) -> bytes:
    material = name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_ALGORITHM]) + public
    return hashlib.sha256(material).digest()[:4]


def cosigner_key(name: str, seed: bytes) -> CosignerKey:
    """The verifier key of the witness private key ``seed`` under ``name``."""
    pub = public_key(seed)
    return CosignerKey(name=name, key_id=cosigner_key_id(name, pub), public=pub)


def parse_cosigner_key(text: str) -> CosignerKey:
    """Parse a vkey ``name+keyid+base64(0x04 || key)``; ``InvalidKeyError`` says what is wrong."""
    parts = text.split("+", 2)
    if len(parts) != 3 or not _HEX_ID.fullmatch(parts[1]):
        raise InvalidKeyError(
            _("witness key {text!r} is not name+keyid+key (8 hex digits of id)").format(text=text)
        )
    raw = _b64(parts[2])
    if raw is None or len(raw) != 1 + PUBLIC_KEY_SIZE or raw[0] != COSIGNATURE_ALGORITHM:
        raise InvalidKeyError(
            _(
                "witness key {name!r} is not base64 of 0x04 and a 32-byte Ed25519 key (a "
                "cosignature/v1 key)"
            ).format(name=parts[0])
        )
    return CosignerKey(name=parts[0], key_id=bytes.fromhex(parts[1]), public=raw[1:])


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the two header lines and the checkpoint note body."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode("utf-8")


def cosign(body: str, *, name: str, seed: bytes, timestamp: int) -> str:
    """The cosignature line (ending in a newline) of checkpoint note body ``body``."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"cosignature time {timestamp} is outside 0..2^63-1")
    key = cosigner_key(name, seed)
    blob = key.key_id + struct.pack(">Q", timestamp) + sign(seed, signed_message(body, timestamp))
    return f"{_PREFIX}{name} {base64.b64encode(blob).decode('ascii')}\n"


def claimed_by(line: str) -> tuple[str, bytes] | None:
    """The (name, key id) a signature line claims, or None when it is not a cosignature line."""
    parsed = _split(line)
    return None if parsed is None else (parsed[0], parsed[1][:4])


def verify_cosignature(body: str, line: str, key: CosignerKey) -> Cosignature:
    """Check one cosignature line by ``key`` over note body ``body``; raise if it fails."""
    parsed = _split(line)
    if parsed is None:
        raise CosignatureError(_("not a cosignature/v1 line: {line!r}").format(line=line.strip()))
    name, blob = parsed
    if name != key.name or blob[:4] != key.key_id:
        raise CosignatureError(
            _("cosignature by {signer} is not by the pinned key {key}").format(
                signer=f"{name}+{blob[:4].hex()}", key=f"{key.name}+{key.key_id.hex()}"
            )
        )
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    if timestamp > MAX_TIMESTAMP:
        raise CosignatureError(
            _("cosignature by {name} has a time beyond 2^63-1").format(name=name)
        )
    if not verify_signature(key.public, signed_message(body, timestamp), blob[12:]):
        raise CosignatureError(
            _(
                "cosignature by {name} does not verify over this checkpoint: the checkpoint "
                "or the line was altered, or the line was forged"
            ).format(name=name)
        )
    return Cosignature(witness=name, timestamp=timestamp, line=line.rstrip("\n") + "\n")


def _split(line: str) -> tuple[str, bytes] | None:
    text = line.rstrip("\n")
    if not text.startswith(_PREFIX) or "\n" in text:
        return None
    name, sep, encoded = text[len(_PREFIX) :].partition(" ")
    raw = _b64(encoded) if sep and name else None
    return None if raw is None or len(raw) != _BLOB else (name, raw)


def _b64(text: str) -> bytes | None:
    """Strict canonical standard base64, or None."""
    if not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None
