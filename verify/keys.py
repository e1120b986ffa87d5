"""The dock's Ed25519 signing key on disk: created once, 0600, never overwritten."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from storage.blobs.durable import atomic_write
from verify.errors import SigningKeyError
from verify.log import signing
from verify.log.note import key_id, verifier_key

_PREFIX = "PRIVATE+KEY+"
ALG_ED25519 = b"\x01"


@dataclass(frozen=True, slots=True, kw_only=True)
class DockKey:
    name: str
    seed: bytes
    public: bytes

    @property
    def verifier(self) -> str:
        return verifier_key(self.name, self.public)


def key_path(keys_dir: Path, name: str) -> Path:
    return keys_dir / f"{name}.key"


def load_or_create(keys_dir: Path, name: str) -> tuple[DockKey, bool]:
    """The key of dock ``name``; created (0600) when absent. Returns (key, created)."""
    path = key_path(keys_dir, name)
    if path.exists():
        return load(path, name), False
    seed = signing.generate_private_key()
    pub = signing.public_key(seed)
    text = f"{_PREFIX}{name}+{key_id(name, pub).hex()}+" + base64.b64encode(
        ALG_ED25519 + seed
    ).decode("ascii")
    os.makedirs(keys_dir, mode=0o700, exist_ok=True)
    try:
        atomic_write(path, (text + "\n").encode("ascii"), mode=0o600, exclusive=True)
    except FileExistsError:
        return load(path, name), False
    return DockKey(name=name, seed=seed, public=pub), True


def load_if_readable(keys_dir: Path, name: str) -> DockKey | None:
    """The key of dock ``name`` if its file is there and sound; None otherwise (an audit
    reports a missing or unreadable key, it does not stop on it)."""
    path = key_path(keys_dir, name)
    try:
        return load(path, name) if path.exists() else None
    except (OSError, SigningKeyError):
        return None


def load(path: Path, name: str) -> DockKey:
    st = path.stat()
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise SigningKeyError(
            f"signing key {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o})",
        )
    text = path.read_text(encoding="ascii").strip()
    parts = text.split("+", 4)  # base64 may itself contain "+"
    if len(parts) != 5 or not text.startswith(_PREFIX) or parts[2] != name:
        raise SigningKeyError(f"signing key {path} is not a private key for dock {name!r}")
    raw = base64.b64decode(parts[4], validate=True)
    if raw[:1] != ALG_ED25519 or len(raw) != 1 + signing.SEED_SIZE:
        raise SigningKeyError(f"signing key {path} is not an Ed25519 key")
    seed = raw[1:]
    pub = signing.public_key(seed)
    if key_id(name, pub).hex() != parts[3]:
        raise SigningKeyError(f"signing key {path}: key id does not match the key")
    return DockKey(name=name, seed=seed, public=pub)
