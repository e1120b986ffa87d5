"""C2SP signed notes (c2sp.org/signed-note) and tlog checkpoints (c2sp.org/tlog-checkpoint).

Pure text handling; the only cryptography is delegated to ``verify.log.signing`` (Ed25519).
Keys are named as in Go's golang.org/x/mod/sumdb/note: a verifier key is the string
``<name>+<8 hex key id>+<base64(0x01 || public key)>`` and the key id is the first four
bytes of SHA-256(name || 0x0A || 0x01 || public key).

A signed note is the note text (ending in a newline), a blank line, and one or more
signature lines ``— <name> <base64(key id || signature)>``. The text may contain blank
lines of its own: the last blank line of the note is the separator.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from i18n import N_, _, n_
from verify.log.signing import PUBLIC_KEY_SIZE, public_key, sign, verify_signature

__all__ = [
    "ED25519_ALGORITHM",
    "MAX_SIGNATURES",
    "Checkpoint",
    "CheckpointError",
    "ForgedSignatureError",
    "InvalidKeyError",
    "MalformedNoteError",
    "NoteError",
    "NoteSignature",
    "SignedNote",
    "UntrustedNoteError",
    "VerifierKey",
    "format_checkpoint",
    "key_id",
    "open_note",
    "parse_checkpoint",
    "parse_verifier_key",
    "sign_note",
    "verifier_key",
]

ED25519_ALGORITHM = 0x01
"""Signature type byte of Ed25519 in c2sp.org/signed-note."""

MAX_SIGNATURES = 100
"""Notes with more signature lines are rejected (the spec requires accepting at least 16)."""

MAX_TREE_SIZE = 2**64 - 1
"""Tree sizes are uint64 throughout the tlog ecosystem."""

_SIGNATURE_PREFIX = "\N{EM DASH} "
_KEY_ID_SIZE = 4
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_HEX_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class NoteError(ValueError):
    """Base of note and checkpoint failures: stable kebab-case ``code``, operator ``hint``."""

    code = "note-error"
    hint = N_("Check the note text and the configured verifier keys.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class MalformedNoteError(NoteError):
    """The text is not a well-formed signed note."""

    code = "note-malformed"
    hint = N_("The note was truncated or altered in transit; fetch it again from its source.")


class InvalidKeyError(NoteError):
    """A key name, verifier key string or trusted-key list is unusable."""

    code = "note-invalid-key"
    hint = N_("Copy the verifier key again from the log operator, exactly as published.")


class ForgedSignatureError(NoteError):
    """A signature claims a trusted key (name and key id match) but does not verify."""

    code = "note-forged-signature"
    hint = N_(
        "Treat the note as tampered with: do not use it, keep a copy as evidence "
        "and report it to the custodian of the log."
    )


class UntrustedNoteError(NoteError):
    """The note parsed, but no signature is by a trusted key."""

    code = "note-untrusted"
    hint = N_("Add the signer's verifier key to the trusted keys only if you trust that signer.")


class CheckpointError(NoteError):
    """The text is not a well-formed c2sp.org/tlog-checkpoint body."""

    code = "checkpoint-malformed"
    hint = N_("The checkpoint was truncated or altered; fetch it again from the log.")


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifierKey:
    """A trusted Ed25519 note key; ``key_id`` is checked against ``name`` and ``public``."""

    name: str
    key_id: bytes
    public: bytes

    def __post_init__(self) -> None:
        _check_name(self.name)
        if len(self.public) != PUBLIC_KEY_SIZE:
            raise InvalidKeyError(
                _("Ed25519 public key for {name!r} must be {size} bytes, got {got}").format(
                    name=self.name, size=PUBLIC_KEY_SIZE, got=len(self.public)
                )
            )
        expected = key_id(self.name, self.public)
        if self.key_id != expected:
            raise InvalidKeyError(
                _(
                    "key id {key_id} does not belong to key {name!r}: its public key gives "
                    "{expected}"
                ).format(key_id=self.key_id.hex(), name=self.name, expected=expected.hex())
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class NoteSignature:
    """A signature line's claimed signer: key name and 4-byte key id."""

    name: str
    key_id: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedNote:
    """An opened note: its text, who verifiably signed it, and signers we do not know."""

    body: str
    signers: tuple[str, ...]
    unknown: tuple[NoteSignature, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A transparency log tree head: origin, tree size, root hash, optional extensions."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_checkpoint_line(0, self.origin)
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(
                _("tree size must be between 0 and 2^64-1, got {size!r}").format(size=self.size)
            )
        if len(self.root) != 32:
            raise CheckpointError(
                _("root hash must be 32 bytes, got {got}").format(got=len(self.root))
            )
        for number, extension in enumerate(self.extensions, start=1):
            _check_checkpoint_line(number, extension)


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte key id: SHA-256(name || 0x0A || 0x01 || public)[:4]."""
    material = name.encode("utf-8") + b"\n" + bytes([ED25519_ALGORITHM]) + public
    return hashlib.sha256(material).digest()[:_KEY_ID_SIZE]


def verifier_key(name: str, public: bytes) -> str:
    """The verifier key string ``<name>+<hex key id>+<base64(0x01 || public)>``."""
    key = VerifierKey(name=name, key_id=key_id(name, public), public=public)
    encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + key.public).decode("ascii")
    return f"{key.name}+{key.key_id.hex()}+{encoded}"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse a verifier key string; ``InvalidKeyError`` says which part is wrong."""
    parts = text.split("+", 2)  # base64 key data may itself contain '+'
    if len(parts) != 3:
        raise InvalidKeyError(
            _(
                "verifier key {text!r} must have three '+'-separated parts (name+keyid+key), "
                "found {n}"
            ).format(text=text, n=len(parts))
        )
    name, hex_id, encoded = parts
    _check_name(name)
    if not _HEX_KEY_ID.fullmatch(hex_id):
        raise InvalidKeyError(
            _("key id {key_id!r} of verifier key {name!r} is not 8 hex digits").format(
                key_id=hex_id, name=name
            )
        )
    raw = _b64decode(encoded)
    if raw is None or len(raw) == 0:
        raise InvalidKeyError(
            _("key data of verifier key {name!r} is not valid base64").format(name=name)
        )
    if raw[0] != ED25519_ALGORITHM:
        raise InvalidKeyError(
            _(
                "verifier key {name!r} uses signature type 0x{type:02x}; only Ed25519 "
                "(0x{ed25519:02x}) is supported"
            ).format(name=name, type=raw[0], ed25519=ED25519_ALGORITHM)
        )
    return VerifierKey(name=name, key_id=bytes.fromhex(hex_id), public=raw[1:])


def sign_note(body: str, name: str, seed: bytes) -> str:
    """Sign note text ``body`` with the Ed25519 key ``seed`` under key name ``name``.

    Returns ``body + "\\n" + "— <name> <base64(key id || signature)>\\n"``; the signature
    covers the UTF-8 bytes of ``body``, which must end in a newline.
    """
    _check_name(name)
    if not body.endswith("\n"):
        raise MalformedNoteError(_("note text must end with a newline"))
    _check_note_characters(body)
    message = body.encode("utf-8")
    signature = key_id(name, public_key(seed)) + sign(seed, message)
    encoded = base64.b64encode(signature).decode("ascii")
    return f"{body}\n{_SIGNATURE_PREFIX}{name} {encoded}\n"


def open_note(text: str, keys: Sequence[VerifierKey]) -> SignedNote:
    """Parse a signed note and verify its signatures against the trusted ``keys``.

    Signatures whose (name, key id) is not trusted are ignored and listed in
    ``SignedNote.unknown``. Raises ``MalformedNoteError`` for bad syntax,
    ``ForgedSignatureError`` if a signature by a trusted key fails, and
    ``UntrustedNoteError`` if no trusted key signed the note.
    """
    trusted = _trusted_table(keys)
    _check_note_characters(text)
    split = text.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError(
            _("no blank line separates the note text from its signatures: the note is unsigned")
        )
    body, block = text[: split + 1], text[split + 2 :]
    if not block:
        raise MalformedNoteError(_("the note has no signature lines after its last blank line"))
    if not block.endswith("\n"):
        raise MalformedNoteError(_("the last signature line does not end with a newline"))
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(
            _("the note has {n} signature lines, more than the {max} accepted").format(
                n=len(lines), max=MAX_SIGNATURES
            )
        )
    message = body.encode("utf-8")
    signers: list[str] = []
    unknown: list[NoteSignature] = []
    for number, line in enumerate(lines, start=1):
        claimed, signature = _parse_signature_line(number, line)
        public = trusted.get((claimed.name, claimed.key_id))
        if public is None:
            if claimed not in unknown:
                unknown.append(claimed)
        elif verify_signature(public, message, signature):
            if claimed.name not in signers:
                signers.append(claimed.name)
        else:
            raise ForgedSignatureError(
                _(
                    "forged signature: line {number} claims the trusted key {key}, but the "
                    "signature does not verify over this note text; the text was altered "
                    "after signing or the signature was forged"
                ).format(number=number, key=f"{claimed.name}+{claimed.key_id.hex()}")
            )
    if not signers:
        found = ", ".join(f"{s.name}+{s.key_id.hex()}" for s in unknown)
        known = ", ".join(sorted(f"{n}+{i.hex()}" for n, i in trusted)) or _("none")
        raise UntrustedNoteError(
            _(
                "no signature on the note is by a trusted key: signed by {found}; trusted "
                "keys: {known}"
            ).format(found=found, known=known)
        )
    return SignedNote(body=body, signers=tuple(signers), unknown=tuple(unknown))


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The checkpoint note text: origin, size, base64 root, extensions, each ending "\\n"."""
    lines = [
        checkpoint.origin,
        str(checkpoint.size),
        base64.b64encode(checkpoint.root).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint note text strictly; ``CheckpointError`` says what is wrong."""
    if not body.endswith("\n"):
        raise CheckpointError(_("checkpoint text must end with a newline"))
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(
            n_(
                "checkpoint has {n} line; it needs an origin, a tree size and a root hash",
                "checkpoint has {n} lines; it needs an origin, a tree size and a root hash",
                len(lines),
            ).format(n=len(lines))
        )
    for number, line in enumerate(lines, start=1):
        if not line:
            raise CheckpointError(_("checkpoint line {number} is empty").format(number=number))
    origin, size_text, root_text, *extensions = lines
    if not _DECIMAL.fullmatch(size_text):
        raise CheckpointError(
            _(
                "tree size {size!r} is not a canonical decimal number (digits only, no sign, "
                "no leading zeros)"
            ).format(size=size_text)
        )
    size = int(size_text)
    if size > MAX_TREE_SIZE:
        raise CheckpointError(_("tree size {size} exceeds 2^64-1").format(size=size_text))
    root = _b64decode(root_text)
    if root is None:
        raise CheckpointError(
            _("root hash {root!r} is not canonical base64").format(root=root_text)
        )
    if len(root) != 32:
        raise CheckpointError(_("root hash decodes to {n} bytes, expected 32").format(n=len(root)))
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))


