"""C2SP tlog-witness ``add-checkpoint``: the request, the witness's decision, the answer.

Pure: the HTTP adapter (``verify.witness.server``) reads the body, calls ``decide`` under
its lock with the latest checkpoint it keeps for the origin, stores ``Answer.keep`` durably
and only then sends the answer. The client side (``format_request``, ``parse_size``) is here
too, so both ends read and write the same bytes. The bodies of answers are the protocol's
text for the submitting program and its log: English, never translated (issue 20).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from verify.log.merkle import EMPTY_ROOT, verify_consistency
from verify.log.note import (
    ForgedSignatureError,
    NoteError,
    UntrustedNoteError,
    VerifierKey,
    open_note,
    parse_checkpoint,
)
from verify.witness.cosignature import cosign

SIZE_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class AddCheckpoint:
    """A parsed request: the size the client thinks we saw, its proof, the signed note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Latest:
    """The newest checkpoint a witness cosigned for one origin (the note as submitted)."""

    origin: str
    size: int
    root: bytes
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    """What to send; ``keep`` is the new latest checkpoint, stored before answering."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"
    keep: Latest | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Witness:
    """The witness's identity and the logs it accepts: origin -> the keys that sign them."""

    name: str
    seed: bytes
    logs: Mapping[str, Sequence[VerifierKey]]


def format_request(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old_size}", *(base64.b64encode(h).decode("ascii") for h in proof)]
    return ("".join(f"{line}\n" for line in lines) + "\n" + note).encode("utf-8")


def parse_request(body: bytes) -> AddCheckpoint | Answer:
    """The request, or the 400 answer that says what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return _bad("the request body is not UTF-8")
    head, sep, note = text.partition("\n\n")
    if not sep:
        return _bad("no empty line ends the old size and proof lines")
    lines = head.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        return _bad(f"the first line is not 'old <size>': {lines[0][:80]!r}")
    if len(lines) - 1 > MAX_PROOF_LINES:
        return _bad(f"{len(lines) - 1} consistency proof lines; at most {MAX_PROOF_LINES}")
    proof: list[bytes] = []
    for number, line in enumerate(lines[1:], start=2):
        raw = _hash(line)
        if raw is None:
            return _bad(f"line {number} is not a base64 SHA-256 hash")
        proof.append(raw)
    return AddCheckpoint(old_size=int(match.group(1)), proof=tuple(proof), note=note)


def decide(
    request: AddCheckpoint, witness: Witness, latest_of: Mapping[str, Latest], now: int
) -> Answer:
    """The tlog-witness checks in the spec's order against the latest checkpoint kept per
    origin; 200 carries the cosignature line (its time ``now``, POSIX seconds)."""
    split = request.note.rfind("\n\n")
    try:
        checkpoint = parse_checkpoint(request.note[: split + 1] if split >= 0 else request.note)
    except NoteError as e:
        return _bad(f"not a checkpoint: {e}")
    keys = witness.logs.get(checkpoint.origin)
    if keys is None:
        return Answer(status=404, body=f"unknown log origin {checkpoint.origin!r}\n")
    try:
        opened = open_note(request.note, keys)
    except (UntrustedNoteError, ForgedSignatureError) as e:
        return Answer(status=403, body=f"no valid signature by a key of this log: {e}\n")
    except NoteError as e:
        return _bad(f"not a signed note: {e}")
    latest = latest_of.get(checkpoint.origin)
    if request.old_size > checkpoint.size:
        return _bad(f"old size {request.old_size} is larger than the checkpoint's size")
    seen = latest.size if latest is not None else 0
    if request.old_size != seen:
        return Answer(status=409, body=f"{seen}\n", content_type=SIZE_TYPE)
    old_root = latest.root if latest is not None else EMPTY_ROOT
    if checkpoint.size == seen and latest is not None and checkpoint.root != latest.root:
        return Answer(status=409, body=f"{seen}\n", content_type=SIZE_TYPE)
    if request.old_size == 0 and request.proof:
        return _bad("a consistency proof from size 0 must be empty")
    if request.old_size and not verify_consistency(
        request.old_size, checkpoint.size, old_root, checkpoint.root, request.proof
    ):
        return Answer(
            status=422,
            body=f"the proof does not show size {checkpoint.size} extends size {seen}\n",
        )
    line = cosign(opened.body, name=witness.name, seed=witness.seed, timestamp=now)
    keep = Latest(
        origin=checkpoint.origin, size=checkpoint.size, root=checkpoint.root, note=request.note
    )
    return Answer(status=200, body=line, keep=keep)


def parse_size(body: str) -> int | None:
    """The witness's latest size from a 409 answer's body, or None if it is not one."""
    text = body[:-1] if body.endswith("\n") else body
    return int(text) if re.fullmatch(r"0|[1-9][0-9]{0,19}", text) else None


def _bad(message: str) -> Answer:
    return Answer(status=400, body=message + "\n")


def _hash(line: str) -> bytes | None:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 and base64.b64encode(raw).decode("ascii") == line else None
