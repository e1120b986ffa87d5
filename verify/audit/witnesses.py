"""``verify`` under the [trust] policy: checkpoints carry their witnesses' cosignatures.

Every checkpoint older than the grace period must carry at least ``quorum`` cosignatures that
verify with pinned witness keys (``witness-missing``); a stored line that does not verify is
``witness-bad-signature``; a refusal a witness answered (a fork or a rollback of the log) is
``witness-fork``. Pure over records: the caller reads them in its snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.catalog.cosignatures import CosignatureRecord, RefusalRecord
from storage.records import Checkpoint
from verify.problems import Problem, Problems
from verify.witness.cosignature import CosignatureError, CosignerKey, verify_cosignature
from verify.witness.submit import note_body


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessPolicy:
    keys: tuple[CosignerKey, ...]
    quorum: int = 0
    grace: timedelta = timedelta(hours=1)


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
                subject=f"checkpoint at size {f.size}, witness {f.witness}",
                expected="a checkpoint the witness can cosign (consistent with what it saw)",
                found=f"refused at {f.refused_at.isoformat()}: {f.detail}",
            )
        )
    keys = {k.name: k for k in policy.keys}
    by_checkpoint: dict[int, list[CosignatureRecord]] = {}
    for c in cosignatures:
        by_checkpoint.setdefault(c.checkpoint_id, []).append(c)
    valid_total = 0
    for cp in checkpoints:
        valid: set[str] = set()
        for c in by_checkpoint.get(cp.id, []):
            key = keys.get(c.witness)
            if key is None:
                continue  # a retired or unknown witness counts for nothing
            try:
                verify_cosignature(note_body(cp.note), c.line, key)
            except CosignatureError as e:
                problems.add(
                    Problem(
                        code="witness-bad-signature",
                        subject=f"checkpoint at size {cp.size} ({cp.dock_name}), "
                        f"witness {c.witness}",
                        expected="a cosignature that verifies with the pinned witness key",
                        found=str(e),
                    )
                )
                continue
            valid.add(c.witness)
        valid_total += len(valid)
        if len(valid) < policy.quorum and cp.created_at <= at - policy.grace:
            problems.add(
                Problem(
                    code="witness-missing",
                    subject=f"checkpoint at size {cp.size} ({cp.dock_name})",
                    expected=f"cosignatures of at least {policy.quorum} pinned witnesses "
                    f"within {policy.grace.total_seconds():.0f} s",
                    found=f"{len(valid)} ({', '.join(sorted(valid)) or 'none'})",
                )
            )
    return valid_total
