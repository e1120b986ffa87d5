"""``verify`` under the [trust] policy: checkpoints carry cosignatures and timestamps.

Every checkpoint older than the grace period must carry at least ``quorum`` cosignatures that
verify with pinned witness keys (``witness-missing``; two docks' checkpoints of one size and
root share one body, so a cosignature of either counts for both); a stored line that does not
verify is ``witness-bad-signature``; a refusal a witness answered (a fork or a rollback of the
log) is ``witness-fork``. A cosignature made (its signed time) at or after the witness's
``retired_at`` counts for nothing. With a TSA configured, every checkpoint older than the grace
period has an RFC 3161 token over its note (``timestamp-missing``) that verifies with the
pinned chain (``timestamp-invalid``), is no earlier than the last event it covers and no
earlier than the token of a smaller checkpoint (``timestamp-out-of-order``). Pure over records:
the caller reads them in its snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from i18n import _, n_
from storage.catalog.cosignatures import CosignatureRecord, RefusalRecord, TimestampRecord
from storage.records import Checkpoint
from verify.problems import Problem, Problems
from verify.tsa.rfc3161 import TimestampError, TsaChain, check
from verify.witness.cosignature import CosignatureError, CosignerKey, verify_cosignature
from verify.witness.submit import note_body


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessPolicy:
    keys: tuple[CosignerKey, ...]
    quorum: int = 0
    grace: timedelta = timedelta(hours=1)
    tsa: TsaChain | None = None  # [trust] tsa_url set: checkpoints carry timestamps
    retired: tuple[tuple[str, datetime], ...] = ()  # (witness, retired at): later ones don't count


def check_witnesses(
    checkpoints: Sequence[Checkpoint],
    cosignatures: Sequence[CosignatureRecord],
    refusals: Sequence[RefusalRecord],
    *,
    policy: WitnessPolicy,
    at: datetime,
    problems: Problems,
) -> int:
    """Report witness problems; returns the number of cosignatures that verified."""
    for f in refusals:
        problems.add(
            Problem(
                code="witness-fork",
                subject=_("checkpoint at size {size}, witness {witness}").format(
                    size=f.size, witness=f.witness
                ),
                expected=_("a checkpoint the witness can cosign (consistent with what it saw)"),
                found=_("refused at {time}: {detail}").format(
                    time=f.refused_at.isoformat(), detail=f.detail
                ),
            )
        )
    keys = {k.name: k for k in policy.keys}
    retired = dict(policy.retired)
    notes = {cp.id: cp for cp in checkpoints}
    valid_by_body: dict[str, set[str]] = {}  # same size and root: the same cosigned body
    for c in cosignatures:
        key, cp = keys.get(c.witness), notes.get(c.checkpoint_id)
        if key is None or cp is None:
            continue  # a retired or unknown witness counts for nothing
        body = note_body(cp.note)
        try:
            made = verify_cosignature(body, c.line, key).timestamp
        except CosignatureError as e:
            problems.add(
                Problem(
                    code="witness-bad-signature",
                    subject=_("checkpoint at size {size} ({dock}), witness {witness}").format(
                        size=cp.size, dock=cp.dock_name, witness=c.witness
                    ),
                    expected=_("a cosignature that verifies with the pinned witness key"),
                    found=str(e),
                )
            )
            continue
        if c.witness in retired and made >= retired[c.witness].timestamp():
            continue  # made after the witness was retired: its key may be in other hands
        valid_by_body.setdefault(body, set()).add(c.witness)
    valid_total = 0
    for cp in checkpoints:
        valid = valid_by_body.get(note_body(cp.note), set())
        valid_total += len(valid)
        if len(valid) < policy.quorum and cp.created_at <= at - policy.grace:
            none = _("none")
            problems.add(
                Problem(
                    code="witness-missing",
                    subject=_checkpoint(cp),
                    expected=n_(
                        "cosignatures of at least {n} pinned witness within {seconds} s",
                        "cosignatures of at least {n} pinned witnesses within {seconds} s",
                        policy.quorum,
                    ).format(n=policy.quorum, seconds=f"{policy.grace.total_seconds():.0f}"),
                    found=f"{len(valid)} ({', '.join(sorted(valid)) or none})",
                )
            )
    return valid_total


def check_timestamps(
    checkpoints: Sequence[Checkpoint],
    tokens: Sequence[TimestampRecord],
    *,
    chain: TsaChain,
    grace: timedelta,
    at: datetime,
    last_event_time: Callable[[int], datetime | None],
    problems: Problems,
) -> None:
    """Each checkpoint's token: there (after the grace period), valid, and in time order."""
    by_id = {t.checkpoint_id: t for t in tokens}
    latest: tuple[int, datetime] | None = None  # (size, time) of the last valid token so far
    for cp in checkpoints:  # in size order
        subject = _checkpoint(cp)
        token = by_id.get(cp.id)
        if token is None:
            if cp.created_at <= at - grace:
                problems.add(Problem(code="timestamp-missing", subject=subject,
                                     expected=_("an RFC 3161 token from the configured TSA"),
                                     found=_("none")))  # fmt: skip
            continue
        try:
            stamp = check(token.token, cp.note.encode("utf-8"), chain)
        except TimestampError as e:
            problems.add(Problem(code="timestamp-invalid", subject=subject,
                                 expected=_("a token over this note that verifies with the "
                                            "pinned TSA chain"), found=str(e)))  # fmt: skip
            continue
        when = stamp.gen_time
        covered = last_event_time(cp.size)
        if covered is not None and stamp.latest < covered:
            problems.add(Problem(code="timestamp-out-of-order", subject=subject,
                                 expected=_("a time no earlier than its last event ({time})")
                                 .format(time=covered.isoformat()),
                                 found=f"{when.isoformat()}"))  # fmt: skip
        if latest is not None and latest[0] < cp.size and stamp.latest < latest[1]:
            problems.add(Problem(code="timestamp-out-of-order", subject=subject,
                                 expected=_("a time no earlier than the token of size {size} "
                                            "({time})").format(size=latest[0],
                                                               time=latest[1].isoformat()),
                                 found=f"{when.isoformat()}"))  # fmt: skip
        latest = (cp.size, when) if latest is None or when >= latest[1] else latest


def _checkpoint(cp: Checkpoint) -> str:
    return _("checkpoint at size {size} ({dock})").format(size=cp.size, dock=cp.dock_name)
