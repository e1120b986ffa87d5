"""``evidock dock``: the docking-station daemon.

Sources (udev, watch folders) only enqueue. One loop owns all decisions: it settles watch
folders, hands each docked device to a bounded pool (one device per worker, a limit per
physical disk), tells systemd what each bay does, and stops cleanly: on SIGTERM the sources
stop, each bay finishes its file in flight, and past a grace period the file in flight is
abandoned (left on the device, nothing of it recorded).

When the catalog goes away (a PostgreSQL restart, a network cut), a docking cut short by it is
not an error of the device: the daemon logs the outage once, keeps the device in its bay as
"waiting for the catalog" and offers it again (after 1 s, then as long as the outage has
lasted, at most 30 s) until the catalog answers. Files already filed in the store are found
again by their hash; the cut session is closed as interrupted (and its items measured) before
the device is taken again.

A watch folder whose last docking went to its end is not docked again for removals alone (issue
18): the wipe after offload deletes what it stored, and those deletions, seen by inotify, are
no new evidence. A folder is docked again only when a file in it is new or changed (path,
size, mtime, inode) since that docking started; the dock's next start docks every folder.

Every thread the dock needs must be alive (issue 23): a thread of the process that dies on an
exception (a watcher, a bay, a job worker; reported through ``threading.excepthook`` while the
dock runs) or a watch source that stopped is logged, WATCHDOG is no longer sent to systemd,
and the dock stops the way it does on SIGTERM and exits 1, so that systemd restarts it (a
dock that only looked alive ingested nothing). A bay stuck on one file only withholds
WATCHDOG: systemd's watchdog then restarts the dock.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import i18n
from devices.errors import DeviceError
from devices.mounts import Mounter
from devices.profiles import DeviceProfile, UsbProps, match_medium, usb_candidates
from devices.udev import UdevEvent, UdevSource, is_usb_filesystem
from devices.walk import Listing
from devices.watch import Settler, WatchSource, device_folders
from ingest.cases.links import after_ingest
from ingest.context import Context
from ingest.dock.notify import Notifier
from ingest.dock.receipt import BayReceipt, bay_name, read_receipt, receipt_lines
from ingest.dock.status import BayView, write_status
from ingest.errors import EXIT_FAILURE, EXIT_OK, IngestError
from ingest.jobs.worker import WorkerPool  # issue 5: embedded job workers
from ingest.metrics.catalog import session_delays  # metrics (issue 7)
from ingest.metrics.metered_store import metered  # metrics (issue 7)
from ingest.metrics.prometheus import ACTIVE_BAY_STATES, DockMetrics
from ingest.metrics.space import space_families
from ingest.outage import CatalogOutage
from ingest.pipeline.identity import medium_listing
from ingest.pipeline.results import FileOutcome, FileResult, IngestReport, SessionOutcome
from ingest.pipeline.run import ingest_device
from storage.errors import CatalogDiskError, CatalogUnavailable, StorageError

logger = logging.getLogger(__name__)
# a file failed with one of these: the catalog failed under it (the bay waits and retries)
_CATALOG_DOWN = frozenset({CatalogUnavailable.code, CatalogDiskError.code})

WatchFactory = Callable[[Sequence[Path], Callable[[Path], None]], WatchSource]


# -- what the sources and the bays put on the loop's queue (the loop alone acts on them) -----
@dataclass(frozen=True, slots=True, kw_only=True)
class FolderChanged:
    """A watch source saw a change under ``folder``: it settles before it is taken."""

    folder: Path


@dataclass(frozen=True, slots=True, kw_only=True)
class UdevSeen:
    """udev reported a block device added, changed or removed."""

    event: UdevEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class BayDone:
    """The bay of ``key`` ended its docking (its device may be offered again)."""

    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadCrashed:
    """A thread the dock needs died (``name``): the loop's health check stops the dock."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Wake:
    """Nothing to do but look again: a stop request, a file done (status, health)."""


Message = FolderChanged | UdevSeen | BayDone | ThreadCrashed | Wake
WAKE = Wake()


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    """What the dock tells systemd: ``ping`` (WATCHDOG=1) or not, and whether it must stop
    (``fatal``: exit 1 so that systemd restarts it), with the reason for a person."""

    ping: bool
    fatal: bool = False
    reason: str | None = None


