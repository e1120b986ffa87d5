"""Job workers: threads that claim jobs from the catalog's queue, hold them under a lease and
run them below acquisition's priority.

A ``WorkerPool`` owns its threads and their stop path: ``concurrency`` worker threads and one
lease-keeper thread that renews the lease of every job in hand (a job whose renewal fails was
taken over; its run is stopped and nothing of it is recorded). ``stop()`` (SIGTERM) kills the
ffmpeg in flight and gives its job back to the queue. With ``drain`` the threads end when no
job of their kinds is left.

Idle threads sleep until there is something to do: ``wake()`` (the dock calls it after each
file), the catalog's doorbell (``storage.catalog.doorbell``: a job queued, given back or
queued again by any process; one listener thread per pool blocks on it), the next job's due
time (a retry's backoff, a lease's end), or stop. Lest a missed ring leave a job waiting, they
look at least every ``safety_poll_seconds`` (default 5 min); while the doorbell is not
listening (the catalog is down; a ``drain`` pool, which ends soon anyway) every
``poll_seconds``. The lease keeper sleeps while no job is in hand.

When the catalog goes away (a PostgreSQL restart), the threads wait and try again (after 1 s,
then as long as the outage has lasted, at most 30 s; ``ingest.outage`` logs it once): a job
whose handler hit the outage recorded nothing and is given back once the catalog answers, its
attempt not counted.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from i18n import _, english
from ingest.config import WorkerSettings
from ingest.context import Context
from ingest.errors import IngestError
from ingest.jobs.proxies import Work, derived_store, make_proxies
from ingest.jobs.uploads import sync_to_s3
from ingest.media.transcode import TranscodeStopped
from ingest.metrics.prometheus import Family
from ingest.outage import CatalogOutage
from storage.catalog.doorbell import listen
from storage.catalog.jobs import RUNNING, JobKind, JobOps, LeaseLost, worker_node
from storage.errors import (
    CatalogUnavailable,
    S3ConfigError,
    S3IntegrityError,
    S3Unavailable,
    StorageError,
)
from storage.records import Job

logger = logging.getLogger(__name__)

# A handler does the job and completes it (JobOps.complete) in its last transaction; it
# raises IngestError/StorageError to fail the attempt.
Handler = Callable[[Context, Work], object]
HANDLERS: Mapping[str, Handler] = {JobKind.TRANSCODE: make_proxies, JobKind.UPLOAD: sync_to_s3}


def default_kinds(ctx: Context) -> tuple[str, ...]:
    """What a worker of this node runs unless told otherwise: uploads only with [s3]."""
    return (JobKind.TRANSCODE, JobKind.UPLOAD) if ctx.s3 is not None else (JobKind.TRANSCODE,)


RESULTS = ("done", "retry", "failed", "lost", "released")
S3_ERRORS = (S3Unavailable, S3IntegrityError, S3ConfigError)


@dataclass(slots=True)
class _Hand:
    """A job in a worker's hand: whether its lease was lost, how far it got."""

    job: Job
    owner: str
    lost: threading.Event = field(default_factory=threading.Event)
    percent: float = 0.0


