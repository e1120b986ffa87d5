"""An item's custody timeline as the console shows it: every event with its inclusion proof
checked against the newest signed checkpoint of this dock (RFC 9162), the way
``verify.proofs.prove_item`` checks a custody report, except that events newer than that
checkpoint are shown as waiting for the next one instead of failing the page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from i18n import _
from ingest.context import LOG_ORIGIN, Context
from storage.catalog.session import Transaction
from storage.records import Event
from verify.log.events import event_leaf
from verify.log.merkle import inclusion_proof, root, verify_inclusion
from verify.log.note import NoteError, open_note, parse_checkpoint, parse_verifier_key
from verify.proofs import covering_checkpoint

PROVEN, PENDING, FAILED = "proven", "pending", "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    event: Event
    data: dict[str, Any]
    status: str  # PROVEN, PENDING (after the checkpoint) or FAILED
    proof_len: int  # hashes in the inclusion proof


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    entries: tuple[Entry, ...]
    checkpoint_size: int | None  # None: no checkpoint of this dock yet
    checkpoint_time: str | None
    problem: str | None  # the checkpoint itself does not verify (in the reader's language)

    @property
    def ok(self) -> bool:
        return self.problem is None and all(e.status != FAILED for e in self.entries)


def item_timeline(txn: Transaction, ctx: Context, item_id: int) -> Timeline:
    events = txn.log.events_for_item(item_id)
    cp = covering_checkpoint(txn.log.checkpoints(), dock=ctx.dock.name, last_seq=-1)
    if cp is None:
        return Timeline(entries=_entries(events, PENDING), checkpoint_size=None,
                        checkpoint_time=None, problem=None)  # fmt: skip
    read = txn.log.read_node
    when = cp.created_at.isoformat()
    try:
        note = open_note(cp.note, [parse_verifier_key(ctx.key.verifier)])
        head = parse_checkpoint(note.body)
    except NoteError as e:
        problem = _("checkpoint {id} does not verify: {error}").format(id=cp.id, error=e)
        return _broken(events, cp.size, when, problem)
    if head.origin != LOG_ORIGIN or head.size != cp.size or root(head.size, read) != head.root:
        return _broken(events, cp.size, when, _("the stored log does not match its checkpoint"))
    entries = []
    for ev in events:
        if ev.seq >= head.size:
            entries.append(Entry(event=ev, data=_data(ev), status=PENDING, proof_len=0))
            continue
        proof = inclusion_proof(ev.seq, head.size, read)
        good = verify_inclusion(event_leaf(ev), ev.seq, head.size, proof, head.root)
        entries.append(
            Entry(event=ev, data=_data(ev), status=PROVEN if good else FAILED,
                  proof_len=len(proof))
        )  # fmt: skip
    return Timeline(entries=tuple(entries), checkpoint_size=head.size, checkpoint_time=when,
                    problem=None)  # fmt: skip


def _broken(events: list[Event], size: int, when: str, problem: str) -> Timeline:
    return Timeline(entries=_entries(events, FAILED), checkpoint_size=size,
                    checkpoint_time=when, problem=problem)  # fmt: skip


def _entries(events: list[Event], status: str) -> tuple[Entry, ...]:
    return tuple(Entry(event=e, data=_data(e), status=status, proof_len=0) for e in events)


def _data(ev: Event) -> dict[str, Any]:
    parsed = json.loads(ev.data)
    return parsed if isinstance(parsed, dict) else {"value": parsed}
