"""Witness cosignatures, refusals and RFC 3161 timestamps of checkpoints (issue 15), in the
caller's transaction.

``CosignatureOps(txn)`` hands out frozen records. A cosignature row is written only after the
line verified against the pinned witness key; a refusal row is the alarm ``verify`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from storage.catalog.models import (
    CheckpointRow,
    CheckpointTimestampRow,
    WitnessCosignatureRow,
    WitnessRefusalRow,
)
from storage.catalog.session import Transaction


@dataclass(frozen=True, slots=True, kw_only=True)
class CosignatureRecord:
    checkpoint_id: int
    witness: str
    line: str
    cosigned_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RefusalRecord:
    checkpoint_id: int
    size: int  # of the refused checkpoint
    witness: str
    status: int
    witness_size: int | None
    detail: str
    refused_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class TimestampRecord:
    checkpoint_id: int
    token: bytes
    gen_time: datetime


class CosignatureOps:
    def __init__(self, txn: Transaction) -> None:
        self.s = txn.s

    def add(self, *, checkpoint_id: int, witness: str, line: str, cosigned_at: datetime,
            now: datetime) -> bool:  # fmt: skip
        """Record a verified cosignature; False when this witness's is already there."""
        q = select(WitnessCosignatureRow.id).where(
            WitnessCosignatureRow.checkpoint_id == checkpoint_id,
            WitnessCosignatureRow.witness == witness,
        )
        if self.s.scalar(q) is not None:
            return False
        self.s.add(WitnessCosignatureRow(checkpoint_id=checkpoint_id, witness=witness, line=line,
                                         cosigned_at=cosigned_at, recorded_at=now))  # fmt: skip
        self.s.flush()
        return True

    def add_refusal(self, *, checkpoint_id: int, witness: str, status: int,
                    witness_size: int | None, detail: str, now: datetime) -> None:  # fmt: skip
        self.s.add(WitnessRefusalRow(checkpoint_id=checkpoint_id, witness=witness, status=status,
                                     witness_size=witness_size, detail=detail,
                                     refused_at=now))  # fmt: skip
        self.s.flush()

    def cosignatures(self) -> list[CosignatureRecord]:
        q = select(WitnessCosignatureRow).order_by(
            WitnessCosignatureRow.checkpoint_id, WitnessCosignatureRow.id
        )
        return [
            CosignatureRecord(
                checkpoint_id=c.checkpoint_id,
                witness=c.witness,
                line=c.line,
                cosigned_at=c.cosigned_at,
            )
            for c in self.s.scalars(q)
        ]

    def refusals(self) -> list[RefusalRecord]:
        q = (
            select(WitnessRefusalRow, CheckpointRow.size)
            .join(CheckpointRow, CheckpointRow.id == WitnessRefusalRow.checkpoint_id)
            .order_by(WitnessRefusalRow.id)
        )
        return [
            RefusalRecord(
                checkpoint_id=f.checkpoint_id,
                size=size,
                witness=f.witness,
                status=f.status,
                witness_size=f.witness_size,
                detail=f.detail,
                refused_at=f.refused_at,
            )
            for f, size in self.s.execute(q)
        ]

    def last_cosigned_size(self, witness: str) -> int:
        """The largest checkpoint this witness cosigned for us (0: none), its latest view."""
        q = (
            select(func.max(CheckpointRow.size))
            .join(WitnessCosignatureRow, WitnessCosignatureRow.checkpoint_id == CheckpointRow.id)
            .where(WitnessCosignatureRow.witness == witness)
        )
        return int(self.s.scalar(q) or 0)

    def refusal_counts(self) -> dict[str, int]:
        q = select(WitnessRefusalRow.witness, func.count()).group_by(WitnessRefusalRow.witness)
        return {w: int(n) for w, n in self.s.execute(q)}

    def pending_count(self, witness: str) -> int:
        """Checkpoint sizes above the largest this witness cosigned: what still goes to it."""
        q = select(func.count(func.distinct(CheckpointRow.size))).where(
            CheckpointRow.size > self.last_cosigned_size(witness)
        )
        return int(self.s.scalar(q) or 0)

    def newest_cosigned_at(self, witness: str) -> datetime | None:
        """When the newest checkpoint this witness cosigned was signed by its dock."""
        q = (
            select(CheckpointRow.created_at)
            .join(WitnessCosignatureRow, WitnessCosignatureRow.checkpoint_id == CheckpointRow.id)
            .where(WitnessCosignatureRow.witness == witness)
            .order_by(CheckpointRow.size.desc())
            .limit(1)
        )
        return self.s.scalar(q)

    def refused(self, witness: str) -> set[int]:
        """Checkpoint ids this witness refused (not sent again: the alarm stands)."""
        q = select(WitnessRefusalRow.checkpoint_id).where(WitnessRefusalRow.witness == witness)
        return set(self.s.scalars(q))

    # -- RFC 3161 timestamps ------------------------------------------------------------------
    def add_timestamp(self, *, checkpoint_id: int, token: bytes, gen_time: datetime,
                      now: datetime) -> None:  # fmt: skip
        self.s.add(CheckpointTimestampRow(checkpoint_id=checkpoint_id, token=token,
                                          gen_time=gen_time, recorded_at=now))  # fmt: skip
        self.s.flush()

    def timestamps(self) -> list[TimestampRecord]:
        q = select(CheckpointTimestampRow).order_by(CheckpointTimestampRow.checkpoint_id)
        return [
            TimestampRecord(checkpoint_id=t.checkpoint_id, token=t.token, gen_time=t.gen_time)
            for t in self.s.scalars(q)
        ]

    def timestamped_ids(self) -> set[int]:
        return set(self.s.scalars(select(CheckpointTimestampRow.checkpoint_id)))

    def newest_timestamped_at(self) -> datetime | None:
        """When the newest timestamped checkpoint was signed by its dock."""
        q = (
            select(CheckpointRow.created_at)
            .join(CheckpointTimestampRow, CheckpointTimestampRow.checkpoint_id == CheckpointRow.id)
            .order_by(CheckpointRow.size.desc())
            .limit(1)
        )
        return self.s.scalar(q)
