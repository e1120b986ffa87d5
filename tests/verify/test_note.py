"""Tests for verify.log.note (C2SP signed note, tlog checkpoint) and verify.log.signing."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.log.merkle import MemoryTree
from verify.log.note import (
    MAX_SIGNATURES,
    Checkpoint,
    CheckpointError,
    ForgedSignatureError,
    InvalidKeyError,
    MalformedNoteError,
    NoteError,
    NoteSignature,
    UntrustedNoteError,
    VerifierKey,
    format_checkpoint,
    key_id,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key,
)
from verify.log.signing import generate_private_key, public_key, sign, verify_signature

# --- Vectors from golang.org/x/mod/sumdb/note (note.go package doc and note_test.go) ---
# The signer key "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALV..." is base64 of
# 0x01 || Ed25519 seed; Ed25519 is deterministic, so the signed note must match byte
# for byte.
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
    "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oO"
    "TGwnWLox33WWd1RvMc+QQ=\n"
)

# Example checkpoint body from c2sp.org/tlog-checkpoint.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

PETER = parse_verifier_key(PETER_VKEY)
ENOCH = parse_verifier_key(ENOCH_VKEY)
ROOT = b"\xfb\xef\xbe\xff\xff\xff" + bytes(range(26))  # base64 has '+' and '/'

LOG_SEED = bytes(range(100, 132))
LOG_NAME = "evidock.example/custody"
LOG_KEY = parse_verifier_key(verifier_key(LOG_NAME, public_key(LOG_SEED)))


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# --- Keys -----------------------------------------------------------------------------


def test_key_id_and_verifier_key_match_go_note_package_vector() -> None:
    """The PeterNeumann seed yields key id c74f20a3 and Go's exact verifier key string."""
    public = public_key(PETER_SEED)
    assert key_id("PeterNeumann", public) == bytes.fromhex("c74f20a3")
    assert verifier_key("PeterNeumann", public) == PETER_VKEY
    assert (
        VerifierKey(name="PeterNeumann", key_id=bytes.fromhex("c74f20a3"), public=public) == PETER
    )


def test_verifier_key_whose_base64_contains_plus_parses() -> None:
    """Only the first two '+' separate fields: base64 key data may contain '+' itself."""
    seed = bytes(31) + b"\x03"
    text = verifier_key("0", public_key(seed))
    assert text == "0+8c2dd446+AfOBYm5B5wJ+pDG/4wCelL3SWnRr7sRolI1sPHxdyaVL"
    assert parse_verifier_key(text).public == public_key(seed)


def test_every_truncation_of_a_verifier_key_is_rejected() -> None:
    """Any proper substring of a valid verifier key fails to parse, as in Go's tests."""
    for start in range(len(PETER_VKEY)):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) == (0, len(PETER_VKEY)):
                continue
            with pytest.raises(InvalidKeyError):
                parse_verifier_key(PETER_VKEY[start:end])


def test_every_single_character_change_of_a_verifier_key_is_rejected() -> None:
    """Bumping any one character of a valid verifier key fails to parse."""
    for position, ch in enumerate(PETER_VKEY):
        mangled = PETER_VKEY[:position] + chr(ord(ch) + 1) + PETER_VKEY[position + 1 :]
        with pytest.raises(InvalidKeyError):
            parse_verifier_key(mangled)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
            "base64",
        ),
        ("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "only Ed25519"),
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not belong"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "whitespace"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "empty"),
        ("PeterNeumann+c74f20a3", "three"),
        ("PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex"),
    ],
)
def test_verifier_key_errors_say_what_is_wrong(text: str, message: str) -> None:
    """Wrong length, algorithm, key id, name or shape each get a specific message."""
    with pytest.raises(InvalidKeyError, match=message):
        parse_verifier_key(text)


# --- Signing and opening notes ----------------------------------------------------------


def test_signing_reproduces_go_note_package_signed_note() -> None:
    """sign_note gives byte-for-byte the signed note of the Go note package docs."""
    assert sign_note(GO_TEXT, "PeterNeumann", PETER_SEED) == GO_TEXT + "\n" + PETER_SIG