def _check_name(name: str) -> None:
    if not name:
        raise InvalidKeyError(_("key name is empty"))
    if "+" in name:
        raise InvalidKeyError(_("key name {name!r} contains '+'").format(name=name))
    if any(ch.isspace() or ch < " " for ch in name):
        raise InvalidKeyError(
            _("key name {name!r} contains whitespace or a control character").format(name=name)
        )


def _check_note_characters(text: str) -> None:
    for position, ch in enumerate(text):
        if ch < " " and ch != "\n":
            raise MalformedNoteError(
                _(
                    "control character U+{code:04X} at offset {position}: notes may only "
                    "contain newlines as control characters"
                ).format(code=ord(ch), position=position)
            )
        if "\ud800" <= ch <= "\udfff":
            raise MalformedNoteError(
                _("unpaired surrogate at offset {position}: not UTF-8").format(position=position)
            )


def _check_checkpoint_line(extension: int, value: str) -> None:
    """The origin (``extension`` 0) or extension line ``extension`` of a checkpoint."""
    if not value:
        raise CheckpointError(
            _("checkpoint extension line {number} is empty").format(number=extension)
            if extension
            else _("checkpoint origin is empty")
        )
    if any(ch < " " for ch in value):
        raise CheckpointError(
            _("checkpoint extension line {number} {value!r} contains a control character").format(
                number=extension, value=value
            )
            if extension
            else _("checkpoint origin {value!r} contains a control character").format(value=value)
        )


