"""The dock's Ed25519 signing key on disk: created once, 0600, never overwritten."""

from __future__ import annotations

import base64
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from i18n import _
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
    try:
        return _create(path, name), True
    except FileExistsError:
        return load(path, name), False


def _create(path: Path, name: str) -> DockKey:
    """A fresh key written to ``path`` (0600, which must not exist yet)."""
    seed = signing.generate_private_key()
    pub = signing.public_key(seed)
    text = f"{_PREFIX}{name}+{key_id(name, pub).hex()}+" + base64.b64encode(
        ALG_ED25519 + seed
    ).decode("ascii")
    os.makedirs(path.parent, mode=0o700, exist_ok=True)
    atomic_write(path, (text + "\n").encode("ascii"), mode=0o600, exclusive=True)
    return DockKey(name=name, seed=seed, public=pub)


def next_key_path(keys_dir: Path, name: str) -> Path:
    """Where ``evidock key rotate`` keeps the new key until the catalog has registered it."""
    return keys_dir / f"{name}.key.next"


def next_key(keys_dir: Path, name: str) -> DockKey:
    """The new key of a rotation under way: the one written before (a rotation cut short
    goes on with it), or a fresh one."""
    path = next_key_path(keys_dir, name)
    if path.exists():
        return load(path, name)
    try:
        return _create(path, name)
    except FileExistsError:
        return load(path, name)


def install_next_key(keys_dir: Path, name: str, old: DockKey) -> Path:
    """After the catalog registered it: the new key becomes ``<name>.key``; the old one is
    kept as ``<name>.<keyid>.retired.key`` (0600) for the office to destroy or archive."""
    retired = keys_dir / f"{name}.{key_id(name, old.public).hex()}.retired.key"
    current = key_path(keys_dir, name)
    if current.exists() and load(current, name).public == old.public:
        os.replace(current, retired)
    os.replace(next_key_path(keys_dir, name), current)
    return retired


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
            _("signing key {path} is readable by others (mode {mode:o})").format(
                path=path, mode=stat.S_IMODE(st.st_mode)
            ),
        )
    text = path.read_text(encoding="ascii").strip()
    parts = text.split("+", 4)  # base64 may itself contain "+"
    if len(parts) != 5 or not text.startswith(_PREFIX) or parts[2] != name:
        raise SigningKeyError(
            _("signing key {path} is not a private key for dock {name!r}").format(
                path=path, name=name
            )
        )
    raw = base64.b64decode(parts[4], validate=True)
    if raw[:1] != ALG_ED25519 or len(raw) != 1 + signing.SEED_SIZE:
        raise SigningKeyError(_("signing key {path} is not an Ed25519 key").format(path=path))
    seed = raw[1:]
    pub = signing.public_key(seed)
    if key_id(name, pub).hex() != parts[3]:
        raise SigningKeyError(
            _("signing key {path}: key id does not match the key").format(path=path)
        )
    return DockKey(name=name, seed=seed, public=pub)
