"""Catalog side of the object store (issue 8): what is in S3, legal holds, released local
copies, durability, and checkpoints published to the bucket.

``ObjectOps(txn)`` works inside the caller's transaction, the one that also appends the custody
event of the change, and hands out frozen records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select, update

from storage import records as r
from storage.catalog.jobs import JobKind, JobOps, worker_node
from storage.catalog.models import (
    CaseLinkRow,
    CaseRow,
    CheckpointRow,
    DockRow,
    DockSessionRow,
    ItemRow,
    StoredObjectRow,
)
from storage.catalog.session import Transaction

UPLOAD = JobKind.UPLOAD  # the job kind that brings S3 in line with the catalog
ORIGINAL, DERIVED = "original", "derived"
STORED = "stored"
PENDING = "pending"  # filed in the local spool, not yet in the system of record (S3 alone)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointNote:
    id: int
    dock: str
    size: int
    note: str

    @property
    def name(self) -> str:
        """The file name it has in the store's checkpoints/ folder, and in the bucket."""
        return f"{self.size:012d}.{self.dock}.note"


def job_node(txn: Transaction, item_id: int, *, shared: bool) -> str | None:
    """Where a job reading this item's local copy must run: the dock that took it in,
    unless the store is shared by every node (None: anywhere)."""
    return None if shared else ObjectOps(txn).spool_node(item_id)


def queue_upload(
    txn: Transaction,
    item_id: int | None,
    *,
    object_store: bool,
    shared: bool,
    now: datetime,
    ingested_by: str | None = None,
) -> None:
    """With an object store (``object_store``: [s3] is configured): ask a worker to bring S3
    in line with this item (its original, proxies, legal hold), or with ``None`` to publish new
    checkpoints; in the caller's transaction, the one that records the change. One waiting
    job per item is enough. ``ingested_by``: the dock whose local store just took the item in
    (no need to look it up)."""
    if not object_store:
        return
    if item_id is None:
        node = None
    elif ingested_by is not None:
        node = worker_node(shared=shared, dock=ingested_by)
    else:
        node = job_node(txn, item_id, shared=shared)
    JobOps(txn).enqueue_once(kind=JobKind.UPLOAD, item_id=item_id, now=now, node=node)


class ObjectOps:
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    def object(self, backend: str, sha256: str) -> r.StoredObject | None:
        found = self.txn.stored_objects(sha256, backend=backend)
        return found[0] if found else None

    def objects(self, backend: str, shas: Sequence[str]) -> list[r.StoredObject]:
        return self.txn.stored_objects(backend=backend, shas=shas)

    def spool_node(self, item_id: int) -> str:
        """The dock whose local store took the item in (its session's dock)."""
        q = (
            select(DockRow.name)
            .join(DockSessionRow, DockSessionRow.dock_id == DockRow.id)
            .join(ItemRow, ItemRow.session_id == DockSessionRow.id)
            .where(ItemRow.id == item_id)
        )
        return str(self.s.scalar(q))

    def item_nodes(self) -> dict[int, str]:
        """Every item with the dock whose session took it in (whose local store holds it
        where each dock keeps its own store)."""
        q = (
            select(ItemRow.id, DockRow.name)
            .join(DockSessionRow, DockSessionRow.id == ItemRow.session_id)
            .join(DockRow, DockRow.id == DockSessionRow.dock_id)
        )
        return {item_id: name for item_id, name in self.s.execute(q)}

    def items_with(self, sha256: str) -> list[int]:
        return list(self.s.scalars(select(ItemRow.id).where(ItemRow.sha256 == sha256)))

    def hold_wanted(self, sha256: str) -> bool:
        """A legal hold belongs on these bytes while any item holding them is linked (a live
        link) to a case that is not archived."""
        live = (
            select(CaseLinkRow.id)
            .join(CaseRow, CaseRow.id == CaseLinkRow.case_id)
            .join(ItemRow, ItemRow.id == CaseLinkRow.item_id)
            .where(ItemRow.sha256 == sha256, CaseLinkRow.retired == 0)
            .where(CaseRow.archived_at.is_(None))
        )
        return bool(self.s.scalar(select(exists(live))))

    def set_legal_hold(self, backend: str, sha256: str, on: bool) -> None:
        self.s.execute(
            update(StoredObjectRow)
            .where(StoredObjectRow.backend == backend, StoredObjectRow.sha256 == sha256)
            .values(legal_hold=on)
            .execution_options(synchronize_session=False)
        )

    def mark_released(self, backend: str, sha256: str, now: datetime | None) -> None:
        """The local copy was dropped at ``now`` (None: it was filed again)."""
        self.s.execute(
            update(StoredObjectRow)
            .where(StoredObjectRow.backend == backend, StoredObjectRow.sha256 == sha256)
            .values(released_at=now)
            .execution_options(synchronize_session=False)
        )

    def make_durable(self, item_id: int, now: datetime) -> bool:
        """A pending item is in its system of record now: its offload clock stops."""
        result = self.s.execute(
            update(ItemRow)
            .where(ItemRow.id == item_id, ItemRow.durable_at.is_(None))
            .values(durable_at=now, state=STORED)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    # -- checkpoints in the bucket -------------------------------------------------------------
    def unpublished_checkpoints(self, limit: int = 500) -> list[CheckpointNote]:
        return self._checkpoints(CheckpointRow.published_at.is_(None), limit=limit)

    def published_checkpoints(self) -> list[CheckpointNote]:
        return self._checkpoints(CheckpointRow.published_at.is_not(None))

    def _checkpoints(
        self, where: ColumnElement[bool], *, limit: int | None = None
    ) -> list[CheckpointNote]:
        q = (
            select(CheckpointRow.id, DockRow.name, CheckpointRow.size, CheckpointRow.note)
            .join(DockRow, DockRow.id == CheckpointRow.dock_id)
            .where(where)
            .order_by(CheckpointRow.id)
            .limit(limit)
        )
        return [
            CheckpointNote(id=i, dock=d, size=n, note=note) for i, d, n, note in self.s.execute(q)
        ]

    def mark_published(self, ids: Sequence[int], now: datetime) -> None:
        if ids:
            self.s.execute(
                update(CheckpointRow)
                .where(CheckpointRow.id.in_(list(ids)))
                .values(published_at=now)
                .execution_options(synchronize_session=False)
            )