def test_go_doubly_signed_note_opens_with_the_trusted_keys() -> None:
    """Both Go signatures verify; an untrusted second signer is reported, not verified."""
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    both = open_note(note, [PETER, ENOCH])
    assert both.body == GO_TEXT
    assert both.signers == ("PeterNeumann", "EnochRoot")
    assert both.unknown == ()
    peter_only = open_note(note, [PETER])
    assert peter_only.signers == ("PeterNeumann",)
    assert peter_only.unknown == (NoteSignature(name="EnochRoot", key_id=ENOCH.key_id),)


printable = st.characters(min_codepoint=0x20, exclude_categories=["Cs"])
note_text = st.text(alphabet=st.one_of(printable, st.just("\n"))).map(lambda t: t + "\n")
key_names = st.text(
    alphabet=st.characters(min_codepoint=0x21, exclude_categories=("Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
).filter(lambda name: "+" not in name and not any(ch.isspace() for ch in name))


@given(body=note_text, name=key_names, seed=st.binary(min_size=32, max_size=32))
def test_signed_note_round_trips(body: str, name: str, seed: bytes) -> None:
    """Any valid text signed under any valid name opens to the same text and signer."""
    key = parse_verifier_key(verifier_key(name, public_key(seed)))
    opened = open_note(sign_note(body, name, seed), [key])
    assert opened.body == body
    assert opened.signers == (name,)


def test_note_text_may_contain_blank_lines() -> None:
    """The last blank line separates text from signatures, so inner blank lines survive."""
    body = "first\n\nsecond\n\n— looks like a signature line\n"
    assert open_note(sign_note(body, LOG_NAME, LOG_SEED), [LOG_KEY]).body == body


def test_modified_body_is_reported_as_forgery() -> None:
    """Changing one character of a signed text makes the trusted signature a forgery."""
    signed = sign_note("size 10\n", LOG_NAME, LOG_SEED)
    with pytest.raises(ForgedSignatureError, match="forged"):
        open_note(signed.replace("size 10", "size 11"), [LOG_KEY])


def test_note_signed_only_by_unknown_key_is_rejected() -> None:
    """A note whose only signature is by an untrusted key is rejected, naming the signer."""
    stranger = generate_private_key()
    signed = sign_note("hello\n", "stranger.example", stranger)
    with pytest.raises(UntrustedNoteError, match=r"stranger\.example\+"):
        open_note(signed, [LOG_KEY])


def test_forged_signature_with_known_key_id_is_reported_as_forgery() -> None:
    """A signature line carrying a trusted name and key id but another key's signature."""
    body = "custody log\n7\n"
    impostor = generate_private_key()
    forged = _b64(LOG_KEY.key_id + sign(impostor, body.encode()))
    note = f"{body}\n— {LOG_NAME} {forged}\n"
    with pytest.raises(ForgedSignatureError) as caught:
        open_note(note, [LOG_KEY])
    assert "forged signature" in str(caught.value)
    assert f"{LOG_NAME}+{LOG_KEY.key_id.hex()}" in str(caught.value)
    assert caught.value.code == "note-forged-signature"


def test_forgery_is_reported_even_next_to_a_valid_signature() -> None:
    """One failing trusted signature rejects the note although another one verifies."""
    body = "custody log\n7\n"
    bad = _b64(PETER.key_id + sign(LOG_SEED, body.encode()))
    note = sign_note(body, LOG_NAME, LOG_SEED) + f"— PeterNeumann {bad}\n"
    with pytest.raises(ForgedSignatureError, match="PeterNeumann"):
        open_note(note, [LOG_KEY, PETER])


def test_signature_sharing_only_the_name_of_a_trusted_key_is_ignored() -> None:
    """Same name, other key id: an unknown key per the spec, reported but not verified."""
    rotated = generate_private_key()
    note = sign_note("rotation\n", LOG_NAME, LOG_SEED)
    note += sign_note("rotation\n", LOG_NAME, rotated).split("\n\n", 1)[1]
    opened = open_note(note, [LOG_KEY])
    assert opened.signers == (LOG_NAME,)
    assert opened.unknown == (
        NoteSignature(name=LOG_NAME, key_id=key_id(LOG_NAME, public_key(rotated))),
    )


def test_two_different_trusted_keys_with_the_same_name_and_id_are_refused() -> None:
    """An ambiguous trusted-key list is a configuration error, not a silent pick."""
    # Key ids are 32 bits, so collisions are cheap: these two keys (found by brute
    # force over public = i.to_bytes(32, "big")) share name and key id 8b8f24bc.
    first = (22922).to_bytes(32, "big")
    second = (28974).to_bytes(32, "big")
    assert key_id("twin.example", first) == key_id("twin.example", second)
    twins = [
        VerifierKey(name="twin.example", key_id=key_id("twin.example", public), public=public)
        for public in (first, second)
    ]
    with pytest.raises(InvalidKeyError, match="cannot be told apart"):
        open_note(GO_TEXT + "\n" + PETER_SIG, [PETER, *twins])


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG,
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Peter Neumann"),
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG.replace("— ", "- "),
        GO_TEXT + "\n" + PETER_SIG.replace("x08go/", "x08go!"),
        GO_TEXT + "\n— PeterNeumann\n",
        GO_TEXT + "\n— PeterNeumann x08go/Y\n",
        GO_TEXT + "\n— PeterNeumann AAAAAA==\n",
        GO_TEXT + "\n— Peter+Neumann " + PETER_SIG.split()[-1] + "\n",
        GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1),
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    """Missing separator, bad characters, bad signature lines or too many are malformed."""
    with pytest.raises(MalformedNoteError):
        open_note(note, [PETER])


def test_repeated_signatures_up_to_the_limit_are_accepted() -> None:
    """Duplicate signature lines are tolerated up to the signature limit."""
    note = GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES
    assert open_note(note, [PETER]).signers == ("PeterNeumann",)


@pytest.mark.parametrize(
    ("body", "name", "error"),
    [
        ("no final newline", LOG_NAME, MalformedNoteError),
        ("tab\there\n", LOG_NAME, MalformedNoteError),
        ("ok\n", "", InvalidKeyError),
        ("ok\n", "has space", InvalidKeyError),
        ("ok\n", "has+plus", InvalidKeyError),
        ("ok\n", "nbsp\u00a0name", InvalidKeyError),
    ],
)
def test_sign_note_refuses_text_or_names_the_spec_forbids(
    body: str, name: str, error: type[NoteError]
) -> None:
    """Texts without a final newline or with control characters, and bad names, are refused."""
    with pytest.raises(error):
        sign_note(body, name, LOG_SEED)


def test_note_errors_are_value_errors_with_code_and_hint() -> None:
    """Every note error is a ValueError carrying a stable code and a hint."""
    with pytest.raises(ValueError, match="blank line") as caught:
        open_note("no newline", [PETER])
    assert isinstance(caught.value, NoteError)
    assert caught.value.code == "note-malformed"
    assert caught.value.hint


# --- Signing adapter ------------------------------------------------------------------


def test_signature_verification_returns_false_instead_of_raising() -> None:
    """Bad keys, signatures or messages give False; a genuine signature gives True."""
    public = public_key(LOG_SEED)
    signature = sign(LOG_SEED, b"message")
    assert verify_signature(public, b"message", signature)
    assert not verify_signature(public, b"messagf", signature)
    assert not verify_signature(public, b"message", signature[:-1])
    assert not verify_signature(public, b"message", bytes(64))
    assert not verify_signature(public[:-1], b"message", signature)
    assert not verify_signature(b"\xff" * 32, b"message", signature)


def test_generated_keys_are_fresh_32_byte_seeds() -> None:
    """Generated seeds are 32 bytes, distinct, and sign verifiably."""
    first, second = generate_private_key(), generate_private_key()
    assert len(first) == len(second) == 32
    assert first != second
    assert verify_signature(public_key(first), b"x", sign(first, b"x"))


# --- Checkpoints ----------------------------------------------------------------------


def test_spec_example_checkpoint_parses_and_formats_back_identically() -> None:
    """The c2sp.org/tlog-checkpoint example body survives parse and format unchanged."""
    checkpoint = parse_checkpoint(SPEC_CHECKPOINT)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert checkpoint.extensions == ()
    assert format_checkpoint(checkpoint) == SPEC_CHECKPOINT


@given(
    origin=key_names,
    size=st.integers(min_value=0, max_value=2**64 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(key_names, max_size=3).map(tuple),
)
def test_checkpoint_round_trips(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    """Any valid checkpoint formats to a body that parses back to the same record."""
    checkpoint = Checkpoint(origin=origin, size=size, root=root, extensions=extensions)
    assert parse_checkpoint(format_checkpoint(checkpoint)) == checkpoint


def test_signed_checkpoint_of_a_tree_opens_and_matches_its_root() -> None:
    """A checkpoint over a real tree, signed and opened, yields the tree's size and root."""
    tree = MemoryTree()
    for i in range(13):
        tree.append(f"event {i}".encode())
    checkpoint = Checkpoint(origin=LOG_NAME, size=tree.size, root=tree.root())
    opened = open_note(sign_note(format_checkpoint(checkpoint), LOG_NAME, LOG_SEED), [LOG_KEY])
    assert parse_checkpoint(opened.body) == checkpoint


ROOT_B64 = _b64(ROOT)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "end with a newline"),
        (f"origin\n5\n{ROOT_B64}", "end with a newline"),
        ("origin\n", "1 line"),
        ("origin\n5\n", "2 line"),
        (f"\n5\n{ROOT_B64}\n", "line 1 is empty"),
        (f"origin\n\n{ROOT_B64}\n", "line 2 is empty"),
        (f"origin\n5\n{ROOT_B64}\n\n", "line 4 is empty"),
        (f"origin\n5\n{ROOT_B64}\next\n\n", "line 5 is empty"),
        (f"origin\n05\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n00\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n+5\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n-1\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n 5\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n5 \n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n1_000\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n\u0665\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n0x10\n{ROOT_B64}\n", "canonical decimal"),
        (f"origin\n{2**64}\n{ROOT_B64}\n", "exceeds"),
        (f"origin\n5\n{_b64(ROOT[:31])}\n", "31 bytes"),
        (f"origin\n5\n{_b64(ROOT + b'!')}\n", "33 bytes"),
        (f"origin\n5\n{ROOT_B64.rstrip('=')}\n", "base64"),
        (f"origin\n5\n{ROOT_B64[:-2]}B=\n", "base64"),
        (f"origin\n5\n{ROOT_B64[:10]}*{ROOT_B64[11:]}\n", "base64"),
        (f"origin\n5\n{ROOT_B64.replace('+', '-').replace('/', '_')}\n", "base64"),
        (f"origin\n5\n {ROOT_B64}\n", "base64"),
        (f"origin\n5\n{ROOT.hex()}\n", "48 bytes"),
        (f"ori\tgin\n5\n{ROOT_B64}\n", "control character"),
    ],
)
def test_checkpoint_parse_rejects_malformed_bodies(body: str, message: str) -> None:
    """Missing or empty lines, non-canonical sizes and bad roots are refused, with a reason."""
    with pytest.raises(CheckpointError, match=message):
        parse_checkpoint(body)


@pytest.mark.parametrize(
    "fields",
    [
        {"origin": "", "size": 1, "root": ROOT},
        {"origin": "a\nb", "size": 1, "root": ROOT},
        {"origin": "o", "size": -1, "root": ROOT},
        {"origin": "o", "size": 2**64, "root": ROOT},
        {"origin": "o", "size": 1, "root": ROOT[:16]},
        {"origin": "o", "size": 1, "root": ROOT, "extensions": ("",)},
        {"origin": "o", "size": 1, "root": ROOT, "extensions": ("a\nb",)},
    ],
)
def test_checkpoint_record_cannot_hold_an_unformattable_value(fields: dict[str, object]) -> None:
    """A Checkpoint that could not be written as a valid body cannot be constructed."""
    with pytest.raises(CheckpointError):
        Checkpoint(**fields)  # type: ignore[arg-type]
