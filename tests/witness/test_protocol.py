"""tlog-witness add-checkpoint: what the witness answers, decided without I/O."""

from __future__ import annotations

from verify.log.merkle import MemoryTree, consistency_proof
from verify.log.note import (
    Checkpoint,
    format_checkpoint,
    parse_verifier_key,
    sign_note,
    verifier_key,
)
from verify.log.signing import public_key
from verify.witness.cosignature import cosigner_key, verify_cosignature
from verify.witness.protocol import (
    SIZE_TYPE,
    AddCheckpoint,
    Answer,
    Latest,
    Witness,
    decide,
    format_request,
    parse_request,
    parse_size,
)

ORIGIN = "evidock/custody-log"
LOG_SEED = bytes([1]) * 32
W_SEED = bytes([2]) * 32


def tree(leaves: list[bytes]) -> MemoryTree:
    t = MemoryTree()
    for data in leaves:
        t.append(data)
    return t


def note(t: MemoryTree, size: int, seed: bytes = LOG_SEED) -> str:
    body = format_checkpoint(Checkpoint(origin=ORIGIN, size=size, root=t.root(size)))
    return sign_note(body, "dock-01", seed)


def witness() -> Witness:
    key = parse_verifier_key(verifier_key("dock-01", public_key(LOG_SEED)))
    return Witness(name="w1", seed=W_SEED, logs={ORIGIN: [key]})


def submit(t: MemoryTree, old: int, new: int, seen: dict[str, Latest]) -> Answer:
    proof = consistency_proof(old, new, t.read)
    request = parse_request(format_request(old, proof, note(t, new)))
    assert isinstance(request, AddCheckpoint)
    return decide(request, witness(), seen, now=1700000000)


def kept(answer: Answer) -> dict[str, Latest]:
    assert answer.keep is not None
    return {ORIGIN: answer.keep}


def test_first_checkpoint_is_cosigned_and_kept() -> None:
    """Old size 0, no proof: 200 with a cosignature that verifies; the checkpoint is kept."""
    t = tree([b"a", b"b", b"c"])
    answer = submit(t, 0, 3, {})
    assert answer.status == 200
    assert answer.keep is not None and answer.keep.size == 3
    body = note(t, 3)[: note(t, 3).rfind("\n\n") + 1]
    assert verify_cosignature(body, answer.body, cosigner_key("w1", W_SEED)).timestamp == (
        1700000000
    )


def test_growth_with_a_valid_proof_is_cosigned() -> None:
    """From the kept size, a consistency proof to the new size: 200."""
    t = tree([bytes([i]) for i in range(7)])
    seen = kept(submit(t, 0, 3, {}))
    answer = submit(t, 3, 7, seen)
    assert answer.status == 200
    assert answer.keep is not None and answer.keep.size == 7


def test_a_wrong_old_size_gets_409_with_the_witness_size() -> None:
    """Old size other than the kept one: 409, text/x.tlog.size, the kept size."""
    t = tree([bytes([i]) for i in range(7)])
    seen = kept(submit(t, 0, 5, {}))
    answer = submit(t, 3, 7, seen)
    assert (answer.status, answer.content_type, answer.body) == (409, SIZE_TYPE, "5\n")
    assert answer.keep is None
    assert parse_size(answer.body) == 5


def test_a_fork_fails_the_proof_with_422() -> None:
    """A different history from the kept size on: the proof does not verify, 422."""
    honest = tree([bytes([i]) for i in range(5)])
    seen = kept(submit(honest, 0, 5, {}))
    forked = tree([bytes([i]) for i in range(3)] + [b"x", b"y", b"z", b"w"])
    answer = submit(forked, 5, 7, seen)
    assert answer.status == 422
    assert answer.keep is None


def test_same_size_other_root_is_a_conflict() -> None:
    """The kept size again with another root: 409."""
    honest = tree([bytes([i]) for i in range(5)])
    seen = kept(submit(honest, 0, 5, {}))
    forked = tree([b"q"] * 5)
    assert submit(forked, 5, 5, seen).status == 409


def test_unknown_origin_is_404_and_unknown_key_is_403() -> None:
    """A log the witness does not follow: 404; signed by another key: 403."""
    t = tree([b"a"])
    other = Witness(name="w1", seed=W_SEED, logs={"another/log": witness().logs[ORIGIN]})
    request = parse_request(format_request(0, [], note(t, 1)))
    assert isinstance(request, AddCheckpoint)
    assert decide(request, other, {}, now=1).status == 404
    forged = parse_request(format_request(0, [], note(t, 1, seed=bytes(32))))
    assert isinstance(forged, AddCheckpoint)
    assert decide(forged, witness(), {}, now=1).status == 403


def test_malformed_requests_get_400() -> None:
    """No old line, a bad hash, an old size beyond the checkpoint: 400."""
    t = tree([b"a", b"b"])
    for body in (b"hello\n\n", b"old 1\nnot-base64\n\n" + note(t, 2).encode()):
        answer = parse_request(body)
        assert isinstance(answer, Answer) and answer.status == 400
    request = parse_request(format_request(3, [], note(t, 2)))
    assert isinstance(request, AddCheckpoint)
    assert decide(request, witness(), {}, now=1).status == 400
