"""The job queue's doorbell: an idle worker sleeps until another process queues a job (NOTIFY on
PostgreSQL, a touched bell file on SQLite), without polling the queue, and listens again after
its connection is cut."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from ingest.context import Context
from ingest.jobs.proxies import Work
from ingest.jobs.worker import WorkerPool
from storage.catalog.doorbell import bell_file
from storage.catalog.jobs import DONE, FAILED, JobKind, JobOps
from storage.records import Job
from support.pg import libpq_url
from tests.procs import child_env, wait_until

KIND = JobKind.TRANSCODE
HOUR = 3600.0

# A queue: enqueue from a process of its own, as a CLI command does, then exit.
ENQUEUE = """
import sys
from datetime import UTC, datetime
from storage.catalog.jobs import JobKind, JobOps
from storage.catalog.session import Catalog
catalog = Catalog(sys.argv[1])
with catalog.write() as txn:
    print(JobOps(txn).enqueue(kind=JobKind.TRANSCODE, item_id=None, now=datetime.now(UTC)))
catalog.close()
"""


class CountingPool(WorkerPool):
    """A pool that counts its claims of the queue (each one a look at the catalog)."""

    claims = 0

    def _claim(self, owner: str) -> Job | None:
        self.claims += 1
        return super()._claim(owner)


@contextmanager
def idle_pool(
    ctx: Context,
    ran: list[int],
    *,
    poll_seconds: float = HOUR,
    lease_seconds: float = 300,
    before_done: Callable[[Context, Work], None] | None = None,
) -> Iterator[CountingPool]:
    """A running pool whose only way to learn of another process's job is the doorbell (its
    polls are an hour apart), asleep on an empty queue once this yields. Its jobs run
    ``before_done``, then complete."""
    done = threading.Condition()

    def handler(c: Context, work: Work) -> None:
        if before_done is not None:
            before_done(c, work)
        with c.catalog.write() as txn:
            JobOps(txn).complete(work.job.id, owner=work.owner, now=c.clock())
        with done:
            ran.append(work.job.id)

    worker = dataclasses.replace(
        ctx.settings.worker, poll_seconds=poll_seconds, safety_poll_seconds=HOUR,
        lease_seconds=lease_seconds,
    )  # fmt: skip
    pool = CountingPool(ctx, settings=worker, handlers={KIND: handler})
    pool.start()
    try:
        assert wait_until(lambda: asleep(pool)), "the pool never went to sleep on the doorbell"
        yield pool
    finally:
        pool.stop()
        pool.join(timeout=60)


def asleep(pool: CountingPool) -> bool:
    """Listening, and its worker thread waiting on the pool's condition (Condition._waiters:
    the threads in its wait(), CPython's own bookkeeping)."""
    with pool._cond:
        waiting = len(pool._cond._waiters)  # type: ignore[attr-defined]
    return pool.listening and pool.claims >= 1 and waiting == 1


