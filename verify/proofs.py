"""Chain-of-custody proofs that can be checked without the catalog.

``prove_item`` gives an item's custody events, each with its leaf hash and an RFC 9162
inclusion proof against one signed checkpoint; ``CustodyProof.to_json`` is the report's
``checkpoint`` and ``events`` parts. ``check_report`` checks such a report offline: it rebuilds
every event's canonical bytes from the report's own fields, verifies each inclusion proof
against the checkpoint root and the checkpoint's signature against a verifier key. A key taken
from the report itself only shows the report is self-consistent: it must be compared with the
office's published key (or given as ``trusted_key``).

The checkpoint also carries what others say about it (issue 15): the witnesses' cosignature
lines (C2SP tlog-cosignature/v1 over the note body), the witness keys the dock pinned, and the
RFC 3161 token over the note. ``check_report`` verifies each cosignature with the witness keys
it is given (or, failing those, the report's own, which again only show self-consistency),
counts them against a quorum, and checks the token's messageImprint against the note and, given
the TSA's chain, its signature.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from i18n import N_, _, n_
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.session import Transaction
from storage.records import Checkpoint, Event
from verify.errors import VerifyError
from verify.log.events import canonical_object, event_leaf, event_object, parse_time
from verify.log.merkle import inclusion_proof, leaf_hash, root, verify_inclusion
from verify.log.note import Checkpoint as NoteCheckpoint
from verify.log.note import (
    InvalidKeyError,
    NoteError,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
)
from verify.problems import Problem
from verify.tsa.rfc3161 import TimestampError, TsaChain, check, read_unchained
from verify.witness.cosignature import (
    CosignatureError,
    CosignerKey,
    claimed_by,
    parse_cosigner_key,
    verify_cosignature,
)
from verify.witness.submit import note_body

REPORT_FORMAT = "evidock-custody-report/1"
EVENT_FIELDS = ("seq", "time", "type", "item", "actor", "dock", "data", "prev")
_HASH_EVENTS = ("acquired", "verified", "stored")


class CustodyProofError(VerifyError):
    code = "custody-proof-failed"
    hint = N_("The catalog does not prove this item's custody: run 'evidock verify' and report it.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProvenEvent:
    event: Event
    leaf: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustEvidence:
    """What others say about one checkpoint: cosignature lines (of any checkpoint with the
    same body), the witness keys pinned in [trust], and its RFC 3161 token (DER), if any."""

    cosignatures: tuple[str, ...] = ()
    witness_keys: tuple[str, ...] = ()
    timestamp: bytes | None = None
    timestamp_time: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CustodyProof:
    item: int
    events: tuple[ProvenEvent, ...]
    origin: str
    size: int
    root: bytes
    dock: str
    note: str
    verifier_key: str
    trust: TrustEvidence = field(default_factory=TrustEvidence)

    def to_json(self) -> dict[str, Any]:
        token = self.trust.timestamp
        return {
            "checkpoint": {
                "origin": self.origin,
                "size": self.size,
                "root": self.root.hex(),
                "dock": self.dock,
                "note": self.note,
                "verifier_key": self.verifier_key,
                "cosignatures": list(self.trust.cosignatures),
                "witness_keys": list(self.trust.witness_keys),
                "timestamp": None if token is None else base64.b64encode(token).decode("ascii"),
            },
            "events": [
                {**event_object(p.event), "leaf": p.leaf.hex(), "proof": [h.hex() for h in p.proof]}
                for p in self.events
            ],
        }


def covering_checkpoint(
    checkpoints: Sequence[Checkpoint], *, dock: str, last_seq: int
) -> Checkpoint | None:
    """The latest checkpoint of ``dock`` whose tree contains event ``last_seq``."""
    covering = [c for c in checkpoints if c.dock_name == dock and c.size > last_seq]
    return max(covering, key=lambda c: (c.size, c.id), default=None)


def trust_evidence(
    txn: Transaction, checkpoint: Checkpoint, *, witness_keys: Sequence[CosignerKey] = ()
) -> TrustEvidence:
    """The stored cosignatures and timestamp token of ``checkpoint``, in ``txn``."""
    ops = CosignatureOps(txn)
    body = note_body(checkpoint.note)
    same_body = {cp.id for cp in txn.log.checkpoints() if note_body(cp.note) == body}
    lines: dict[str, str] = {}  # one line per witness: two docks' checkpoints share a body
    for c in ops.cosignatures():
        if c.checkpoint_id in same_body:
            lines.setdefault(c.witness, c.line)
    token = next((t for t in ops.timestamps() if t.checkpoint_id == checkpoint.id), None)
    return TrustEvidence(
        cosignatures=tuple(lines[w] for w in sorted(lines)),
        witness_keys=tuple(k.vkey for k in witness_keys),
        timestamp=None if token is None else token.token,
        timestamp_time=None if token is None else token.gen_time,
    )


def prove_item(
    txn: Transaction,
    item: int,
    *,
    checkpoint: Checkpoint,
    verifier_key: str,
    origin: str,
    witness_keys: Sequence[CosignerKey] = (),
) -> CustodyProof:
    """Proofs for every event of ``item``, checked before they are handed out."""
    cp = signed_tree(txn, checkpoint, verifier_key=verifier_key, origin=origin)
    return CustodyProof(
        item=item,
        events=prove_events(txn, txn.log.events_for_item(item), cp),
        origin=cp.origin,
        size=cp.size,
        root=cp.root,
        dock=checkpoint.dock_name,
        note=checkpoint.note,
        verifier_key=verifier_key,
        trust=trust_evidence(txn, checkpoint, witness_keys=witness_keys),
    )


def signed_tree(
    txn: Transaction, checkpoint: Checkpoint, *, verifier_key: str, origin: str
) -> NoteCheckpoint:
    """The tree ``checkpoint`` signs, after checking its signature and that the stored log
    has that root at that size."""
    try:
        note = open_note(checkpoint.note, [parse_verifier_key(verifier_key)])
        cp = parse_checkpoint(note.body)
    except NoteError as e:
        raise CustodyProofError(
            _("checkpoint {id} does not verify: {error}").format(id=checkpoint.id, error=e)
        ) from e
    if (
        cp.origin != origin
        or cp.size != checkpoint.size
        or root(cp.size, txn.log.read_node) != (cp.root)
    ):
        raise CustodyProofError(
            _("the stored custody log does not match its signed checkpoint of size {size}").format(
                size=cp.size
            )
        )
    return cp


def prove_events(
    txn: Transaction, events: Sequence[Event], cp: NoteCheckpoint
) -> tuple[ProvenEvent, ...]:
    """Each event with its leaf and inclusion proof in the signed tree ``cp``, each proof
    checked before it is handed out."""
    proven = []
    for ev in events:
        leaf = event_leaf(ev)
        proof = inclusion_proof(ev.seq, cp.size, txn.log.read_node)
        if not verify_inclusion(leaf, ev.seq, cp.size, proof, cp.root):
            raise CustodyProofError(
                _("event #{seq} is not in the signed tree of size {size}").format(
                    seq=ev.seq, size=cp.size
                )
            )
        proven.append(ProvenEvent(event=ev, leaf=leaf, proof=tuple(proof)))
    return tuple(proven)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportCheck:
    problems: tuple[Problem, ...]
    item: int | None
    events: int
    size: int | None
    verifier_key: str | None
    key_from_report: bool
    cosigned_by: tuple[str, ...] = ()  # witnesses whose cosignature verified
    witness_keys_from_report: tuple[str, ...] = ()  # of those keys: taken from the report
    timestamp: datetime | None = None  # the token's time, when it matched the note
    timestamp_chain_checked: bool = False  # and verified with the TSA's chain

    @property
    def ok(self) -> bool:
        return not self.problems


class _Malformed(ValueError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class _Header:
    item: int | None
    sha256: object
    size: object
    checkpoint: Mapping[str, Any]
    note: str
    key: str
    events: list[Any]
    cosignatures: list[str]
    witness_keys: list[str]
    timestamp: str | None


def check_report(
    doc: object,
    *,
    origin: str,
    trusted_key: str | None = None,
    witness_keys: Sequence[CosignerKey] = (),
    witness_quorum: int = 0,
    tsa: TsaChain | None = None,
) -> ReportCheck:
    """Check a custody report offline; every finding is a problem, nothing raises.

    ``witness_keys``: the witnesses the reader trusts (none: the report's own keys);
    ``witness_quorum``: how many of them must have cosigned; ``tsa``: the TSA's published
    chain, which makes the timestamp token required and checks its signature.
    """
    problems: list[Problem] = []
    try:
        head = _header(doc, trusted_key)
    except _Malformed as e:
        problems.append(
            Problem(code="report-malformed", subject=_("the report"), expected=str(e), found="-")
        )
        return ReportCheck(
            problems=tuple(problems),
            item=None,
            events=0,
            size=None,
            verifier_key=None,
            key_from_report=trusted_key is None,
        )
    tree = _signed_tree(head, origin, problems)
    seen: set[str] = set()
    times: list[str] = []
    last = -1
    for n, raw in enumerate(head.events):
        try:
            obj, leaf, proof = _event(raw, last)
        except (_Malformed, KeyError, TypeError, ValueError) as e:
            problems.append(
                Problem(
                    code="report-malformed",
                    subject=_("event {n} of the report").format(n=n + 1),
                    expected=_("the eight event fields in sequence order, a leaf and a proof"),
                    found=str(e),
                )
            )
            continue
        last = obj["seq"]
        seen.add(str(obj["type"]))
        times.append(str(obj["time"]))
        problems.extend(_event_problems(head, obj, leaf, raw.get("leaf"), proof, tree))
    if "acquired" not in seen:
        problems.append(
            Problem(
                code="item-event-missing",
                subject=_("the report's events"),
                expected=_("an 'acquired' event"),
                found=_("none"),
            )
        )
    cosigned, from_report = _witnesses(head, witness_keys, witness_quorum, problems)
    stamp = _timestamp(head, tsa, max(times, default=None), problems)
    return ReportCheck(
        problems=tuple(problems),
        item=head.item,
        events=len(head.events),
        size=tree.size if tree is not None else None,
        verifier_key=head.key,
        key_from_report=trusted_key is None,
        cosigned_by=cosigned,
        witness_keys_from_report=from_report,
        timestamp=stamp,
        timestamp_chain_checked=stamp is not None and tsa is not None,
    )


def _header(doc: object, trusted_key: str | None) -> _Header:
    report = _mapping(doc, N_("the report as a JSON object"))
    if report.get("format") != REPORT_FORMAT:
        raise _Malformed(
            _("format {expected!r}, found {found!r}").format(
                expected=REPORT_FORMAT, found=report.get("format")
            )
        )
    item = _mapping(report.get("item"), N_("'item' as a JSON object"))
    cp = _mapping(report.get("checkpoint"), N_("'checkpoint' as a JSON object"))
    events = report.get("events")
    note = cp.get("note")
    key = trusted_key if trusted_key is not None else cp.get("verifier_key")
    if not isinstance(events, list) or not isinstance(note, str) or not isinstance(key, str):
        raise _Malformed(_("a list of events, a checkpoint note and a verifier key"))
    item_id = item.get("id")
    cosignatures = cp.get("cosignatures", [])
    witness_keys = cp.get("witness_keys", [])
    timestamp = cp.get("timestamp")
    if not _strings(cosignatures) or not _strings(witness_keys):
        raise _Malformed(_("the checkpoint's cosignatures and witness keys as lists of strings"))
    if timestamp is not None and not isinstance(timestamp, str):
        raise _Malformed(_("the checkpoint's timestamp as base64 text or null"))
    return _Header(
        item=item_id if isinstance(item_id, int) else None,
        sha256=item.get("sha256"),
        size=item.get("size"),
        checkpoint=cp,
        note=note,
        key=key,
        events=events,
        cosignatures=cosignatures,
        witness_keys=witness_keys,
        timestamp=timestamp,
    )


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _witnesses(
    head: _Header, pinned: Sequence[CosignerKey], quorum: int, problems: list[Problem]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(witnesses whose cosignature verified, names of keys taken from the report)."""
    keys = {k.name: k for k in pinned}
    from_report: list[str] = []
    if not pinned:  # nothing given: the report's keys, which show only self-consistency
        for text in head.witness_keys:
            try:
                given = parse_cosigner_key(text)
            except InvalidKeyError as e:
                problems.append(
                    Problem(
                        code="report-malformed",
                        subject=_("the report's witness keys"),
                        expected="name+keyid+key",
                        found=str(e),
                    )
                )
                continue
            if given.name not in keys:
                keys[given.name] = given
                from_report.append(given.name)
    body = note_body(head.note)
    valid: set[str] = set()
    for line in head.cosignatures:
        claim = claimed_by(line)
        if claim is None:
            problems.append(
                Problem(
                    code="witness-bad-signature",
                    subject=_("a cosignature line"),
                    expected=_("a C2SP cosignature/v1 line"),
                    found=repr(line.strip()[:80]),
                )
            )
            continue
        key = keys.get(claim[0])
        if key is None:
            continue  # not a witness the reader trusts: it counts for nothing
        try:
            verify_cosignature(body, line, key)
        except CosignatureError as e:
            expected = (
                _("a cosignature of this checkpoint that verifies with the report's key {key}")
                if key.name in from_report
                else _("a cosignature of this checkpoint that verifies with the given key {key}")
            )
            problems.append(
                Problem(
                    code="witness-bad-signature",
                    subject=_("the cosignature of witness {name}").format(name=claim[0]),
                    expected=expected.format(key=key.vkey),
                    found=str(e),
                )
            )
            continue
        valid.add(claim[0])
    if len(valid) < quorum:
        none = _("none")
        problems.append(
            Problem(
                code="witness-missing",
                subject=_("the checkpoint"),
                expected=n_(
                    "cosignatures of at least {n} witness ({keys})",
                    "cosignatures of at least {n} witnesses ({keys})",
                    quorum,
                ).format(n=quorum, keys=", ".join(sorted(keys)) or _("no witness key given")),
                found=f"{len(valid)} ({', '.join(sorted(valid)) or none})",
            )
        )
    return tuple(sorted(valid)), tuple(n for n in from_report if n in valid)


def _timestamp(
    head: _Header, tsa: TsaChain | None, last_time: str | None, problems: list[Problem]
) -> datetime | None:
    """The token's time if it names this note (and, given the chain, the TSA signed it)."""
    subject = _("the checkpoint's RFC 3161 token")
    if head.timestamp is None:
        if tsa is not None:
            problems.append(
                Problem(
                    code="timestamp-missing",
                    subject=subject,
                    expected=_("a token over the note (a TSA chain was given)"),
                    found=_("none"),
                )
            )
        return None
    data = head.note.encode("utf-8")
    try:
        der = base64.b64decode(head.timestamp, validate=True)
        token = check(der, data, tsa) if tsa is not None else read_unchained(der, data)
    except (binascii.Error, TimestampError) as e:
        expected = (
            _("a token over this note signed by the given TSA")
            if tsa
            else _("a token over this note")
        )
        problems.append(
            Problem(code="timestamp-invalid", subject=subject, expected=expected, found=str(e))
        )
        return None
    try:
        covered = None if last_time is None else parse_time(last_time)
    except ValueError:
        covered = None  # an event with a malformed time is a problem of its own (its leaf)
    if covered is not None and token.latest < covered:
        problems.append(
            Problem(
                code="timestamp-out-of-order",
                subject=subject,
                expected=_("a time no earlier than the report's last event ({time})").format(
                    time=last_time
                ),
                found=token.gen_time.isoformat(),
            )
        )
    return token.gen_time


def _signed_tree(head: _Header, origin: str, problems: list[Problem]) -> NoteCheckpoint | None:
    """The checkpoint the note signs, if it is signed by the key and says what the report says."""
    try:
        tree = parse_checkpoint(open_note(head.note, [parse_verifier_key(head.key)]).body)
    except NoteError as e:
        code = {
            "note-forged-signature": "checkpoint-bad-signature",
            "note-untrusted": "checkpoint-unknown-key",
        }.get(e.code, "checkpoint-malformed")
        problems.append(
            Problem(
                code=code,
                subject=_("the checkpoint note"),
                expected=_("a note signed by {key}").format(key=head.key),
                found=str(e),
            )
        )
        return None
    stated = tuple(head.checkpoint.get(k) for k in ("origin", "size", "root"))
    if tree.origin != origin or stated != (tree.origin, tree.size, tree.root.hex()):
        problems.append(
            Problem(
                code="checkpoint-mismatch",
                subject=_("the checkpoint"),
                expected=_("origin {origin!r} and the size and root of the signed note").format(
                    origin=origin
                ),
                found=str(stated),
            )
        )
    return tree


def _event(raw: object, last: int) -> tuple[dict[str, Any], bytes, list[bytes]]:
    """One event of the report: its eight fields, its recomputed leaf, its proof."""
    ev = _mapping(raw, N_("an event as a JSON object"))
    obj = {k: ev[k] for k in EVENT_FIELDS}
    seq = obj["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= last:
        raise _Malformed(_("seq {seq!r} after {last}: not increasing").format(seq=seq, last=last))
    return obj, leaf_hash(canonical_object(obj)), [bytes.fromhex(h) for h in ev["proof"]]


def _event_problems(
    head: _Header,
    obj: Mapping[str, Any],
    leaf: bytes,
    stated_leaf: object,
    proof: Sequence[bytes],
    tree: NoteCheckpoint | None,
) -> list[Problem]:
    seq = obj["seq"]
    found: list[tuple[str, str, str]] = []
    if stated_leaf != leaf.hex():
        found.append(
            (
                "event-leaf-mismatch",
                _("leaf {leaf}").format(leaf=stated_leaf),
                _("leaf {leaf}").format(leaf=leaf.hex()),
            )
        )
    if obj["item"] != head.item:
        found.append(
            (
                "event-wrong-item",
                _("item {item}").format(item=head.item),
                _("item {item}").format(item=obj["item"]),
            )
        )
    if tree is not None and not verify_inclusion(leaf, seq, tree.size, proof, tree.root):
        found.append(
            (
                "inclusion-proof-invalid",
                _("a proof that it is leaf {seq} of the signed tree of size {size}").format(
                    seq=seq, size=tree.size
                ),
                _("a proof that does not verify"),
            )
        )
    data = obj["data"]
    if obj["type"] in _HASH_EVENTS:
        got = (data.get("sha256"), data.get("size")) if isinstance(data, dict) else None
        if got != (head.sha256, head.size):
            expected = _("sha256 {sha256}, {size} bytes (the report's item)").format(
                sha256=head.sha256, size=head.size
            )
            found.append(("item-event-mismatch", expected, f"{got}"))
    subject = _("event #{seq} ({type})").format(seq=seq, type=obj["type"])
    return [
        Problem(code=c, subject=subject, expected=e, found=f, seq=seq, last_seq=seq)
        for c, e, f in found
    ]


def _mapping(value: object, expected: str) -> Mapping[str, Any]:
    """``value`` as a JSON object; else ``expected`` (marked with ``N_``) is the problem."""
    if not isinstance(value, dict):
        raise _Malformed(_(expected))
    return value
