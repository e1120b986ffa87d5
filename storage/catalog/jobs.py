"""The job queue in the catalog: enqueue, claim under a lease, renew, finish, retry, give up.

``JobOps(txn)`` works inside the caller's transaction. A job's life::

    queued --claim--> running --complete--> done
                      running --fail, attempts < max--> queued (not before now + backoff)
                      running --fail, attempts = max--> failed (its last error kept)
                      running --release (clean stop)--> queued (the attempt is given back)
                      running, lease expired --claim--> running under a new owner
                                                        (or failed when no attempt is left)

Every claim counts an attempt, so a job whose worker keeps dying (killed, out of memory) ends
``failed`` after ``max_attempts`` like one that keeps failing: never a crash loop. Claiming is
exclusive: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (many workers on many hosts skip each
other's rows), the write transaction on SQLite (BEGIN IMMEDIATE: one writer at a time).

A change that makes a job claimable (queued, given back, queued again) rings the doorbell
(``storage.catalog.doorbell``): idle workers of any process hear it at commit.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, func, insert, or_, select, true, update

from i18n import N_, _
from storage import records as r
from storage.catalog.cases import chunked
from storage.catalog.doorbell import ring
from storage.catalog.models import JobRow
from storage.catalog.session import Transaction
from storage.errors import StorageError


class JobKind(enum.StrEnum):
    """What a job does; the value is what the catalog's job rows hold."""

    TRANSCODE = "transcode"  # make an item's review proxies
    UPLOAD = "upload"  # bring S3 in line with the catalog (an item, or new checkpoints)


class JobState(enum.StrEnum):
    """Where a job is in its life (see the module doc); the value is what its row holds."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


QUEUED, RUNNING, DONE, FAILED = JobState.QUEUED, JobState.RUNNING, JobState.DONE, JobState.FAILED
STATES = tuple(JobState)
MAX_BACKOFF_S = 3600.0
_ERROR_CHARS = 2000


class LeaseLost(StorageError):
    """The job is no longer ours: the lease expired and another worker took it."""

    code = "lease-lost"
    hint = N_("Nothing of this attempt was recorded; the worker that holds the job finishes it.")


def worker_node(*, shared: bool, dock: str) -> str | None:
    """The node of the jobs that read ``dock``'s local store, and so the jobs ``dock``'s
    workers may run: that dock's own, unless the store is shared by every node (None: any)."""
    return None if shared else dock


def backoff(attempts: int, base_s: float) -> timedelta:
    """Wait before the next attempt: ``base_s`` doubled per attempt made, at most an hour."""
    return timedelta(seconds=min(MAX_BACKOFF_S, base_s * 2 ** max(0, attempts - 1)))


_INSERT_JOB = insert(JobRow).returning(JobRow.id)