def enqueue_elsewhere(url: str) -> int:
    done = subprocess.run([sys.executable, "-c", ENQUEUE, url], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    return int(done.stdout)


def test_a_job_queued_by_another_process_wakes_an_idle_worker(ctx: Context) -> None:
    """A job queued by a child process is run by a worker that sleeps with hour-long polls:
    the commit rang the doorbell (SQLite: the bell file; PostgreSQL: NOTIFY)."""
    ran: list[int] = []
    with idle_pool(ctx, ran) as pool:
        before = pool.claims
        job = enqueue_elsewhere(ctx.settings.catalog_url)
        assert wait_until(lambda: ran == [job], timeout=60), "the idle worker was not woken"
        assert pool.claims - before <= 3  # woken by the ring, not looking again and again


def test_jobs_retried_by_the_cli_wake_an_idle_worker(ctx: Context, tmp_path: Path) -> None:
    """'evidock jobs --retry-failed' in another process queues a failed job again; the dock's
    sleeping worker runs it at once."""
    with ctx.catalog.write() as txn:
        ops = JobOps(txn)
        job = ops.enqueue(kind=KIND, item_id=None, now=ctx.clock())
        ops.claim(owner="gone", kinds=[KIND], now=ctx.clock(), lease_s=60, max_attempts=1)
        assert ops.fail(job, owner="gone", error="moov atom not found", now=ctx.clock(),
                        max_attempts=1, retry_s=60).state == FAILED  # fmt: skip
    ran: list[int] = []
    with idle_pool(ctx, ran):
        env = child_env(ctx.settings.data_dir, ctx.settings.catalog_url, dock=ctx.dock.name)
        cli = [sys.executable, "-m", "ingest.cli.main", "jobs", "--retry-failed"]
        done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert wait_until(lambda: ran == [job], timeout=60), "the idle worker was not woken"
    with ctx.catalog.read() as txn:
        found = JobOps(txn).job(job)
    assert found is not None and found.state == DONE


def _switches(thread: threading.Thread) -> int:
    """Voluntary context switches of ``thread`` (each a wake-up after blocking)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches:"))
    return int(line.split()[1])


def test_an_idle_worker_neither_polls_the_queue_nor_wakes_its_lease_keeper(ctx: Context) -> None:
    """With nothing queued, a second in which the old pool would have looked 20 times (a
    0.05 s poll) and renewed leases 10 times (a 0.3 s lease) passes without a claim and without
    one wake-up of any of the pool's threads."""
    ran: list[int] = []
    with idle_pool(ctx, ran, lease_seconds=0.3, poll_seconds=0.05) as pool:
        pool.stop_event.wait(0.2)  # a poll begun before it listened has ended
        threads = [*pool._threads, pool._keeper, pool._bell]
        claims = pool.claims
        before = [_switches(t) for t in threads if t is not None]
        pool.stop_event.wait(1.0)  # the window: asserted on counts below, not on time
        after = [_switches(t) for t in threads if t is not None]
        assert pool.claims == claims
        assert after == before, (
            f"wake-ups per thread: {[a - b for a, b in zip(after, before, strict=True)]}"
        )
    assert ran == []


def test_the_lease_keeper_wakes_for_a_job_in_hand_and_renews_its_lease(ctx: Context) -> None:
    """The keeper, asleep while the pool was idle, renews the lease of a job taken in hand
    (a 0.6 s lease, renewed every 0.2 s) for as long as the job runs."""
    leases: list[datetime | None] = []

    def held_long(c: Context, work: Work) -> None:
        def renewed_twice() -> bool:
            with c.catalog.read() as txn:
                job = JobOps(txn).job(work.job.id)
            assert job is not None and job.lease_owner == work.owner
            leases.append(job.lease_expires)
            return len(set(leases)) >= 3

        assert wait_until(renewed_twice, timeout=60), "the lease was not renewed"

    ran: list[int] = []
    with idle_pool(ctx, ran, lease_seconds=0.6, before_done=held_long) as pool:
        with ctx.catalog.write() as txn:
            job = JobOps(txn).enqueue(kind=KIND, item_id=None, now=ctx.clock())
        assert wait_until(lambda: ran == [job], timeout=90), "the job did not end"
    assert pool.count("done") == 1 and pool.count("lost") == 0
    stamps = [t for t in leases if t is not None]
    assert stamps == sorted(stamps) and len(set(stamps)) >= 3


@pytest.mark.postgres
def test_a_worker_listens_again_after_its_listening_connection_is_cut(
    ctx: Context,
) -> None:
    """The server ends the listening connection (as a restart does): the worker reconnects,
    looks once, and a job queued by another process afterwards still wakes it."""
    url = ctx.settings.catalog_url
    if bell_file(ctx.catalog.engine) is not None:
        pytest.skip("PostgreSQL's LISTEN connection")
    ran: list[int] = []
    with idle_pool(ctx, ran) as pool, psycopg.connect(libpq_url(url), autocommit=True) as admin:

        def listener() -> list[int]:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND query LIKE 'LISTEN %'"
            ).fetchall()
            return [int(r[0]) for r in rows]

        (first,) = listener()
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        assert wait_until(lambda: listener() not in ([], [first]) and asleep(pool), timeout=60)
        job = enqueue_elsewhere(url)
        assert wait_until(lambda: ran == [job], timeout=60), "not woken after reconnecting"


def test_a_removed_bell_file_is_made_again_and_still_rings(ctx: Context) -> None:
    """Someone deletes the SQLite catalog's bell file under a sleeping worker: the listener
    makes it again and a job queued by another process afterwards still wakes the worker."""
    bell = bell_file(ctx.catalog.engine)
    if bell is None:
        pytest.skip("SQLite's bell file")
    ran: list[int] = []
    with idle_pool(ctx, ran) as pool:
        bell.unlink()
        assert wait_until(lambda: bell.exists() and asleep(pool)), "the bell was not made again"
        job = enqueue_elsewhere(ctx.settings.catalog_url)
        assert wait_until(lambda: ran == [job], timeout=60), "not woken by the new bell file"
