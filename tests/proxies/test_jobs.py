"""The job queue on SQLite and PostgreSQL: leases, backoff, giving up, exclusive claims."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest

from ingest.context import Context
from ingest.jobs.proxies import Work
from ingest.jobs.worker import WorkerPool
from storage.catalog.jobs import DONE, FAILED, QUEUED, RUNNING, JobKind, JobOps, LeaseLost
from storage.records import Job

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
KIND = JobKind.TRANSCODE


def _claim(
    ctx: Context, owner: str, now: datetime, *, lease: float = 60, tries: int = 3
) -> Job | None:
    with ctx.catalog.write() as txn:
        return JobOps(txn).claim(
            owner=owner, kinds=[KIND], now=now, lease_s=lease, max_attempts=tries
        )


def _enqueue(ctx: Context, n: int = 1, at: datetime = T0) -> list[int]:
    with ctx.catalog.write() as txn:
        return [JobOps(txn).enqueue(kind=KIND, item_id=None, now=at) for _ in range(n)]


def test_a_claimed_job_is_taken_by_another_worker_only_after_its_lease_expires(
    ctx: Context,
) -> None:
    """Worker B gets nothing while A's lease runs; after it, B takes the job (a second attempt)
    and A can no longer finish it."""
    (job_id,) = _enqueue(ctx)
    a = _claim(ctx, "A", T0)
    assert a is not None and a.id == job_id and a.state == RUNNING and a.attempts == 1
    assert _claim(ctx, "B", T0 + timedelta(seconds=59)) is None
    with ctx.catalog.write() as txn:
        assert JobOps(txn).heartbeat(job_id, owner="A", now=T0 + timedelta(seconds=50), lease_s=60)
    assert _claim(ctx, "B", T0 + timedelta(seconds=100)) is None  # renewed until 110 s
    b = _claim(ctx, "B", T0 + timedelta(seconds=111))
    assert b is not None and b.lease_owner == "B" and b.attempts == 2
    assert "the lease of A expired" in b.last_error
    with ctx.catalog.write() as txn, pytest.raises(LeaseLost):
        JobOps(txn).complete(job_id, owner="A", now=T0)
    with ctx.catalog.write() as txn:
        assert not JobOps(txn).heartbeat(job_id, owner="A", now=T0, lease_s=60)
        assert JobOps(txn).complete(job_id, owner="B", now=T0).state == DONE


def test_a_failing_job_backs_off_then_fails_for_good_with_its_error_kept(ctx: Context) -> None:
    """Each failure waits twice as long as the one before; the last attempt leaves the job
    failed with the tool's error, and nobody claims it again."""
    (job_id,) = _enqueue(ctx)
    now = T0
    for attempt, wait in ((1, 10), (2, 20)):
        job = _claim(ctx, "A", now)
        assert job is not None and job.attempts == attempt
        with ctx.catalog.write() as txn:
            job = JobOps(txn).fail(job_id, owner="A", error=f"boom {attempt}", now=now,
                                   max_attempts=3, retry_s=10)  # fmt: skip
        assert job.state == QUEUED and job.not_before == now + timedelta(seconds=wait)
        assert _claim(ctx, "A", now + timedelta(seconds=wait - 1)) is None
        now += timedelta(seconds=wait)
    assert _claim(ctx, "A", now) is not None
    with ctx.catalog.write() as txn:
        job = JobOps(txn).fail(job_id, owner="A", error="moov atom not found", now=now,
                               max_attempts=3, retry_s=10)  # fmt: skip
    assert job.state == FAILED and job.attempts == 3 and job.last_error == "moov atom not found"
    assert job.finished_at == now
    assert _claim(ctx, "A", now + timedelta(days=1)) is None


def test_a_job_whose_worker_keeps_dying_ends_failed_not_in_a_crash_loop(ctx: Context) -> None:
    """Every claim counts: a job whose workers die holding it is given up after max attempts."""
    (job_id,) = _enqueue(ctx)
    now = T0
    for _ in range(3):
        assert _claim(ctx, "W", now, lease=5) is not None
        now += timedelta(seconds=6)  # the worker was killed: its lease runs out
    assert _claim(ctx, "W", now, lease=5) is None
    with ctx.catalog.read() as txn:
        job = JobOps(txn).job(job_id)
    assert job is not None and job.state == FAILED and job.attempts == 3
    assert job.last_error.startswith("gave up after 3 attempts: the lease of W expired")