def _b64decode(text: str) -> bytes | None:
    """Strict standard base64 (RFC 4648 section 4, padded, canonical) or None."""
    if not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        return None
    if base64.b64encode(raw).decode("ascii") != text:
        return None
    return raw


def _parse_signature_line(number: int, line: str) -> tuple[NoteSignature, bytes]:
    if not line.startswith(_SIGNATURE_PREFIX):
        raise MalformedNoteError(
            _(
                "signature line {number} does not start with an em dash and a space: {line!r}"
            ).format(number=number, line=line)
        )
    name, separator, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    if not separator or not encoded:
        raise MalformedNoteError(
            _("signature line {number} has no signature after the name").format(number=number)
        )
    try:
        _check_name(name)
    except InvalidKeyError as error:
        raise MalformedNoteError(
            _("signature line {number}: {error}").format(number=number, error=error)
        ) from error
    raw = _b64decode(encoded)
    if raw is None or len(raw) <= _KEY_ID_SIZE:
        raise MalformedNoteError(
            _(
                "signature line {number} by {name!r} is not base64 of a key id and a signature"
            ).format(number=number, name=name)
        )
    claimed = NoteSignature(name=name, key_id=raw[:_KEY_ID_SIZE])
    return claimed, raw[_KEY_ID_SIZE:]


def _trusted_table(keys: Sequence[VerifierKey]) -> dict[tuple[str, bytes], bytes]:
    table: dict[tuple[str, bytes], bytes] = {}
    for key in keys:
        slot = (key.name, key.key_id)
        if table.setdefault(slot, key.public) != key.public:
            raise InvalidKeyError(
                _(
                    "two different trusted keys share name and key id {key}; signatures by "
                    "either cannot be told apart"
                ).format(key=f"{key.name}+{key.key_id.hex()}")
            )
    return table
