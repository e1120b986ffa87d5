"""A dock's signing keys over time: ``key_rotated`` events (issue 15).

Rotating a dock's key records an event whose data names the old and the new verifier key and
carries the signatures of both over a fixed statement (``rotation_statement``): the old key
hands over to the new one, the new one accepts. Checkpoints of a size up to the event's seq
(they do not contain it) are signed by the old key, later ones by the new.

``key_histories`` rebuilds each dock's keys from those events, anchored at the key the
verifier trusts now (the dock's key file, a published key or the catalog's): the chain of
rotations must lead to it, each event's two signatures must verify, and each old key must be
the previous new one; otherwise ``key-rotation-invalid`` and no earlier key is trusted.
``check_key_periods`` then reports a checkpoint signed by a key of its dock that was not the
one valid at its size (``checkpoint-wrong-key``). Pure over records.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from i18n import _
from storage.records import Event
from verify.keys import DockKey
from verify.log import signing
from verify.log.note import NoteError, VerifierKey, open_note, parse_verifier_key
from verify.problems import Problem, Problems


def rotation_statement(origin: str, old_key: str, new_key: str) -> bytes:
    """What both keys sign: the log, the key handing over and the key taking over."""
    return f"evidock key rotation/v1\nlog {origin}\nold {old_key}\nnew {new_key}\n".encode()


def rotation_data(origin: str, old: DockKey, new: DockKey) -> dict[str, Any]:
    """The data of the ``key_rotated`` event."""
    statement = rotation_statement(origin, old.verifier, new.verifier)
    return {
        "old_key": old.verifier,
        "new_key": new.verifier,
        "old_signature": base64.b64encode(signing.sign(old.seed, statement)).decode("ascii"),
        "new_signature": base64.b64encode(signing.sign(new.seed, statement)).decode("ascii"),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyHistory:
    """One dock's keys: ``keys[i]`` signs checkpoints of size <= ``until[i]`` (and above the
    previous bound); the last key has no bound."""

    keys: tuple[VerifierKey, ...]
    until: tuple[int, ...]  # one fewer than keys: the seq of each rotation event

    def key_at(self, size: int) -> VerifierKey:
        for key, bound in zip(self.keys, self.until, strict=False):
            if size <= bound:
                return key
        return self.keys[-1]


class _Invalid(ValueError):
    pass


def key_histories(
    rotations: Sequence[Event],
    *,
    origin: str,
    current: Mapping[str, VerifierKey],
    problems: Problems,
) -> dict[str, KeyHistory]:
    """Each key name's history from its ``key_rotated`` events (in seq order)."""
    steps: dict[str, list[tuple[int, VerifierKey, VerifierKey]]] = {}
    for ev in rotations:
        try:
            old, new = _rotation(ev, origin)
        except _Invalid as e:
            problems.add(_problem(ev, _("old and new keys that both signed the rotation"), str(e)))
            continue
        steps.setdefault(new.name, []).append((ev.seq, old, new))
    histories: dict[str, KeyHistory] = {}
    for name, chain in steps.items():
        now = current.get(name)
        links = all(a[2] == b[1] for a, b in itertools.pairwise(chain))
        if now is None or chain[-1][2] != now or not links:
            seq = chain[-1][0]
            problems.add(
                Problem(
                    code="key-rotation-invalid",
                    subject=_("key rotations of {name} (last: event #{seq})").format(
                        name=name, seq=seq
                    ),
                    expected=_(
                        "a chain of rotations, each from the previous new key, ending at the "
                        "key trusted now ({key})"
                    ).format(key=_text(now))
                    if now
                    else _(
                        "a chain of rotations, each from the previous new key, ending at the "
                        "key trusted now"
                    ),
                    found=" -> ".join([_text(chain[0][1]), *(_text(c[2]) for c in chain)]),
                    seq=seq,
                )
            )
            continue
        histories[name] = KeyHistory(
            keys=(chain[0][1], *(c[2] for c in chain)), until=tuple(c[0] for c in chain)
        )
    return histories


def earlier_keys(histories: Mapping[str, KeyHistory]) -> list[VerifierKey]:
    """The keys that signed before a rotation: trusted too, at their sizes only."""
    return [k for h in histories.values() for k in h.keys[:-1]]


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedText:
    source: str
    size: int
    text: str


def check_key_periods(
    notes: Sequence[SignedText], histories: Mapping[str, KeyHistory], *, problems: Problems
) -> None:
    """A note signed by one of its dock's keys, but not the one valid at its size."""
    for note in notes:
        for name, history in histories.items():
            try:
                open_note(note.text, history.keys)
            except NoteError:
                continue  # not this dock's, or reported by the checkpoint audit
            right = history.key_at(note.size)
            try:
                open_note(note.text, [right])
            except NoteError:
                problems.add(
                    Problem(
                        code="checkpoint-wrong-key",
                        subject=note.source,
                        expected=_("a signature by {key}, the key of {name} at size {size}").format(
                            key=_text(right), name=name, size=note.size
                        ),
                        found=_("a signature by another (earlier or later) key of that dock"),
                    )
                )


def _rotation(ev: Event, origin: str) -> tuple[VerifierKey, VerifierKey]:
    try:
        data = json.loads(ev.data)
        old_text, new_text = data["old_key"], data["new_key"]
        old, new = parse_verifier_key(old_text), parse_verifier_key(new_text)
        sigs = base64.b64decode(data["old_signature"]), base64.b64decode(data["new_signature"])
    except (ValueError, KeyError, TypeError, binascii.Error, NoteError) as e:
        raise _Invalid(_("not a key rotation's data: {error}").format(error=e)) from e
    if old.name != new.name or old.public == new.public:
        raise _Invalid(
            _("from {old} to {new}: not a new key of the same name").format(
                old=old_text, new=new_text
            )
        )
    statement = rotation_statement(origin, old_text, new_text)
    if not signing.verify_signature(old.public, statement, sigs[0]):
        raise _Invalid(_("the old key's signature does not verify"))
    if not signing.verify_signature(new.public, statement, sigs[1]):
        raise _Invalid(_("the new key's signature does not verify"))
    return old, new


def _problem(ev: Event, expected: str, found: str) -> Problem:
    return Problem(code="key-rotation-invalid",
                   subject=_("event #{seq} ({type})").format(seq=ev.seq, type=ev.type),
                   expected=expected, found=found, seq=ev.seq, last_seq=ev.seq)  # fmt: skip


def _text(key: VerifierKey) -> str:
    return f"{key.name}+{key.key_id.hex()}"