def test_a_released_job_is_queued_again_without_losing_an_attempt(ctx: Context) -> None:
    """A clean stop gives the job back: queued now, its attempt not counted."""
    (job_id,) = _enqueue(ctx)
    assert _claim(ctx, "A", T0) is not None
    with ctx.catalog.write() as txn:
        assert JobOps(txn).release(job_id, owner="A", now=T0)
        assert not JobOps(txn).release(job_id, owner="A", now=T0)
    job = _claim(ctx, "B", T0)
    assert job is not None and job.attempts == 1


def test_claiming_is_exclusive_under_concurrency(ctx: Context) -> None:
    """Two pools of two threads drain 40 jobs: each job runs exactly once (SKIP LOCKED on
    PostgreSQL, the write transaction on SQLite). The first four jobs are held until all four
    threads hold one, so the claims surely overlap."""
    ids = _enqueue(ctx, 40, at=ctx.clock())
    ran: list[int] = []
    lock = threading.Lock()
    all_in_hand = threading.Barrier(4)

    def handler(c: Context, work: Work) -> None:
        with lock:
            ran.append(work.job.id)
            first = len(ran) <= all_in_hand.parties
        if first:  # a thread waiting here cannot claim again: four threads, four jobs in hand
            all_in_hand.wait(timeout=60)
        with c.catalog.write() as txn:
            JobOps(txn).complete(work.job.id, owner=work.owner, now=c.clock())

    quick = dataclasses.replace(ctx.settings.worker, poll_seconds=0.1)
    pools = [
        WorkerPool(ctx, drain=True, concurrency=2, settings=quick, handlers={KIND: handler})
        for _ in range(2)
    ]
    threads = [threading.Thread(target=p.run) for p in pools]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not all_in_hand.broken, "the four threads never held a job at the same time"
    assert sorted(ran) == sorted(ids), "a job ran twice or not at all"
    with ctx.catalog.read() as txn:
        assert {j.state for j in JobOps(txn).jobs()} == {DONE}
        assert JobOps(txn).counts() == {(KIND, DONE): 40}


def test_a_job_pinned_to_a_dock_is_run_only_by_that_docks_workers(ctx: Context) -> None:
    """A job reading dock-a's local spool is invisible to dock-b's workers (claim, the count
    a drain waits for, the next due time); unpinned jobs go to anyone."""
    with ctx.catalog.write() as txn:
        ops = JobOps(txn)
        pinned = ops.enqueue(kind=KIND, item_id=None, now=T0, node="dock-a")
        anyone = ops.enqueue(kind=KIND, item_id=None, now=T0 + timedelta(seconds=1))
        assert ops.left([KIND], "dock-b") == 1 and ops.left([KIND], "dock-a") == 2
        assert ops.next_due([KIND], "dock-b") == T0 + timedelta(seconds=1)
        assert ops.left([KIND]) == 2  # a shared store: every job
    later = T0 + timedelta(minutes=1)
    with ctx.catalog.write() as txn:
        ops = JobOps(txn)
        b = ops.claim(owner="B", kinds=[KIND], now=later, lease_s=60, max_attempts=3,
                      node="dock-b")  # fmt: skip
        assert b is not None and b.id == anyone
        assert ops.claim(owner="B", kinds=[KIND], now=later, lease_s=60, max_attempts=3,
                         node="dock-b") is None  # fmt: skip
        a = ops.claim(owner="A", kinds=[KIND], now=later, lease_s=60, max_attempts=3,
                      node="dock-a")  # fmt: skip
        assert a is not None and a.id == pinned and a.node == "dock-a"


def test_a_transient_failure_never_fails_a_job_for_good(ctx: Context) -> None:
    """The object store being down is retried for as long as it lasts (the wait grows to an
    hour), while other failures end the job after max_attempts."""
    (job_id,) = _enqueue(ctx)
    now = T0
    for attempt in range(1, 8):
        job = _claim(ctx, "A", now, tries=3)
        assert job is not None and job.attempts == attempt
        with ctx.catalog.write() as txn:
            job = JobOps(txn).fail(job_id, owner="A", error="s3 down", now=now, max_attempts=3,
                                   retry_s=600, transient=True)  # fmt: skip
        assert job.state == QUEUED
        assert job.not_before - now == timedelta(seconds=min(3600, 600 * 2 ** (attempt - 1)))
        now = job.not_before
    job = _claim(ctx, "A", now, tries=3)
    with ctx.catalog.write() as txn:
        job = JobOps(txn).fail(job_id, owner="A", error="bad bytes", now=now, max_attempts=3,
                               retry_s=600)  # fmt: skip
    assert job.state == FAILED
    with ctx.catalog.write() as txn:
        (again,) = JobOps(txn).retry_failed(kinds=[KIND], now=now)
    assert again.id == job_id and again.state == QUEUED and again.attempts == 0
