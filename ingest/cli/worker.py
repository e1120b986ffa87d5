"""``evidock worker`` (job workers until SIGTERM, or ``--drain``) and ``evidock jobs``."""

from __future__ import annotations

import argparse
import signal
from datetime import datetime
from types import FrameType
from typing import Any

from i18n import _, n_
from ingest.cli.common import examples, open_dock
from ingest.config import Settings
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.jobs.uploads import check_object_store
from ingest.jobs.worker import HANDLERS, RESULTS, WorkerPool
from ingest.metrics.catalog import CatalogGauges
from ingest.metrics.prometheus import DockMetrics, Served, serve
from ingest.output import Output
from storage.catalog.jobs import QUEUED, RUNNING, STATES, JobOps
from storage.records import Job


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "worker",
        help=_("job workers: review proxies (transcode) from the queue, until SIGTERM"),
        description=_(
            "Claims jobs from the catalog's queue under a lease and runs them below "
            "acquisition's CPU and I/O priority. SIGTERM gives the jobs in hand back to the queue."
        ),
        epilog=examples(
            "evidock worker",
            "evidock worker --drain --kinds transcode --concurrency 2",
        ),
    )
    known = ", ".join(sorted(HANDLERS))
    s.add_argument("--kinds", metavar="KIND,...",
                   help=_("job kinds to run (known: {kinds}; default: transcode, and upload "
                          "when [s3] is configured)").format(kinds=known))  # fmt: skip
    s.add_argument("--concurrency", type=int, metavar="N", help=_("worker threads ([worker])"))
    s.add_argument(
        "--drain",
        action="store_true",
        help=_(
            "work until nothing more can be done now; exit 0 once no job is left, else 1 "
            "naming what waits and why"
        ),
    )
    s.add_argument("--metrics-address", metavar="HOST:PORT",
                   help=_("Prometheus endpoint ('off' for none)"))  # fmt: skip
    s.set_defaults(func=cmd_worker, daemon=True)  # logs INFO by default (the journal)
    s = sub.add_parser(
        "jobs",
        help=_("the job queue: counts by state, and the jobs not done"),
        epilog=examples(
            "evidock jobs",
            "evidock jobs --state failed --json",
            "evidock jobs --retry-failed --kind upload",
        ),
    )
    s.add_argument("--state", choices=STATES, help=_("list jobs in this state"))
    s.add_argument(
        "--retry-failed",
        action="store_true",
        help=_("queue the failed jobs again (after fixing their cause), attempts reset"),
    )
    s.add_argument("--kind", metavar="KIND", help=_("with --retry-failed: only jobs of this kind"))
    s.set_defaults(func=cmd_jobs)