def judge_health(
    *, now: float, progress: Iterable[float], stuck_after_s: float, dead: Sequence[str]
) -> Health:
    """A dead thread is fatal; a bay without progress for ``stuck_after_s`` withholds the ping
    (systemd's watchdog decides); else all is well. ``progress``: each busy bay's last progress
    (monotonic seconds); ``dead``: names of threads that should run and do not."""
    if dead:
        return Health(ping=False, fatal=True, reason=f"thread(s) stopped: {', '.join(dead)}")
    stuck = sum(1 for t in progress if now - t >= stuck_after_s)
    if stuck:
        return Health(ping=False, reason=f"{stuck} bay(s) without progress for {stuck_after_s:g} s")
    return Health(ping=True)


TreeMark = frozenset[tuple[bytes, int, int, int, int] | tuple[bytes, str]]


def tree_mark(listing: Listing) -> TreeMark:
    """What a device folder holds, for telling a change apart from removals: each file by
    path, size, mtime and inode, each anomaly (a link, a special file) by path and kind."""
    files = ((f.path, f.size, f.mtime_ns, f.dev, f.ino) for f in listing.files)
    return frozenset([*files, *((a.path, a.kind) for a in listing.anomalies)])


def only_removed(before: TreeMark, now: TreeMark) -> bool:
    """Pure: nothing in ``now`` is new or changed since ``before`` (files were only removed,
    as a wipe after offload does), so docking the folder again would take nothing new."""
    return now <= before


@dataclass(slots=True)
class _Bay:
    source: str
    kind: str
    state: str = "waiting"
    device: str | None = None
    profile: str | None = None
    done: int = 0
    current: str | None = None
    since: float = field(default_factory=time.time)
    last_progress: float = field(default_factory=time.monotonic)
    previous: tuple[str, int] = ("waiting", 0)  # state and files done before it was queued
    receipt: BayReceipt | None = None  # of its last docking that went to its end (issue 20)


