"""``evidock dock`` (the daemon) and ``evidock status`` (what the dock is doing)."""

from __future__ import annotations

import argparse
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from devices.profiles import load_profiles
from i18n import _, n_
from ingest.cli.common import examples, open_dock
from ingest.cli.evidence import fixity_line
from ingest.config import Settings
from ingest.dock.daemon import DockDaemon
from ingest.dock.kiosk import kiosk_pages
from ingest.dock.notify import Notifier
from ingest.dock.receipt import receipt_lines
from ingest.dock.status import read_status, status_receipt
from ingest.errors import EXIT_OK, UsageError
from ingest.jobs.uploads import check_object_store
from ingest.metrics.catalog import CatalogGauges  # metrics (issue 7)
from ingest.metrics.prometheus import DockMetrics, serve
from ingest.output import Output
from storage.catalog.fixity import fixity_failed_items
from storage.errors import CatalogUnavailable, StorageError
from storage.records import DockSession


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "dock",
        help=_("the docking-station daemon (udev + watch folders)"),
        description=_(
            "Runs until SIGTERM: takes in every device docked (udev) or folder put "
            "into a watch folder, one bay each, and serves its metrics. systemd runs it as "
            "evidock-dock.service."
        ),
        epilog=examples(
            "evidock dock",
            "evidock dock --watch /srv/drop --no-udev --metrics-address 127.0.0.1:9108",
        ),
    )
    s.add_argument(
        "--watch",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help=_("a watch folder; each folder inside it is one device (repeatable)"),
    )
    s.add_argument(
        "--metrics-address", metavar="HOST:PORT", help=_("Prometheus endpoint ('off' for none)")
    )
    s.add_argument("--no-udev", action="store_true", help=_("watch folders only"))
    s.set_defaults(func=cmd_dock, daemon=True)  # logs INFO by default (the journal)
    s = sub.add_parser(
        "status",
        help=_("what each bay of this dock is doing, and the last sessions"),
        epilog=examples("evidock status", "evidock status --json"),
    )
    s.set_defaults(func=cmd_status)


def cmd_dock(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    # the first node of a fleet up creates the schema of the empty PostgreSQL catalog
    ctx = open_dock(settings, create_schema=True)
    try:  # issue 8: a bucket without the Object Lock asked for, or refused credentials: stop
        check_object_store(ctx, refuse_unreachable=False)
    except StorageError:
        ctx.close()
        raise
    profiles = load_profiles([settings.dock.profiles_dir])
    metrics = DockMetrics(ctx.dock.name)
    metrics.add_families(CatalogGauges(ctx).families)  # metrics (issue 7): catalog gauges
    notifier = Notifier(settings.notify_socket)
    daemon = DockDaemon(
        ctx,
        profiles=profiles,
        watch_roots=[*settings.dock.watch, *args.watch],
        metrics=metrics,
        notifier=notifier,
        use_udev=settings.dock.udev and not args.no_udev,
    )
    address = args.metrics_address or settings.dock.metrics_address
    served = None
    if address and address != "off":
        # issue 20: the same endpoint serves the bays' receipts to the kiosk screen
        pages = kiosk_pages(daemon.receipts, dock=ctx.dock.name, zone=settings.zone)
        try:
            served = serve(address, metrics.registry, pages=pages)
        except (OSError, ValueError) as e:
            notifier.close()
            ctx.close()
            raise UsageError(
                _("cannot serve metrics at {address}: {error}").format(address=address, error=e),
                hint=_("Choose a free HOST:PORT with --metrics-address, or 'off'."),
            ) from e

    def on_signal(signum: int, frame: FrameType | None) -> None:
        daemon.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return daemon.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if served is not None:
            served.shutdown()
        notifier.close()
        ctx.close()


def cmd_status(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    status = read_status(settings.data_dir / "run" / f"dock-{settings.dock.name}.json")
    sessions: list[DockSession] = []
    failing: list[int] = []
    catalog_error: str | None = None
    try:  # the daemon's own view is worth showing while the catalog is away
        ctx = open_dock(settings)
        try:
            with ctx.catalog.read() as txn:
                sessions = txn.recent_sessions(dock=settings.dock.name, limit=10)
                failing = sorted(fixity_failed_items(txn))  # issue 18
        finally:
            ctx.close()
    except CatalogUnavailable as e:
        catalog_error = str(e)
    out.document(
        {
            "dock": settings.dock.name,
            "daemon": status,
            "catalog": {"up": catalog_error is None, "error": catalog_error},
            "fixity_failed": failing,
            "sessions": [
                {
                    "id": s.id,
                    "device": s.device_serial,
                    "source": s.source,
                    "started_at": s.started_at.isoformat(),
                    "ended_at": s.ended_at.isoformat() if s.ended_at else None,
                    "outcome": s.outcome,
                }
                for s in sessions
            ],
        }
    )
    dock = settings.dock.name
    if status is None:
        out.line(_("dock {dock}: the daemon has not run here").format(dock=dock))
    else:
        age = time.time() - float(status.get("updated", 0))
        said = (
            _("dock {dock}: daemon running (status {age} s old)")
            if status.get("running")
            else _("dock {dock}: daemon NOT running (status {age} s old)")
        )
        out.line(said.format(dock=dock, age=f"{age:.0f}"))
        for bay in status.get("bays", []):
            files = n_("({n} file)", "({n} files)", bay["files_done"]).format(n=bay["files_done"])
            out.line(
                f"  {bay.get('device') or Path(bay['source']).name:<20} {bay['state']}  {files}"
            )
            receipt = status_receipt(bay)
            if receipt is not None:  # issue 20: the bay's last docking, as the kiosk shows it
                out.line("    " + _("receipt (session {session}):").format(session=receipt.session))
                for line in receipt_lines(receipt, settings.zone):
                    out.line(f"      {line}")
    if catalog_error is not None:
        first = catalog_error.splitlines()[0]
        said = (
            _("catalog: UNAVAILABLE ({error}); the daemon waits for it")
            if status and status.get("running")
            else _("catalog: UNAVAILABLE ({error})")
        )
        out.line(said.format(error=first))
        return EXIT_OK
    out.line(_("last sessions:"))
    out.table(
        [_("SESSION"), _("DEVICE"), _("STARTED"), _("ENDED"), _("OUTCOME")],
        [
            [
                s.id,
                s.device_serial,
                out.when(s.started_at),
                out.when(s.ended_at),
                s.outcome or "open",
            ]
            for s in sessions
        ],
    )
    if failing:
        out.line(fixity_line(failing))
    return EXIT_OK
