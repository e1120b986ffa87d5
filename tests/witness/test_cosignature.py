"""tlog-cosignature/v1: format, key ids, verification."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from verify.log.note import InvalidKeyError
from verify.witness.cosignature import (
    CosignatureError,
    cosign,
    cosigner_key,
    cosigner_key_id,
    parse_cosigner_key,
    signed_message,
    verify_cosignature,
)

SEED = bytes(range(32))
BODY = "evidock/custody-log\n3\n" + base64.b64encode(b"\x07" * 32).decode() + "\n"


def test_key_id_is_sha256_of_name_newline_0x04_and_public_key() -> None:
    """The key id commits to the cosignature/v1 type byte 0x04, not the note's 0x01."""
    key = cosigner_key("w.example/w1", SEED)
    expected = hashlib.sha256(b"w.example/w1\n\x04" + key.public).digest()[:4]
    assert cosigner_key_id("w.example/w1", key.public) == expected == key.key_id


def test_verifier_key_round_trips_through_its_text() -> None:
    """The printed vkey parses back to the same key."""
    key = cosigner_key("w.example/w1", SEED)
    assert key.vkey.startswith(f"w.example/w1+{key.key_id.hex()}+BA")
    assert parse_cosigner_key(key.vkey) == key


def test_a_note_key_type_is_not_a_witness_key() -> None:
    """A vkey with type 0x01 (a log's note key) is refused as a witness key."""
    key = cosigner_key("w1", SEED)
    note_type = base64.b64encode(b"\x01" + key.public).decode()
    with pytest.raises(InvalidKeyError):
        parse_cosigner_key(f"w1+{key.key_id.hex()}+{note_type}")


def test_signed_message_has_the_header_and_time_lines_before_the_body() -> None:
    """The message is 'cosignature/v1', 'time N' and the checkpoint body."""
    assert signed_message(BODY, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\n" + BODY.encode()
    )


def test_cosignature_line_carries_key_id_timestamp_and_signature() -> None:
    """The line's blob is key id (4) || big-endian time (8) || Ed25519 signature (64)."""
    line = cosign(BODY, name="w1", seed=SEED, timestamp=1700000000)
    name, blob64 = line.rstrip("\n").removeprefix("\N{EM DASH} ").split(" ")
    blob = base64.b64decode(blob64)
    assert name == "w1"
    assert len(blob) == 76
    assert blob[:4] == cosigner_key("w1", SEED).key_id
    assert struct.unpack(">Q", blob[4:12]) == (1700000000,)


def test_cosignature_verifies_and_gives_its_time() -> None:
    """Sign then verify: the witness and time come back."""
    key = cosigner_key("w1", SEED)
    line = cosign(BODY, name="w1", seed=SEED, timestamp=1700000000)
    cosig = verify_cosignature(BODY, line, key)
    assert (cosig.witness, cosig.timestamp, cosig.line) == ("w1", 1700000000, line)


def test_a_flipped_bit_in_the_signature_fails() -> None:
    """One bit changed in the signature: the cosignature does not verify."""
    key = cosigner_key("w1", SEED)
    line = cosign(BODY, name="w1", seed=SEED, timestamp=1700000000)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[40] ^= 0x01
    forged = f"\N{EM DASH} w1 {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CosignatureError):
        verify_cosignature(BODY, forged, key)


def test_a_changed_time_or_checkpoint_fails() -> None:
    """The time and the checkpoint body are both signed."""
    key = cosigner_key("w1", SEED)
    line = cosign(BODY, name="w1", seed=SEED, timestamp=1700000000)
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 0x01
    later = f"\N{EM DASH} w1 {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(CosignatureError):
        verify_cosignature(BODY, later, key)
    with pytest.raises(CosignatureError):
        verify_cosignature(BODY.replace("\n3\n", "\n4\n"), line, key)


def test_a_cosignature_by_another_witness_is_not_accepted_for_the_pinned_one() -> None:
    """A valid line by another key does not count as the pinned witness's."""
    other = bytes(32)
    line = cosign(BODY, name="w1", seed=other, timestamp=1)
    with pytest.raises(CosignatureError, match="not by the pinned key"):
        verify_cosignature(BODY, line, cosigner_key("w1", SEED))