class DockDaemon:
    def __init__(
        self,
        ctx: Context,
        *,
        profiles: list[DeviceProfile],
        watch_roots: list[Path],
        metrics: DockMetrics,
        notifier: Notifier,
        use_udev: bool,
        mounter: Mounter | None = None,
        udev_factory: Callable[[Callable[[UdevEvent], None]], UdevSource] = UdevSource,
        stuck_after_s: float = 1800.0,
        workers: WorkerPool | None = None,
        watch_factory: WatchFactory | None = None,
    ) -> None:
        s = ctx.settings
        self.ctx = metered(ctx, metrics.storage_error)  # metrics (issue 7): store errors
        self.profiles = profiles
        self.watch_roots = [Path(os.path.abspath(r)) for r in watch_roots]
        self.metrics = metrics
        self.notifier = notifier
        self.mounter = mounter or Mounter(s.dock.mount_root)
        self.stop = threading.Event()
        self.cancel = threading.Event()
        self.events: queue.Queue[Message] = queue.Queue()
        self.settler = Settler(s.dock.settle_seconds)
        self.pool = ThreadPoolExecutor(s.dock.parallel_devices, thread_name_prefix="evidock-bay")
        self.bays: dict[str, _Bay] = {}
        self.active: dict[str, Future[None]] = {}
        self.again: set[str] = set()
        self.disk_limits: dict[int, threading.Semaphore] = {}
        self.lock = threading.Lock()
        self.watch = (watch_factory or self._watch_source)(
            self.watch_roots, lambda p: self.events.put(FolderChanged(folder=p))
        )
        self.crashed: list[str] = []  # threads that died on an exception while the dock ran
        self.udev = udev_factory(lambda e: self.events.put(UdevSeen(event=e))) if use_udev else None
        self.stuck_after_s = stuck_after_s
        self.status_path = s.data_dir / "run" / f"dock-{s.dock.name}.json"
        self._pending_usb: dict[str, UsbProps] = {}
        # devices whose docking the catalog cut short: key -> (when to offer again, kind)
        self.outage = CatalogOutage(f"dock {ctx.dock.name}")
        self.retries: dict[str, tuple[float, str]] = {}
        # watch folders whose last docking went to its end: what was there when it started
        self.complete: dict[str, TreeMark] = {}
        # issue 5: job workers in this daemon ([worker] embedded, the default), so a single
        # dock needs nothing else; they run below the bays' priority and stop with it
        self.workers = workers
        if workers is None and s.worker.embedded:
            self.workers = WorkerPool(
                self.ctx, outage=self.outage, on_storage_error=metrics.storage_error
            )
        if self.workers is not None:
            metrics.add_families(self.workers.families)
        metrics.watch_bays(self._bay_states)  # metrics (issue 7): bay states at scrape time
        metrics.add_families(partial(space_families, s))  # issue 18: free space, at scrape time

    def _watch_source(
        self, roots: Sequence[Path], on_change: Callable[[Path], None]
    ) -> WatchSource:
        d = self.ctx.settings.dock
        return WatchSource(
            roots, on_change, max_depth=d.max_depth, max_entries=d.max_entries,
            max_watched_folders=d.max_watched_folders,
        )  # fmt: skip

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> int:
        """Run until SIGTERM (exit 0) or until a thread it needs has died (exit 1)."""
        previous = threading.excepthook
        threading.excepthook = self._thread_crashed  # scoped: restored when the dock stops
        try:
            return self._run()
        finally:
            threading.excepthook = previous

    def _run(self) -> int:
        failed: str | None = None
        try:
            if self.workers is not None:  # issue 5
                self.workers.start()
            self.watch.start()
            if self.udev is not None:
                try:
                    self.udev.start()
                    for e in self.udev.existing():
                        self.events.put(UdevSeen(event=e))
                except (OSError, ImportError) as err:
                    logger.warning("udev unavailable, watch folders only error=%s", err)
                    self.udev = None
            for folder in device_folders(self.watch_roots):
                self.settler.touch(folder, time.monotonic())
            self.notifier.send(READY="1", STATUS=self._summary())
            self._publish()
            logger.info("dock ready dock=%s watch=%s", self.ctx.dock.name, self.watch_roots)
            wd = self.ctx.settings.watchdog_usec
            ping_every = wd / 2e6 if wd else None
            while not self.stop.is_set():
                timeout = self._timeout(ping_every)
                try:
                    message: Message = self.events.get(timeout=timeout)
                except queue.Empty:
                    message = WAKE  # a folder settled, a retry is due or systemd wants a ping
                self._handle(message)
                self._start_due()
                health = self._health()
                if health.fatal:
                    failed = health.reason
                    break
                if ping_every is not None and health.ping:
                    self.notifier.send(WATCHDOG="1")
        finally:
            if failed is not None:
                logger.error(
                    "dock stops: %s; it exits 1 so that systemd restarts it dock=%s",
                    failed, self.ctx.dock.name,
                )  # fmt: skip
                self.notifier.send(STATUS=f"failed: {failed}; stopping, to be restarted")
            self._shutdown()
        return EXIT_OK if failed is None else EXIT_FAILURE

    def _thread_crashed(self, args: threading.ExceptHookArgs) -> None:
        """``threading.excepthook`` while the dock runs: log the crash, wake the loop to stop."""
        name = args.thread.name if args.thread is not None else "unknown"
        logger.error(
            "thread crashed thread=%s error=%s: %s", name, args.exc_type.__name__, args.exc_value,
            exc_info=args.exc_value,
        )  # fmt: skip
        with self.lock:
            self.crashed.append(name)
        self.events.put(ThreadCrashed(name=name))

    def request_stop(self) -> None:
        self.stop.set()
        self.events.put(WAKE)

    def _timeout(self, ping_every: float | None) -> float | None:
        deadline = self.settler.next_deadline()
        with self.lock:
            retry = min((due for due, _ in self.retries.values()), default=None)
        waits = [x for x in (ping_every,) if x is not None]
        for when in (deadline, retry):
            if when is not None:
                waits.append(max(0.0, when - time.monotonic()))
        return min(waits) if waits else None

    def _handle(self, message: Message) -> None:
        match message:
            case FolderChanged(folder=folder):
                self.settler.touch(folder, time.monotonic())
            case UdevSeen(event=event):
                self._udev_event(event)
            case BayDone(key=key):
                self._finished(key)
            case ThreadCrashed() | Wake():
                pass  # the loop looks at health, due folders and retries after every message

    def _udev_event(self, e: UdevEvent) -> None:
        if not is_usb_filesystem(e.props):
            return
        key = f"usb:{e.props.devnode}"
        if e.action in ("add", "change"):
            if not usb_candidates(self.profiles, e.props):
                self._unknown(e.props, "no profile matches its USB ids or label")
                return
            self._pending_usb[key] = e.props
            self._submit(key, "usb")
        elif e.action == "remove":
            with self.lock:
                self.retries.pop(key, None)
            bay = self.bays.get(key)
            if bay is not None:
                bay.state = "removed"
                logger.warning("device removed while docked devnode=%s", e.props.devnode)

    def _start_due(self) -> None:
        now = time.monotonic()
        for folder in self.settler.due(now):
            if folder.is_dir():
                self._submit(str(folder), "folder")
        with self.lock:
            due = [(k, kind) for k, (when, kind) in self.retries.items() if when <= now]
            for key, _ in due:
                del self.retries[key]
        for key, kind in due:
            if kind != "folder" or Path(key).is_dir():
                self._submit(key, kind)

    def _submit(self, key: str, kind: str) -> None:
        with self.lock:
            self.retries.pop(key, None)  # offered now: a pending retry is this one
            if key in self.active:
                self.again.add(key)
                return
            bay = self.bays.get(key) or _Bay(source=key, kind=kind)
            bay.previous = (bay.state, bay.done)
            bay.state, bay.since, bay.done = "queued", time.time(), 0
            self.bays[key] = bay
            job = self.pool.submit(self._job, key, kind)
            self.active[key] = job
        job.add_done_callback(lambda done: self._job_ended(key, done))
        self._publish()

    def _job_ended(self, key: str, job: Future[None]) -> None:
        """A bay's job ended. ``_job`` handles every Exception (one device's failure is its
        bay's state); anything that still escaped it ended the bay abruptly: fatal."""
        error = None if job.cancelled() else job.exception()
        if error is None:
            return
        logger.error("bay crashed source=%s error=%r", key, error, exc_info=error)
        with self.lock:
            self.crashed.append(f"bay {key}")
        self.events.put(ThreadCrashed(name=f"bay {key}"))

    def _finished(self, key: str) -> None:
        with self.lock:
            self.active.pop(key, None)
            # a device waiting for the catalog is offered again by its retry, not now
            rerun = key in self.again and key not in self.retries
            self.again.discard(key)
        if rerun and not self.stop.is_set():
            kind = self.bays[key].kind if key in self.bays else "folder"
            self._submit(key, kind)
        self._publish()

    # -- one docked device ------------------------------------------------------------------
    def _job(self, key: str, kind: str) -> None:
        bay = self.bays[key]
        try:
            if kind == "folder":
                self._folder_job(bay, Path(key))
            else:
                self._usb_job(bay, self._pending_usb[key])
        except CatalogUnavailable as e:
            self._retry_later(key, kind, bay, e)
        except (DeviceError, IngestError, StorageError) as e:
            bay.state = f"error: {e}"
            logger.error("dock job failed source=%s code=%s error=%s", key, e.code, e)
        except Exception:
            bay.state = "error: internal (see the log)"
            logger.exception("dock job crashed source=%s", key)
        finally:
            bay.current = None
            self.events.put(BayDone(key=key))

    def _retry_later(self, key: str, kind: str, bay: _Bay, err: CatalogUnavailable) -> None:
        """The catalog cut this docking short: offer the device again after a wait."""
        wait = self.outage.failed(err)
        bay.state = f"waiting for the catalog (next try in {wait:.0f} s)"
        with self.lock:
            self.retries[key] = (time.monotonic() + wait, kind)
        logger.info("dock job waits for the catalog source=%s retry_in=%.1f", key, wait)

    def _limit(self, path: Path) -> threading.Semaphore:
        dev = os.stat(path).st_dev
        with self.lock:
            if dev not in self.disk_limits:
                self.disk_limits[dev] = threading.Semaphore(self.ctx.settings.dock.per_disk)
            return self.disk_limits[dev]

    def _folder_job(self, bay: _Bay, folder: Path) -> None:
        key = str(folder)
        listing = self._listing(folder)
        now = tree_mark(listing)
        with self.lock:
            before = self.complete.pop(key, None)
        if before is not None and only_removed(before, now):
            # its own wipe, or files taken away: nothing new to take (issue 18). Docking again
            # would find no media left, match no profile and take what the last docking left
            # on the device as 'not a media file'.
            bay.state, bay.done = bay.previous
            with self.lock:
                self.complete[key] = before
            logger.info("folder changed by removals only, not docked again source=%s", key)
            return
        profile = match_medium(self.profiles, [f.display for f in listing.files])
        wipe = self.ctx.settings.dock.wipe_after_offload and bool(
            profile and profile.wipe_after_offload
        )
        with self._limit(folder):
            report = self._ingest(bay, folder, profile, reported_serial=folder.name, wipe=wipe)
        # taken as far as it can be (files that failed say why; the wipe may have run): only
        # a new or changed file docks it again. A cut or refused docking is offered again.
        if report.outcome in (SessionOutcome.COMPLETE, SessionOutcome.INCOMPLETE):
            with self.lock:
                self.complete[key] = now

    def _listing(self, root: Path) -> Listing:
        """The files of a device (walked within the same bounds as a docking)."""
        d = self.ctx.settings.dock
        return medium_listing(root, max_depth=d.max_depth, max_entries=d.max_entries)

    def _paths(self, root: Path) -> list[str]:
        """The files of a device, for profile matching."""
        return [f.display for f in self._listing(root).files]

    def _usb_job(self, bay: _Bay, props: UsbProps) -> None:
        bay.state = "mounting"
        root, ours = self.mounter.mount(props)
        try:
            profile = match_medium(usb_candidates(self.profiles, props), self._paths(root))
            if profile is None:
                self._unknown(props, "no profile's marker files are on the medium")
                bay.state = "ignored: unknown device"
                return
            with self._limit(root):
                self._ingest(bay, root, profile, reported_serial=props.serial_short or None)
        finally:
            if ours:
                self.mounter.unmount(root)

    def _ingest(
        self,
        bay: _Bay,
        root: Path,
        profile: DeviceProfile | None,
        *,
        reported_serial: str | None,
        wipe: bool = False,
    ) -> IngestReport:
        """Ingest one device. USB media are mounted read-only, so they are never wiped here;
        wiping applies to watch folders whose profile and configuration both allow it."""
        bay.state, bay.profile = "ingesting", profile.name if profile else None
        docked_at = self.ctx.clock()
        self.metrics.bays.labels(self.metrics.dock).inc()
        bay.last_progress = time.monotonic()

        def progress(r: FileResult) -> None:
            now = time.monotonic()
            if r.result == FileOutcome.STORED:
                self.metrics.file_seconds.labels(self.metrics.dock).observe(now - bay.last_progress)
            bay.done += 1
            bay.current = r.path
            bay.last_progress = now
            self.metrics.file_done(r.result, r.size)
            self.events.put(WAKE)
            if (
                r.result == FileOutcome.STORED and self.workers is not None
            ):  # issue 5: a proxy job waits
                self.workers.wake()

        started = self.outage.now()
        self._close_cut_sessions(root)
        try:
            report = ingest_device(
                self.ctx, root, serial=None, officer=None, actor=f"dock:{self.ctx.dock.name}",
                on_file=progress, profile=profile, reported_serial=reported_serial,
                stop=self.stop, cancel=self.cancel, wipe=wipe,
            )  # fmt: skip
        finally:
            self.metrics.bays.labels(self.metrics.dock).dec()
        self.metrics.sessions.labels(self.metrics.dock, report.outcome).inc()
        stored = [
            f.item for f in report.files if f.result == FileOutcome.STORED and f.item is not None
        ]
        self.metrics.offload_delays(session_delays(self.ctx, stored))  # metrics (issue 7)
        bay.device = report.device
        s = report.summary()
        bay.state = (
            f"{report.outcome}: {s['stored']} stored, {s['already']} already, "
            f"{s['failed']} failed, {s['not_acquired']} left on device"
        )
        if report.refused_reason:
            bay.state = f"refused: {report.refused_reason}"
        cut = [
            f for f in report.files if f.result == FileOutcome.FAILED and f.code in _CATALOG_DOWN
        ]
        if cut:  # the catalog failed under a file, then came back: take the device again
            raise CatalogUnavailable(  # untranslated: for the log; the bay waits and retries
                f"{len(cut)} file(s) failed on the catalog: {cut[0].reason}"
            )
        self.outage.ok(started)
        logger.info(
            "dock session ended session=%s device=%s outcome=%s stored=%d failed=%d",
            report.session, report.device, report.outcome, s["stored"], s["failed"],
        )  # fmt: skip
        self._receipt(bay, report, docked_at)
        return report

    def _receipt(self, bay: _Bay, report: IngestReport, docked_at: datetime) -> None:
        """The bay's receipt (issue 20): to the journal, the status file and the kiosk."""
        try:
            receipt = read_receipt(
                self.ctx, report, bay=bay_name(bay.source, bay.kind), docked_at=docked_at
            )
        except StorageError as e:  # the docking is done; only its receipt is missing
            logger.warning(
                "no receipt for the docking session=%s device=%s code=%s error=%s",
                report.session, report.device, e.code, e,
            )  # fmt: skip
            return
        with self.lock:
            bay.receipt = receipt
        with i18n.speaking(i18n.SOURCE):  # the journal reads English; people read the receipt
            lines = receipt_lines(receipt, self.ctx.settings.zone)  # in their own language
        for line in lines:
            logger.info(
                "receipt session=%s device=%s bay=%s: %s",
                report.session, report.device, receipt.bay, line,
            )  # fmt: skip

    def receipts(self) -> list[BayReceipt]:
        """The receipt of each bay's last docking (the kiosk reads them, from its thread)."""
        with self.lock:
            return [b.receipt for b in self.bays.values() if b.receipt is not None]

    def _close_cut_sessions(self, root: Path) -> None:
        """Sessions of this dock on this source still open were cut short (by the catalog going
        away mid-docking, or by a previous run of the daemon dying): close them as interrupted
        and run their end-of-session checks (24-hour rule, case links) before a new docking."""
        name, source = self.ctx.dock.name, str(root)
        with self.ctx.catalog.read() as txn:
            cut = [
                s.id
                for s in txn.recent_sessions(dock=name, limit=100)
                if s.ended_at is None and s.source == source
            ]
        for session in cut:
            after_ingest(
                self.ctx, session, actor=f"dock:{name}", close_as=SessionOutcome.INTERRUPTED
            )
            logger.warning("cut dock session closed as interrupted session=%d source=%s",
                           session, source)  # fmt: skip

    def _unknown(self, props: UsbProps, why: str) -> None:
        self.metrics.unknown_devices.labels(self.metrics.dock).inc()
        logger.warning(
            "unknown USB storage ignored devnode=%s usb=%s:%s serial=%s reason=%s",
            props.devnode, props.vendor_id, props.model_id, props.serial_short, why,
        )  # fmt: skip

    # -- health, status, stop ---------------------------------------------------------------
    def _health(self) -> Health:
        with self.lock:
            dead = list(self.crashed)
            progress = [self.bays[k].last_progress for k in self.active]
        if not self.watch.alive():
            dead.append("watch folders")
        return judge_health(
            now=time.monotonic(), progress=progress, stuck_after_s=self.stuck_after_s, dead=dead
        )

    def _bay_states(self) -> list[str]:  # metrics (issue 7)
        with self.lock:
            return [b.state for b in self.bays.values()]

    def _summary(self) -> str:
        outage = self.outage.describe()
        prefix = f"{outage}; " if outage else ""
        busy = [b for b in self.bays.values() if b.state in ACTIVE_BAY_STATES]
        if not busy:
            return f"{prefix}idle; {len(self.bays)} dockings so far"
        return prefix + "; ".join(
            f"{b.device or Path(b.source).name}: {b.state} ({b.done})" for b in busy
        )

    def _publish(self) -> None:
        views = [
            BayView(
                source=b.source,
                device=b.device,
                profile=b.profile,
                state=b.state,
                files_done=b.done,
                current=b.current,
                since=b.since,
                receipt=b.receipt,
            )
            for b in list(self.bays.values())
        ]
        write_status(self.status_path, dock=self.ctx.dock.name, bays=views)
        self.notifier.send(STATUS=self._summary())

    def _shutdown(self) -> None:
        # the grace period counts from the stop request, not from the end of the steps below
        grace = self.ctx.settings.dock.stop_grace_seconds
        deadline = time.monotonic() + grace
        if grace <= 0:
            self.cancel.set()  # no grace: abandon what is copying now
        self.notifier.send(STOPPING="1", STATUS="stopping: finishing the files in flight")
        if self.workers is not None:  # issue 5: transcodes stop now, their jobs go back
            self.workers.stop()
            self.workers.join()
        self.watch.stop()
        if self.udev is not None:
            self.udev.stop()
        wait(list(self.active.values()), timeout=max(0.0, deadline - time.monotonic()))
        self.cancel.set()  # past the grace period: abandon what is still copying
        self.pool.shutdown(wait=True)
        while not self.events.empty():
            match self.events.get_nowait():
                case BayDone(key=key):
                    self.active.pop(key, None)
                case _:
                    pass  # the dock is stopping: nothing else is taken
        self._publish()
        logger.info("dock stopped dock=%s", self.ctx.dock.name)
