"""Gauges that describe the catalog, computed at scrape time from cheap indexed queries.

They are right after a restart and the same on every dock and worker of a fleet (each node
reads the one catalog; alert rules take the ``max`` across instances). The judgement (what is
late, what an excuse covers, which device is overdue) is ``ingest.cases.compliance``'s, so these
numbers agree with ``evidock overdue``. Nothing here measures or writes: items no hook has
measured yet are counted once ``evidock overdue`` or the audit has measured them.

Labels: device serials and job kinds and states; never officers, badges, cases or paths.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from ingest.cases.compliance import dock_overdue, judge
from ingest.cases.coverage import gaps as coverage_gaps
from ingest.cases.coverage import open_gaps
from ingest.cases.offload import deadline
from ingest.context import Context
from ingest.metrics.prometheus import Family
from ingest.metrics.witness import witness_families
from storage.catalog.caselinks import LinkOps
from storage.catalog.cases import CaseOps
from storage.catalog.jobs import FAILED, QUEUED, RUNNING
from storage.catalog.metricsq import JobCount, MetricsQueries
from storage.catalog.offload import OffloadOps
from storage.catalog.session import Transaction
from storage.errors import StorageError

logger = logging.getLogger(__name__)

# Job states of the queue (storage/catalog/jobs.py, issue 5): waiting to be claimed, claimed under a
# lease, given up after the last attempt.


class CatalogGauges:
    """``families()`` gives the catalog gauges; a result is reused for ``max_age_s`` seconds,
    so several Prometheus servers scraping one dock cost the catalog one set of queries."""

    def __init__(
        self,
        ctx: Context,
        *,
        max_age_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Family]] | None = None
        self._down = False  # the catalog failed the last scrape (logged once per outage)

    def families(self) -> list[Family]:
        with self._lock:
            now = self._monotonic()
            if self._cached is not None and now - self._cached[0] < self.max_age_s:
                return self._cached[1]
            found = self._compute()
            self._cached = (now, found)
            return found

    def _compute(self) -> list[Family]:
        started = time.monotonic()
        try:
            with self.ctx.catalog.read() as txn:
                found = catalog_families(txn, self.ctx, at=self.ctx.clock())
            up = 1.0
            if self._down:
                logger.info("catalog gauges available again")
            self._down = False
        except StorageError as e:
            if not self._down:  # evidock_catalog_up says it on every scrape; the log once
                logger.warning("catalog gauges unavailable code=%s error=%s", e.code, e)
            self._down = True
            found, up = [], 0.0
        except Exception:  # a scrape must answer: the failure is in the log and in _up
            logger.exception("catalog gauges failed")
            found, up = [], 0.0
        took = time.monotonic() - started
        return [
            *found,
            Family.single("evidock_catalog_up", "1 when the catalog answered this scrape", up),
            Family.single(
                "evidock_catalog_scrape_seconds", "Seconds the catalog gauges took to read", took
            ),
        ]


def catalog_families(txn: Transaction, ctx: Context, *, at: datetime) -> list[Family]:
    limit = deadline(ctx.settings)
    q = MetricsQueries(txn)
    ops = OffloadOps(txn)
    devices = ops.devices_in_service(at=at)
    lost = ops.lost_devices(at=at)
    overdue = [d for d in devices if dock_overdue(d, at=at, deadline=limit) is not None]
    pending = q.pending()
    late = q.late(at=at, over_s=limit.total_seconds())
    excuses = ops.excuses([c.item_id for c in late.to_judge], at=at)
    judged_late = sum(
        1
        for c in late.to_judge
        if judge(
            reference_end=c.reference_end,
            durable_at=c.durable_at,
            acquired_at=c.acquired_at,
            at=at,
            deadline=limit,
            excuses=excuses.get(c.item_id, ()),
        ).excused_by
        is None
    )
    checkpoint = q.last_checkpoint_at()
    jobs = q.jobs((QUEUED, RUNNING, FAILED), at=at)
    acts = CaseOps(txn).activities_ended(before=at - limit, at=at)
    slack = timedelta(minutes=ctx.settings.compliance.link_slack_minutes)
    av_gaps = open_gaps(coverage_gaps(LinkOps(txn), acts, at=at, slack=slack))

    def since(t: datetime) -> float:
        return (at - t).total_seconds()

    def undocked(assigned: datetime, docked: datetime | None) -> float:
        return since(docked if docked is not None and docked > assigned else assigned)

    return [
        Family.single("evidock_devices_in_service", "Devices assigned to an officer", len(devices)),
        Family.single(
            "evidock_devices_undocked_overdue",
            "Devices in service not docked within the offload deadline",
            len(overdue),
        ),
        Family(
            name="evidock_device_undocked_seconds",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Seconds since a device in service was last docked (or assigned, if later)",
            labels=("device",),
            samples=tuple(
                ((d.serial,), undocked(d.assigned_at, d.last_docked_at)) for d in devices
            ),
        ),
        Family(
            name="evidock_device_lost_seconds",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Seconds since a device was reported lost (issue 20): what it recorded after "
            "its last docking may never be offloaded",
            labels=("device",),
            samples=tuple(((d.serial,), since(d.lost_at)) for d in lost),
        ),
        Family.single(
            "evidock_offload_pending_items", "Items whose bytes are not durable yet", pending.count
        ),
        Family.single(
            "evidock_offload_pending_oldest_age_seconds",
            "Seconds since the deadline clock of the oldest pending item started (0: none)",
            0.0 if pending.oldest_start is None else since(pending.oldest_start),
        ),
        Family.single(
            "evidock_offloads_late_unexcused",
            "Items offloaded after the deadline (or with no trusted time) and not excused",
            late.without_excuse + judged_late,
        ),
        Family.single(
            "evidock_cases_archive_overdue",
            "Closed cases past their archive deadline and not archived",
            q.archives_overdue(at),
        ),
        Family.single(
            "evidock_av_requirement_gaps",
            "Activities that require audio/video whose window linked undamaged video does not "
            "cover, not exempted",
            len(av_gaps),
        ),
        Family.single(
            "evidock_custody_log_events", "Events in the custody log", txn.log.head().size
        ),
        Family.single(
            "evidock_custody_last_checkpoint_timestamp_seconds",
            "Unix time of the newest signed checkpoint of the custody log",
            None if checkpoint is None else checkpoint.timestamp(),
        ),
        *witness_families(txn, ctx.settings.trust, at=at),  # issue 15
        _jobs("evidock_job_queue_depth", "Jobs queued or running", jobs, QUEUED, RUNNING),
        _jobs("evidock_jobs_failed", "Jobs given up after their last attempt", jobs, FAILED),
        Family(
            name="evidock_job_queue_oldest_seconds",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Seconds the oldest queued job has been due, by kind",
            labels=("kind",),
            samples=tuple(
                ((j.kind,), since(j.oldest_ready))
                for j in jobs
                if j.state == QUEUED and j.oldest_ready is not None
            ),
        ),
    ]


def _jobs(name: str, help: str, jobs: Sequence[JobCount], *states: str) -> Family:
    per_kind: dict[str, float] = {}
    for j in jobs:
        if j.state in states:
            per_kind[j.kind] = per_kind.get(j.kind, 0.0) + j.count
    return Family(
        name=name,
        help=help,
        labels=("kind",),
        samples=tuple(((k,), v) for k, v in sorted(per_kind.items())),
    )


def session_delays(ctx: Context, item_ids: Sequence[int]) -> list[float]:
    """The offload delays measured for these items (by the hook after their session)."""
    if not item_ids:
        return []
    try:
        with ctx.catalog.read() as txn:
            checks = OffloadOps(txn).checks(item_ids)
    except StorageError as e:
        logger.warning("offload delays not observed code=%s error=%s", e.code, e)
        return []
    return [c.delay_s for c in checks.values() if c.delay_s is not None]
