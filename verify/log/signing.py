"""Ed25519 over raw bytes: the one module that imports ``cryptography``.

Keys cross this boundary as raw bytes only: a private key is its 32-byte RFC 8032 seed,
a public key its 32-byte encoding, a signature 64 bytes.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "PUBLIC_KEY_SIZE",
    "SEED_SIZE",
    "SIGNATURE_SIZE",
    "generate_private_key",
    "public_key",
    "sign",
    "verify_signature",
]

SEED_SIZE = 32
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64


def _private(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != SEED_SIZE:
        raise ValueError(f"an Ed25519 private key seed is {SEED_SIZE} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def generate_private_key() -> bytes:
    """A fresh random Ed25519 private key, as its raw 32-byte seed."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte public key of the private key ``seed``."""
    return _private(seed).public_key().public_bytes_raw()


def sign(seed: bytes, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message`` (deterministic, RFC 8032)."""
    return _private(seed).sign(message)


def verify_signature(public: bytes, message: bytes, signature: bytes) -> bool:
    """True only for a valid signature; False for any failure, including malformed input."""
    if not (
        isinstance(public, bytes)
        and isinstance(message, bytes)
        and isinstance(signature, bytes)
        and len(public) == PUBLIC_KEY_SIZE
        and len(signature) == SIGNATURE_SIZE
    ):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