def cmd_worker(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    kinds = [k.strip() for k in (args.kinds or "").split(",") if k.strip()] or None
    if args.kinds is not None and (not kinds or any(k not in HANDLERS for k in kinds)):
        raise UsageError(
            _("--kinds {kinds!r}: unknown job kind").format(kinds=args.kinds),
            hint=_("Known kinds: {kinds}.").format(kinds=", ".join(sorted(HANDLERS))),
        )
    if args.concurrency is not None and not 1 <= args.concurrency <= 64:
        raise UsageError(_("--concurrency must be between 1 and 64"))
    # the first node of a fleet up creates the schema of the empty PostgreSQL catalog
    ctx = open_dock(settings, create_schema=True)
    served: Served | None = None
    try:
        check_object_store(ctx, refuse_unreachable=False)
        metrics = DockMetrics(ctx.dock.name)
        pool = WorkerPool(ctx, kinds=kinds, concurrency=args.concurrency, drain=args.drain,
                          on_storage_error=metrics.storage_error)  # fmt: skip
        address = args.metrics_address or (None if args.drain else settings.worker.metrics_address)
        if address and address != "off":
            metrics.add_families(CatalogGauges(ctx).families)  # queue depth, failed jobs, ...
            metrics.add_families(pool.families)
            try:
                served = serve(address, metrics.registry)
            except (OSError, ValueError) as e:
                raise UsageError(
                    _("cannot serve metrics at {address}: {error}").format(
                        address=address, error=e
                    ),
                    hint=_("Choose a free HOST:PORT with --metrics-address, or 'off'."),
                ) from e

        def on_signal(signum: int, frame: FrameType | None) -> None:
            pool.stop()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            pool.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        with ctx.catalog.read() as txn:
            left = JobOps(txn).left(pool.kinds, ctx.worker_node)
            waiting = (
                JobOps(txn).jobs(states=[QUEUED, RUNNING], kinds=pool.kinds, limit=20)
                if args.drain and left
                else []
            )
        if pool.count("done") or pool.count("failed"):
            ctx.checkpoint()  # the transcoded events under a signed checkpoint
    finally:
        if served is not None:
            served.shutdown()
        ctx.close()
    ended = {r: pool.count(r) for r in RESULTS}
    out.document(
        {
            "ended": ended,
            "left": left,
            "drained": args.drain and left == 0,
            "waiting": [_waiting_json(j) for j in waiting],
        }
    )
    out.line(
        _(
            "worker {name}: {done} done, {retry} to retry, {failed} failed for good, "
            "{released} given back; {left} left"
        ).format(name=pool.name, done=ended["done"], retry=ended["retry"],
                 failed=ended["failed"], released=ended["released"], left=left)
    )  # fmt: skip
    for j in waiting:  # a drain ends when the rest can only be done later: say what and why
        why = j.last_error or (
            _("in another worker's hands") if j.state == RUNNING else _("queued")
        )
        out.line(
            "  "
            + _("waits: job {job} {kind} item {item}, next try {at}: {why}").format(
                job=j.id, kind=j.kind, item=j.item_id or "-", at=out.when(j.not_before), why=why
            )
        )
    return EXIT_OK if not args.drain or left == 0 else EXIT_FAILURE


def _waiting_json(j: Job) -> dict[str, object]:
    return {"job": j.id, "kind": j.kind, "item": j.item_id, "state": j.state,
            "not_before": j.not_before.isoformat(), "last_error": j.last_error}  # fmt: skip


def cmd_jobs(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    if args.kind is not None and not args.retry_failed:
        raise UsageError(
            _("--kind goes with --retry-failed"),
            hint="evidock jobs --retry-failed",  # untranslated: a command line to copy
        )
    ctx = open_dock(settings)
    retried: list[Job] = []
    try:
        if args.retry_failed:
            with ctx.catalog.write() as txn:
                kinds = None if args.kind is None else [args.kind]
                retried = JobOps(txn).retry_failed(kinds=kinds, now=ctx.clock())
        with ctx.catalog.read() as txn:
            ops = JobOps(txn)
            counts = ops.counts()
            states = [args.state] if args.state else ["queued", "running", "failed"]
            jobs = ops.jobs(states=states)
    finally:
        ctx.close()
    out.document(
        {
            "retried": [j.id for j in retried],
            "counts": [{"kind": k, "state": s, "jobs": n} for (k, s), n in sorted(counts.items())],
            "jobs": [
                {
                    "id": j.id,
                    "kind": j.kind,
                    "item": j.item_id,
                    "state": j.state,
                    "attempts": j.attempts,
                    "last_error": j.last_error or None,
                    "not_before": j.not_before.isoformat(),
                    "lease_owner": j.lease_owner,
                    "lease_expires": j.lease_expires.isoformat() if j.lease_expires else None,
                    "finished_at": j.finished_at.isoformat() if j.finished_at else None,
                }
                for j in jobs
            ],
        }
    )
    if args.retry_failed:
        again = n_("queued again: {n} failed job", "queued again: {n} failed jobs",
                   len(retried)).format(n=len(retried))  # fmt: skip
        ids = ", ".join(str(j.id) for j in retried)
        out.line(f"{again} ({ids})" if retried else again)
    summary = ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(counts.items()))
    out.line(_("jobs: {summary}").format(summary=summary or _("none")))
    out.table(
        [
            _("JOB"),
            _("KIND"),
            _("ITEM"),
            _("STATE"),
            _("TRIES"),
            _("NEXT/LEASE/ENDED"),
            _("LAST ERROR"),
        ],
        [
            [
                j.id,
                j.kind,
                j.item_id or "-",
                j.state,
                j.attempts,
                out.when(_when(j)),
                (j.last_error or "-")[:80],
            ]
            for j in jobs
        ],
    )
    return EXIT_OK


def _when(j: Job) -> datetime | None:
    """When a queued job is due, a running one's lease ends, a finished one ended."""
    if j.state == "running":
        return j.lease_expires
    return j.finished_at if j.state in ("done", "failed") else j.not_before