class JobOps:
    def __init__(self, txn: Transaction) -> None:
        self.s = txn.s

    def enqueue(
        self, *, kind: JobKind, item_id: int | None, now: datetime, node: str | None = None
    ) -> int:
        """Queue a job; with ``node``, only workers of that node claim it (the input is in
        that node's local store)."""
        self.s.flush()  # ORM rows added before it (its item, say) go in first
        row = {
            "node": node,
            "kind": kind,
            "item_id": item_id,
            "state": QUEUED,
            "attempts": 0,
            "last_error": "",
            "not_before": now,
            "created_at": now,
        }  # a Core INSERT, built once: no ORM unit of work for each file's jobs (issue 19)
        job_id = self.s.connection().execute(_INSERT_JOB, row).scalar_one()
        ring(self.s)
        return job_id

    def enqueue_once(
        self, *, kind: JobKind, item_id: int | None, now: datetime, node: str | None = None
    ) -> int:
        """Enqueue unless a job of ``kind`` for ``item_id`` is already waiting to start (a
        running one may have read the state before this change, so it does not count)."""
        item = JobRow.item_id.is_(None) if item_id is None else JobRow.item_id == item_id
        waiting = self.s.scalar(
            select(JobRow.id)
            .where(JobRow.kind == kind, item, JobRow.state == QUEUED, _on(node, strict=True))
            .limit(1)
        )
        if waiting is not None:
            return int(waiting)
        return self.enqueue(kind=kind, item_id=item_id, now=now, node=node)

    def unfinished_for(self, item_ids: Sequence[int], *, kind: JobKind) -> set[int]:
        """Which of ``item_ids`` still have a ``kind`` job queued or running."""
        found: set[int] = set()
        for batch in chunked(item_ids):
            q = select(JobRow.item_id).where(
                JobRow.item_id.in_(batch), JobRow.kind == kind, _unfinished()
            )
            found.update(i for i in self.s.scalars(q) if i is not None)
        return found

    def claim(
        self,
        *,
        owner: str,
        kinds: Sequence[str],
        now: datetime,
        lease_s: float,
        max_attempts: int,
        node: str | None = None,
    ) -> r.Job | None:
        """Take the next due job of ``kinds`` for ``owner``, or None when there is none; with
        ``node``, only jobs anyone may run and those pinned to that node."""
        while True:
            row = self.s.scalars(_claimable(kinds, now, node)).first()
            if row is None:
                return None
            if row.state == RUNNING:  # its worker died or hung: the lease ran out
                # last_error is stored in the catalog and stays English, as the journal does
                expired = row.lease_expires.isoformat() if row.lease_expires else "?"
                lost = f"the lease of {row.lease_owner} expired at {expired}"
                if row.attempts >= max_attempts:
                    last = f"; last error: {row.last_error}" if row.last_error else ""
                    self._finish(row, FAILED, now)
                    row.last_error = f"gave up after {row.attempts} attempts: {lost}{last}"
                    continue
                row.last_error = row.last_error or lost
            row.state = RUNNING
            row.attempts += 1
            row.lease_owner = owner
            row.lease_expires = now + timedelta(seconds=lease_s)
            self.s.flush()
            return _job(row)

    def heartbeat(self, job_id: int, *, owner: str, now: datetime, lease_s: float) -> bool:
        """Renew the lease; False when the job is no longer ours."""
        result = self.s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.lease_owner == owner, JobRow.state == RUNNING)
            .values(lease_expires=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    def complete(self, job_id: int, *, owner: str, now: datetime) -> r.Job:
        row = self._held(job_id, owner)
        self._finish(row, DONE, now)
        return _job(row)

    def fail(
        self,
        job_id: int,
        *,
        owner: str,
        error: str,
        now: datetime,
        max_attempts: int,
        retry_s: float,
        transient: bool = False,
    ) -> r.Job:
        """Record a failed attempt: queued again after a backoff, or failed for good. A
        ``transient`` failure (the object store is down) never fails a job for good: it waits
        longer each time, at most ``MAX_BACKOFF_S``, for as long as the outage lasts."""
        row = self._held(job_id, owner)
        if row.attempts >= max_attempts and not transient:
            self._finish(row, FAILED, now)
        else:
            row.state = QUEUED
            row.lease_owner = row.lease_expires = None
            row.not_before = now + backoff(row.attempts, retry_s)
            ring(self.s)  # a worker idle on an empty queue learns when it is due
        row.last_error = error[:_ERROR_CHARS]
        self.s.flush()
        return _job(row)

    def retry_failed(self, *, kinds: Sequence[str] | None, now: datetime) -> list[r.Job]:
        """Queue failed jobs again (after the operator fixed the cause), attempts reset; their
        last error is kept until the next attempt replaces it."""
        q = select(JobRow).where(JobRow.state == FAILED).order_by(JobRow.id)
        if kinds is not None:
            q = q.where(JobRow.kind.in_(list(kinds)))
        rows = list(self.s.scalars(q.with_for_update()))
        for row in rows:
            row.state, row.attempts, row.not_before, row.finished_at = QUEUED, 0, now, None
        self.s.flush()
        if rows:
            ring(self.s)
        return [_job(row) for row in rows]

    def release(self, job_id: int, *, owner: str, now: datetime) -> bool:
        """Give a job back unfinished (a clean stop): queued now, the attempt not counted."""
        try:
            row = self._held(job_id, owner)
        except LeaseLost:
            return False
        row.state = QUEUED
        row.attempts = max(0, row.attempts - 1)
        row.lease_owner = row.lease_expires = None
        row.not_before = now
        self.s.flush()
        ring(self.s)
        return True

    # -- reads --------------------------------------------------------------------------------
    def job(self, job_id: int) -> r.Job | None:
        row = self.s.get(JobRow, job_id)
        return None if row is None else _job(row)

    def jobs(
        self,
        *,
        states: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        limit: int = 1000,
    ) -> list[r.Job]:
        q = select(JobRow).order_by(JobRow.id).limit(limit)
        if states is not None:
            q = q.where(JobRow.state.in_(list(states)))
        if kinds is not None:
            q = q.where(JobRow.kind.in_(list(kinds)))
        return [_job(j) for j in self.s.scalars(q)]

    def latest_for_items(self, item_ids: Sequence[int], *, kind: JobKind) -> dict[int, r.Job]:
        """The newest job of ``kind`` of each item (by the job.item_id index)."""
        found: dict[int, r.Job] = {}
        for batch in chunked(item_ids):
            q = (
                select(JobRow)
                .where(JobRow.item_id.in_(batch), JobRow.kind == kind)
                .order_by(JobRow.id)
            )
            for row in self.s.scalars(q):
                if row.item_id is not None:
                    found[row.item_id] = _job(row)
        return found

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of jobs by (kind, state): the queue depth a metrics collector reports."""
        q = select(JobRow.kind, JobRow.state, func.count()).group_by(JobRow.kind, JobRow.state)
        return {(k, s): int(n) for k, s, n in self.s.execute(q)}

    def left(self, kinds: Sequence[str], node: str | None = None) -> int:
        """Jobs of ``kinds`` that are not finished (queued, waiting to retry, or running)
        and that a worker of ``node`` may run."""
        q = select(func.count()).where(JobRow.kind.in_(list(kinds)), _unfinished(), _on(node))
        return int(self.s.scalar(q) or 0)

    def next_due(self, kinds: Sequence[str], node: str | None = None) -> datetime | None:
        """When the next unfinished job becomes claimable (a retry time or a lease's end)."""
        mine = and_(JobRow.kind.in_(list(kinds)), _on(node))
        queued = self.s.scalar(
            select(func.min(JobRow.not_before)).where(mine, JobRow.state == QUEUED)
        )
        leases = self.s.scalar(
            select(func.min(JobRow.lease_expires)).where(mine, JobRow.state == RUNNING)
        )
        times = [t for t in (queued, leases) if t is not None]
        return min(times) if times else None

    # -- helpers ------------------------------------------------------------------------------
    def _held(self, job_id: int, owner: str) -> JobRow:
        row = self.s.scalars(select(JobRow).where(JobRow.id == job_id).with_for_update()).first()
        if row is None or row.state != RUNNING or row.lease_owner != owner:
            holder = _("nobody") if row is None or row.lease_owner is None else row.lease_owner
            raise LeaseLost(
                _("job {job} is no longer held by {owner} (now: {holder})").format(
                    job=job_id, owner=owner, holder=holder
                )
            )
        return row

    def _finish(self, row: JobRow, state: JobState, now: datetime) -> None:
        row.state = state
        row.lease_owner = row.lease_expires = None
        row.finished_at = now
        self.s.flush()


def _unfinished() -> ColumnElement[bool]:
    return JobRow.state.in_([QUEUED, RUNNING])


def _on(node: str | None, *, strict: bool = False) -> ColumnElement[bool]:
    """Jobs a worker of ``node`` may run: unpinned ones and its own (None: every job). With
    ``strict``, exactly the jobs pinned to ``node`` (None: the unpinned ones)."""
    if node is None:
        return JobRow.node.is_(None) if strict else true()
    if strict:
        return JobRow.node == node
    return or_(JobRow.node.is_(None), JobRow.node == node)


def _claimable(kinds: Sequence[str], now: datetime, node: str | None) -> Select[JobRow]:
    """The one dialect-dependent query: row locks skipped on PostgreSQL (SKIP LOCKED); SQLite
    renders no FOR UPDATE and relies on its write transaction, which admits one writer."""
    due = or_(
        and_(JobRow.state == QUEUED, JobRow.not_before <= now),
        and_(JobRow.state == RUNNING, JobRow.lease_expires < now),
    )
    return (
        select(JobRow)
        .where(JobRow.kind.in_(list(kinds)), due, _on(node))
        .order_by(JobRow.not_before, JobRow.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )


def _job(row: JobRow) -> r.Job:
    return r.Job(
        id=row.id,
        kind=row.kind,
        item_id=row.item_id,
        state=row.state,
        attempts=row.attempts,
        last_error=row.last_error,
        not_before=row.not_before,
        lease_owner=row.lease_owner,
        lease_expires=row.lease_expires,
        created_at=row.created_at,
        finished_at=row.finished_at,
        node=row.node,
    )