class WorkerPool:
    def __init__(
        self,
        ctx: Context,
        *,
        kinds: Sequence[str] | None = None,
        concurrency: int | None = None,
        drain: bool = False,
        settings: WorkerSettings | None = None,
        handlers: Mapping[str, Handler] = HANDLERS,
        outage: CatalogOutage | None = None,
        on_storage_error: Callable[[str], None] | None = None,
    ) -> None:
        kinds = default_kinds(ctx) if kinds is None else kinds
        unknown = [k for k in kinds if k not in handlers]
        if unknown:
            raise IngestError(
                _("no worker for job kind(s) {kinds}").format(kinds=", ".join(unknown)),
                hint=_("Known kinds: {kinds}.").format(kinds=", ".join(sorted(handlers))),
            )
        self.ctx = ctx
        self.kinds = tuple(kinds)
        self.node = worker_node(shared=ctx.settings.store.shared, dock=ctx.dock.name)
        self.settings = settings or ctx.settings.worker
        self.concurrency = concurrency or self.settings.concurrency
        self.drain = drain
        self.handlers = handlers
        self.ended: collections.Counter[tuple[str, str]] = collections.Counter()  # kind, result
        self.busy_seconds: dict[str, float] = collections.defaultdict(float)
        self.stop_event = threading.Event()
        self._cond = threading.Condition()
        self._wakes = 0  # wake() calls so far (under _cond): one between a claim and the
        # idle wait after it is not lost
        self._held = threading.Condition()  # the lease keeper's: a job came into hand, or done
        self._hands: dict[int, _Hand] = {}
        self._threads: list[threading.Thread] = []
        self._keeper: threading.Thread | None = None
        self._bell: threading.Thread | None = None
        self._listening = threading.Event()  # the doorbell is heard: idle waits may be long
        self._interrupt: tuple[int, int] | None = None  # a pipe: stop() ends the bell's wait
        self._done = threading.Event()
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.outage = outage or CatalogOutage(f"workers {self.name}")
        self.on_storage_error = on_storage_error  # metrics: failures of a store, by backend

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        derived_store(self.ctx).clean_stale_staging()  # left by a killed worker of this host
        for n in range(self.concurrency):
            t = threading.Thread(
                target=self._loop, args=(f"{self.name}:{n}",), name=f"evidock-worker-{n}"
            )
            t.start()
            self._threads.append(t)
        self._keeper = threading.Thread(target=self._keep_leases, name="evidock-lease-keeper")
        self._keeper.start()
        if not self.drain:
            self._interrupt = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
            self._bell = threading.Thread(target=self._listen, name="evidock-job-bell")
            self._bell.start()
        logger.info(
            "workers started pool=%s kinds=%s n=%d", self.name, self.kinds, len(self._threads)
        )

    def stop(self) -> None:
        """Ask every thread to end; jobs in hand go back to the queue. Safe in a signal handler."""
        self.stop_event.set()
        self._end_listening()
        self.wake()

    def wake(self) -> None:
        """New work may be queued: idle threads look again now."""
        with self._cond:
            self._wakes += 1
            self._cond.notify_all()

    @property
    def listening(self) -> bool:
        """Whether the catalog's doorbell is heard now (idle threads then sleep long)."""
        return self._listening.is_set()

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        with self._held:
            self._done.set()
            self._held.notify_all()
        if self._keeper is not None:
            self._keeper.join(timeout)
        if self._bell is not None:
            self._end_listening()
            self._bell.join(timeout)
            if not self._bell.is_alive() and self._interrupt is not None:
                for fd in self._interrupt:
                    os.close(fd)
                self._interrupt = None

    def run(self) -> None:
        """Start, then wait until stopped (or, with ``drain``, until the queue is empty)."""
        self.start()
        try:
            while any(t.is_alive() for t in self._threads):
                for t in self._threads:
                    t.join(timeout=0.5)
        finally:
            self.stop()
            self.join()

    def count(self, result: str) -> int:
        return sum(n for (_, r), n in self.ended.items() if r == result)

    def families(self) -> list[Family]:
        """This pool's metrics, read at scrape time (queue depth is a catalog gauge)."""
        ended = [((k, r), float(self.ended[(k, r)])) for k in self.kinds for r in RESULTS]
        return [
            Family(name="evidock_worker_jobs_ended", labels=("kind", "result"),
                   # untranslated: Prometheus HELP, read by monitoring in English
                   help="Job runs this process ended, by kind and result (a count since start)",
                   samples=tuple(ended)),
            Family(name="evidock_worker_busy_seconds", labels=("kind",),
                   # untranslated: Prometheus HELP, read by monitoring in English
                   help="Seconds this process spent on jobs, by kind (a count since start)",
                   samples=tuple(((k,), self.busy_seconds.get(k, 0.0)) for k in self.kinds)),
            Family.single("evidock_worker_jobs_in_hand", "Jobs being worked on now",
                          float(len(self._hands))),
        ]  # fmt: skip

    def status(self) -> list[dict[str, object]]:
        """What each job in hand is: id, item, percent done (for logs and status)."""
        return [
            {"job": h.job.id, "item": h.job.item_id, "kind": h.job.kind, "percent": h.percent}
            for h in list(self._hands.values())
        ]

    # -- one worker thread --------------------------------------------------------------------
    def _loop(self, owner: str) -> None:
        _lower_priority(self.settings.nice)
        while not self.stop_event.is_set():
            try:
                started = self.outage.now()
                wakes = self._wakes
                job = self._claim(owner)
                self.outage.ok(started)
                if job is None:
                    if self.drain and (self._left() == 0 or self._nothing_to_do_now()):
                        break
                    self._idle(wakes)
                    continue
                self._run(owner, job)
            except CatalogUnavailable as e:  # logged once per outage; wait longer each time
                self.stop_event.wait(self.outage.failed(e))
            except StorageError as e:
                logger.error("worker catalog error owner=%s code=%s error=%s", owner, e.code, e)
                self.stop_event.wait(self.settings.poll_seconds)
        self.wake()

    def _claim(self, owner: str) -> Job | None:
        with self.ctx.catalog.write() as txn:
            return JobOps(txn).claim(
                owner=owner, kinds=self.kinds, now=self.ctx.clock(),
                lease_s=self.settings.lease_seconds, max_attempts=self.settings.max_attempts,
                node=self.node,
            )  # fmt: skip

    def _left(self) -> int:
        with self.ctx.catalog.read() as txn:
            return JobOps(txn).left(self.kinds, self.node)

    def _nothing_to_do_now(self) -> bool:
        """A drain ends when what is left can only be done later: no job of this pool is in
        hand (none can add new work) and none becomes claimable within ``poll_seconds`` (each
        waits for a later retry, e.g. an S3 outage's backoff); a job in another worker's hands
        is waited for (it ends, or its lease runs out)."""
        if self._hands:
            return False
        with self.ctx.catalog.read() as txn:
            ops = JobOps(txn)
            if ops.jobs(states=[RUNNING], kinds=self.kinds, limit=1):
                return False  # it ends, or its lease runs out and it is ours to take
            due = ops.next_due(self.kinds, self.node)
        soon = self.ctx.clock() + timedelta(seconds=self.settings.poll_seconds)
        return due is None or due > soon

    def _idle(self, wakes: int) -> None:
        """Sleep until woken (``wake()``, the doorbell, stop) or the next job is due; unless
        a wake came since ``wakes`` (read before the claim that found nothing)."""
        with self.ctx.catalog.read() as txn:
            due = JobOps(txn).next_due(self.kinds, self.node)
        s = self.settings
        wait = s.safety_poll_seconds if self._listening.is_set() else s.poll_seconds
        if due is not None:
            wait = min(wait, max(0.0, (due - self.ctx.clock()).total_seconds()) + 0.01)
        with self._cond:
            if not self.stop_event.is_set() and self._wakes == wakes:
                self._cond.wait(wait)

    def _run(self, owner: str, job: Job) -> None:
        hand = _Hand(job=job, owner=owner)
        with self._held:
            self._hands[job.id] = hand
            self._held.notify_all()
        started = time.monotonic()
        logger.info("job claimed job=%s kind=%s item=%s attempt=%d owner=%s",
                    job.id, job.kind, job.item_id, job.attempts, owner)  # fmt: skip

        def progress(pct: float) -> None:
            hand.percent = round(pct, 1)

        work = Work(
            job=job, owner=owner, settings=self.settings, progress=progress,
            should_stop=lambda: self.stop_event.is_set() or hand.lost.is_set(),
        )  # fmt: skip
        try:
            self.handlers[job.kind](self.ctx, work)
            result = "done"
        except (TranscodeStopped, LeaseLost) as e:
            result = self._give_back(hand, e)
        except CatalogUnavailable as e:
            result = self._give_back_later(hand, e)
        except (IngestError, StorageError) as e:
            if isinstance(e, S3_ERRORS) and self.on_storage_error is not None:
                self.on_storage_error("s3")
            # stored in the catalog: English whatever the worker's language (i18n.english)
            result = self._failed(
                hand, f"{english(e)} [{e.code}]", transient=isinstance(e, S3Unavailable)
            )
        except Exception as e:
            logger.exception("job crashed job=%s", job.id)
            detail = f"{type(e).__name__}: {e}"
            result = self._failed(hand, f"internal error: {detail}")
        finally:
            self._hands.pop(job.id, None)
            self.wake()
        seconds = time.monotonic() - started
        logger.info("job ended job=%s item=%s result=%s seconds=%.2f",
                    job.id, job.item_id, result, seconds)  # fmt: skip
        self.ended[(job.kind, result)] += 1
        self.busy_seconds[job.kind] += seconds

    def _give_back(self, hand: _Hand, why: Exception) -> str:
        if hand.lost.is_set() or isinstance(why, LeaseLost):
            logger.warning("job lease lost job=%s owner=%s: nothing recorded", hand.job.id,
                           hand.owner)  # fmt: skip
            return "lost"
        with self.ctx.catalog.write() as txn:
            JobOps(txn).release(hand.job.id, owner=hand.owner, now=self.ctx.clock())
        return "released"

    def _give_back_later(self, hand: _Hand, err: CatalogUnavailable) -> str:
        """The catalog went away under the job: nothing of the attempt was recorded (its last
        transaction did not commit). Give the job back, the attempt not counted, as soon as
        the catalog answers; the lease keeper holds the lease meanwhile. If the lease runs out
        first, the job is another worker's ('lost'); on stop, it waits for its lease to end."""
        while not self.stop_event.wait(self.outage.failed(err)):
            started = self.outage.now()
            try:
                with self.ctx.catalog.write() as txn:
                    given = JobOps(txn).release(hand.job.id, owner=hand.owner,
                                                now=self.ctx.clock())  # fmt: skip
            except CatalogUnavailable as e:
                err = e
                continue
            self.outage.ok(started)
            return "released" if given else "lost"
        return "lost"

    def _failed(self, hand: _Hand, error: str, *, transient: bool = False) -> str:
        s = self.settings
        with self.ctx.catalog.write() as txn:
            job = JobOps(txn).fail(
                hand.job.id, owner=hand.owner, error=error, now=self.ctx.clock(),
                max_attempts=s.max_attempts, retry_s=s.retry_seconds, transient=transient,
            )  # fmt: skip
        level = logging.INFO if job.state == "queued" else logging.WARNING
        logger.log(level, "job failed job=%s item=%s attempt=%d state=%s error=%s",
                   job.id, job.item_id, job.attempts, job.state, error)  # fmt: skip
        return "retry" if job.state == "queued" else "failed"

    # -- the lease keeper ---------------------------------------------------------------------
    def _keep_leases(self) -> None:
        """Renew the leases of the jobs in hand every third of a lease; asleep while none is."""
        every = max(0.1, self.settings.lease_seconds / 3)
        while True:
            with self._held:
                while not self._hands and not self._done.is_set():
                    self._held.wait()
            if self._done.wait(every):
                return
            hands = list(self._hands.values())
            if not hands:
                continue
            started = self.outage.now()
            try:
                with self.ctx.catalog.write() as txn:
                    ops, now = JobOps(txn), self.ctx.clock()
                    lost = [
                        h for h in hands
                        if not ops.heartbeat(h.job.id, owner=h.owner, now=now,
                                             lease_s=self.settings.lease_seconds)
                    ]  # fmt: skip
            except CatalogUnavailable as e:  # the leases run on; renewed when it is back
                self.outage.failed(e)
                continue
            except StorageError as e:
                logger.error("lease renewal failed code=%s error=%s", e.code, e)
                continue
            self.outage.ok(started)
            for h in lost:
                h.lost.set()

    # -- the doorbell -------------------------------------------------------------------------
    def _listen(self) -> None:
        """The doorbell thread. It only saves idle threads from polling: whatever ends it,
        they poll again (every ``poll_seconds``), and the daemon goes on."""
        try:
            self._hear_rings()
        except Exception:
            logger.exception("job doorbell failed, polling every %.0f s",
                             self.settings.poll_seconds)  # fmt: skip
        finally:
            self._listening.clear()
            self.wake()

    def _hear_rings(self) -> None:
        """Wake the idle threads at each ring of the catalog's doorbell; on an outage, wait
        and listen again, then look once (a ring may have come meanwhile)."""
        assert self._interrupt is not None
        interrupt = self._interrupt[0]
        while not self.stop_event.is_set() and not self._done.is_set():
            started = self.outage.now()
            try:
                bell = listen(self.ctx.catalog.engine)
            except CatalogUnavailable as e:
                self.stop_event.wait(self.outage.failed(e))
                continue
            except OSError as e:  # no inotify (instances used up): poll as before
                logger.warning("job doorbell unavailable, polling every %.0f s error=%s",
                               self.settings.poll_seconds, e)  # fmt: skip
                return
            if bell is None:
                return
            self.outage.ok(started)
            try:
                self._listening.set()
                self.wake()  # what was queued while nobody listened
                while bell.wait(interrupt):
                    self.wake()
            except CatalogUnavailable as e:
                self._listening.clear()
                self.wake()  # idle threads go back to polling
                self.stop_event.wait(self.outage.failed(e))
            except OSError as e:  # the bell file cannot be watched again: poll as before
                logger.warning("job doorbell lost, polling every %.0f s error=%s",
                               self.settings.poll_seconds, e)  # fmt: skip
                return
            finally:
                self._listening.clear()
                bell.close()

    def _end_listening(self) -> None:
        """End the doorbell's wait (async-signal-safe: one write to a pipe)."""
        if self._interrupt is not None:
            with contextlib.suppress(OSError):  # full (already ended) or closed
                os.write(self._interrupt[1], b"x")


def _lower_priority(nice: int) -> None:
    """This thread (Linux: one task) below acquisition: CPU niceness and the idle I/O class."""
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError as e:
        logger.debug("cannot lower worker CPU priority: %s", e)
    try:
        subprocess.run(["ionice", "-c3", "-p", str(tid)], check=False, capture_output=True,
                       timeout=5)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as e:
        logger.debug("cannot lower worker I/O priority: %s", e)
