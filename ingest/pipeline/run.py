"""Ingest of one docked device (or a folder playing one), end to end: the per-device flow.

Before anything is copied, the files not yet in the catalog are counted against the store's
free space (ingest.pipeline.space): when they do not all fit, the docking is refused and the
device left untouched, with the reason. For
every other file whose bytes are not in the catalog (pipeline.known: the same device, path and
SHA-256): acquire (one read, hash, staging, read-back), probe the staging copy (never the
device; an empty file is not probed), file it in the content-addressed store, then in ONE
catalog transaction record the item with its 'acquired', 'verified' and 'stored' custody
events (pipeline.record; files filed meanwhile share that transaction: pipeline.overlap). A
crash anywhere leaves either nothing in the catalog (the device still has the file, a rerun
takes it; a filed object is found again by its hash) or the complete record; pipeline.stages
names the points the crash tests kill it at.

Which device it is: pipeline.identity; its session and what stays on it: pipeline.docking;
what it reports: pipeline.results (whose names are importable from here too).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from devices.errors import DeviceError
from devices.profiles import FLAG_SERIAL_MISMATCH, DeviceProfile, claimed_officer, matches_any
from devices.walk import FileEntry, Listing, open_file, open_root, walk
from i18n import _
from ingest.cases.links import after_ingest
from ingest.cases.steps import stop_signal
from ingest.context import Context
from ingest.errors import IngestError
from ingest.media.kinds import FLAG_EMPTY
from ingest.media.probe import MediaProbe, ProbeResult, Probes, ToolOutput
from ingest.media.sniff import Sniffed
from ingest.pipeline import space
from ingest.pipeline.acquire import Abandoned, Acquired, SourceStat, StagingReadError, begin
from ingest.pipeline.docking import (
    Docking,
    failed,
    left_on_device,
    log_not_acquired,
    no_space,
    open_docking,
)
from ingest.pipeline.facts import derive_facts
from ingest.pipeline.identity import claimed_elsewhere, folder_serial, identify
from ingest.pipeline.known import already, collision
from ingest.pipeline.overlap import Done, Overlap
from ingest.pipeline.record import Filed, record_in, record_item
from ingest.pipeline.results import (
    ABANDONED,
    ALREADY,
    FAILED,
    NOT_ACQUIRED,
    OUTCOME_COMPLETE,
    OUTCOME_INCOMPLETE,
    OUTCOME_INTERRUPTED,
    OUTCOME_REFUSED,
    STORED,
    FileOutcome,
    FileResult,
    IngestReport,
    SessionOutcome,
    Tally,
)
from ingest.pipeline.said import Said, both
from ingest.pipeline.stages import OnStage, Stage, kill_at
from ingest.pipeline.wipe import WIPE_FAILED, wipe_one
from storage.blobs.localstore import Staging
from storage.catalog.session import Transaction
from storage.errors import StorageError
from storage.records import Item, MediaFacts

__all__ = [  # the names callers import from here
    "ABANDONED",
    "ALREADY",
    "FAILED",
    "NOT_ACQUIRED",
    "OUTCOME_COMPLETE",
    "OUTCOME_INCOMPLETE",
    "OUTCOME_INTERRUPTED",
    "OUTCOME_REFUSED",
    "STORED",
    "FileOutcome",
    "FileResult",
    "IngestReport",
    "SessionOutcome",
    "folder_serial",
    "identify",
    "ingest_device",
]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Run:
    ctx: Context
    docking: Docking
    profile: DeviceProfile | None
    zone: ZoneInfo
    cancel: threading.Event | None
    stage: OnStage
    results: Tally = field(default_factory=Tally)
    claims: dict[bytes, str] = field(default_factory=dict)  # path -> serial its name claims
    settle_s: float = 0.0  # a file is wiped only after this long without change
    free_bytes: Callable[[], int] | None = None  # None: the store's file system, asked
    margin: int = space.DEFAULT_MARGIN  # bytes kept free on the store
    # the device files this docking read the bytes of, as they were then (None: not re-read);
    # kept only for a docking that wipes (the wipe checks them), none otherwise (issue 19)
    wipe: bool = False
    verified: dict[bytes, SourceStat | None] = field(default_factory=dict)
    media: list[FileEntry] = field(default_factory=list)  # in the order they are taken
    _at: dict[bytes, int] = field(default_factory=dict)  # a media path's place in ``media``
    _earlier: dict[bytes, list[Item]] = field(default_factory=dict)

    def earlier(self, entry: FileEntry) -> list[Item]:
        """The items recorded at ``entry``'s device and path, read just before its copy: for
        the next ``AHEAD`` media files at once (one query instead of one transaction each)."""
        if entry.path not in self._earlier:
            if not self._at:
                self._at = {e.path: i for i, e in enumerate(self.media)}
            at = self._at.get(entry.path)
            ahead = [entry] if at is None else self.media[at : at + AHEAD]
            with self.ctx.catalog.read() as txn:
                self._earlier = txn.items_at_paths(self.docking.device.id, [e.path for e in ahead])
        return self._earlier.pop(entry.path)


AHEAD = 32
"""Media files whose earlier items are read in one query, just before the first is copied."""


def ingest_device(
    ctx: Context,
    root: Path,
    *,
    serial: str | None,
    officer: str | None,
    actor: str,
    probe: MediaProbe | None = None,
    on_file: Callable[[FileResult], None] | None = None,
    profile: DeviceProfile | None = None,
    reported_serial: str | None = None,
    stop: threading.Event | None = None,
    cancel: threading.Event | None = None,
    wipe: bool = False,
    settle_seconds: float | None = None,
    free_bytes: Callable[[], int] | None = None,
    space_margin: int | None = None,
    on_stage: OnStage | None = None,
    keep_files: bool = True,
) -> IngestReport:
    """Ingest everything on the device mounted at ``root``; see the module doc.

    ``profile`` says which files are media, where the serial comes from and how the camera
    clock runs. ``stop`` ends the session between files; ``cancel`` abandons the file in
    flight (nothing of it is recorded; it stays on the device for the next docking).
    ``wipe`` deletes from the device each file whose stored copy re-verifies and that nobody
    writes and has not changed for ``settle_seconds`` (default: ``[dock] settle_seconds``;
    ingest.pipeline.wipe). ``free_bytes`` tells the free space on the store (default: its file
    system's); ``space_margin`` bytes of it are kept free (default: ``[dock]
    space_margin_mib``). ``on_stage`` sees each step as it is done (ingest.pipeline.stages;
    default: none, or the crash tests' ``EVIDOCK_TEST_STOP_AT``).

    ``keep_files=False``: the report carries the counts of the files' results and not the
    results themselves, for a caller that takes each one from ``on_file`` as it comes (issue
    19: a docking of 10,000 files then holds nothing per stored file). A docking that wipes
    keeps them anyway: the wipe goes back to them.
    """
    if on_stage is None:
        stop_at = ctx.settings.test_stop_at
        on_stage = (
            _unseen
            if stop_at is None
            else kill_at(stop_at, signum=stop_signal(ctx.settings.test_stop_signal))
        )
    root_fd = open_root(root)
    outcome = OUTCOME_COMPLETE
    try:
        limits = ctx.settings.dock  # issue 23: a hostile tree is walked within bounds
        listing = walk(root_fd, max_depth=limits.max_depth, max_entries=limits.max_entries)
        on_stage(Stage.WALKED)
        if serial is None:
            serial, serial_source = identify(root, root_fd, listing, profile, reported_serial)
        else:
            serial_source = "given"
        claims = claimed_elsewhere(listing, profile, serial)
        docking = open_docking(
            ctx, root, serial=serial, badge=officer, actor=actor, profile=profile, claims=claims
        )
        on_stage(Stage.DOCKED)
        zone_name = profile.clock_zone if profile else "local"
        run = _Run(
            ctx=ctx,
            docking=docking,
            profile=profile,
            zone=ZoneInfo(ctx.settings.device_clock_zone if zone_name == "local" else zone_name),
            cancel=cancel,
            stage=on_stage,
            claims=claims,
            results=Tally(keep=keep_files or wipe),
            wipe=wipe,
            settle_s=ctx.settings.dock.settle_seconds if settle_seconds is None else settle_seconds,
            free_bytes=free_bytes,
            margin=ctx.settings.dock.space_margin_mib << 20
            if space_margin is None
            else space_margin,
        )
        refusal = _refusal(docking, profile)
        if refusal is not None:
            return _refuse(run, listing, refusal, serial_source, on_file)
        media, other = _split(listing.files, profile)
        run.media = media
        short = _space_refusal(run, media)  # issue 18: the whole device fits, or none of it
        if short is not None:
            return _refuse(run, listing, short, serial_source, on_file, kind=space.NO_SPACE)
        ctx.store.clean_stale_staging()
        for anomaly in listing.anomalies:
            left = left_on_device(ctx, docking, anomaly.path, anomaly.kind, anomaly.reason)
            _emit(run, left, on_file)
        name = profile.name if profile else "-"
        not_media = both(lambda: _("not a media file for profile {name}").format(name=name))
        for entry in other:
            _emit(run, left_on_device(ctx, docking, entry.path, "not-media", not_media), on_file)
        with contextlib.ExitStack() as stack:
            probes = Probes.one(probe) if probe is not None else Probes(
                lambda: MediaProbe(
                    exiftool=ctx.settings.probe.exiftool,
                    ffprobe_exe=ctx.settings.probe.ffprobe,
                    timeout_s=ctx.settings.probe.timeout_s,
                ),
                threads=ctx.settings.probe.threads,
            )  # fmt: skip
            stack.callback(probes.close)  # after the overlap: its last files still probe
            # files probed, and recorded in groups, while the next is copied
            overlap = stack.enter_context(Overlap(group=ctx.catalog.write, probers=probes.threads))

            def done(result: FileResult) -> None:
                nonlocal outcome
                _emit(run, result, on_file)
                if result.result == ABANDONED or (result.result == FAILED and not root.exists()):
                    outcome = OUTCOME_INTERRUPTED  # stopping, or the device was pulled out

            for entry in media:
                if stop is not None and stop.is_set():
                    outcome = OUTCOME_INTERRUPTED
                    break
                _one_file(run, root_fd, entry, probes, overlap, done)
                if outcome == OUTCOME_INTERRUPTED:
                    break
            overlap.settle()
        if wipe and outcome == OUTCOME_COMPLETE:
            _wipe(run, root_fd, media)
    finally:
        os.close(root_fd)
    return _finish(run, outcome, serial_source)


def _unseen(stage: str) -> None:
    """No hook: the steps pass unseen."""


def _wipe(run: _Run, root_fd: int, media: list[FileEntry]) -> None:
    """Wipe what was stored or found already stored; a file that stays says why, in its
    result and in the custody log."""
    # by the exact name: two names can display alike
    results = run.results.results  # every one: a docking that wipes keeps them
    done = {r.raw_path: n for n, r in enumerate(results) if r.result in (STORED, ALREADY)}
    docking = run.docking
    for entry in media:
        n = done.get(entry.path)
        item_id = results[n].item if n is not None else None
        if n is None or item_id is None:
            continue
        with run.ctx.catalog.read() as txn:
            item = txn.item(item_id)
        w = wipe_one(
            run.ctx, root_fd, entry.path, item, actor=docking.actor,
            verified=run.verified.get(entry.path), settle_s=run.settle_s,
        )  # fmt: skip
        logger.info(
            "wipe device=%s item=%s sha256=%s wiped=%s code=%s reason=%s",
            docking.device.serial, item.id, item.sha256, w.wiped, w.code,
            w.reason.logged if w.reason else None,
        )  # fmt: skip
        if w.wiped or w.reason is None:
            continue
        if w.code != WIPE_FAILED:  # a failed unlink is recorded where it failed
            log_not_acquired(
                run.ctx, docking, item=item.id, path=w.path, kind="not-wiped", code=w.code or "",
                reason=w.reason.logged,
            )  # fmt: skip
        r = results[n]
        note = _("not wiped from the device: {reason}").format(reason=w.reason.text)
        results[n] = replace(r, reason=f"{r.reason}; {note}" if r.reason else note)


def _split(
    files: tuple[FileEntry, ...], profile: DeviceProfile | None
) -> tuple[list[FileEntry], list[FileEntry]]:
    if profile is None:
        return list(files), []
    media = [f for f in files if matches_any(f.display, profile.media_globs)]
    chosen = {f.path for f in media}
    return media, [f for f in files if f.path not in chosen]


def _refusal(docking: Docking, profile: DeviceProfile | None) -> Said | None:
    if profile is not None and profile.require_registered and not docking.device.registered:
        serial, name = docking.device.serial, profile.name
        return both(
            lambda: _(
                "device serial {serial} is not registered and profile {profile} requires it; "
                "register it with 'evidock device add {command_serial}' and dock it again"
            ).format(serial=repr(serial), profile=name, command_serial=serial)
        )
    return None


def _refuse(
    run: _Run,
    listing: Listing,
    reason: Said,
    serial_source: str,
    on_file: Callable[[FileResult], None] | None,
    *,
    kind: str = "refused",
) -> IngestReport:
    """The whole docking refused before anything is copied: every file stays, one
    'acquisition_failed' event says why (``kind``: "refused", or "no-space")."""
    log_not_acquired(
        run.ctx, run.docking, kind=kind, reason=reason.logged,
        files_left_on_device=len(listing.files),
    )  # fmt: skip
    for entry in listing.files:
        result = FileResult(path=entry.display, result=NOT_ACQUIRED, reason=reason.text,
                            raw_path=entry.path)  # fmt: skip
        _emit(run, result, on_file)
    return _finish(run, OUTCOME_REFUSED, serial_source, refused_reason=reason.text)


def _emit(run: _Run, result: FileResult, on_file: Callable[[FileResult], None] | None) -> None:
    run.results.add(result)
    logger.info(
        "file result=%s device=%s item=%s sha256=%s path=%r reason=%s",
        result.result,
        run.docking.device.serial,
        result.item,
        result.sha256,
        result.path,
        result.reason,
    )
    if on_file is not None:
        on_file(result)


def _space_refusal(run: _Run, media: list[FileEntry]) -> Said | None:
    """Why the device is refused for want of room (None: it fits), counting every file that
    has no item of its size at its path (those that have one are hashed, and copied only if
    other bytes: each copy checks the space again)."""
    with run.ctx.catalog.read() as txn:
        earlier = txn.items_at_paths(run.docking.device.id, [e.path for e in media])
    to_copy = [(e.display, e.size) for e in media if all(i.size != e.size for i in earlier[e.path])]
    if not to_copy:
        return None
    return space.device_refusal(to_copy, _free(run), run.margin)


def _free(run: _Run) -> int:
    return (run.free_bytes or run.ctx.store.free_bytes)()


def _one_file(
    run: _Run, root_fd: int, entry: FileEntry, probes: Probes, overlap: Overlap, done: Done
) -> None:
    """Copy ``entry`` into staging here, then hand it to ``overlap`` (pipeline.overlap) to be
    probed (on one of its probe threads), then filed and recorded (on its record thread); a
    file that ends here (already stored, no room, failed, abandoned) waits for those in flight
    first, so results and custody events keep the device's order."""
    ctx, docking = run.ctx, run.docking
    earlier = run.earlier(entry)
    staging_held = contextlib.ExitStack()  # the staging file, until it is filed (or fails)
    try:
        src = open_file(root_fd, entry)
        try:
            known = already(src, earlier, cancel=run.cancel) if earlier else None
            if known is not None:
                if run.wipe:
                    run.verified[entry.path] = known.verified
                _ended(overlap, done, FileResult(
                    path=entry.display,
                    result=ALREADY,
                    item=known.item.id,
                    sha256=known.item.sha256,
                    size=known.item.size,
                    flags=known.item.facts.flags,
                    raw_path=entry.path,
                ))  # fmt: skip
                return
            free = _free(run)
            if not space.fits(entry.size, free, run.margin):
                overlap.settle()
                short = space.reason(entry.size, free, run.margin)
                _ended(overlap, done, no_space(ctx, docking, entry, short))
                return
            with staging_held:
                # read-only from the start: written only through its descriptor (acquire)
                staging = staging_held.enter_context(ctx.store.staging(read_only=True))
                copied = begin(
                    src, staging, cancel=run.cancel, marks=[i.size for i in earlier],
                    on_stage=run.stage,
                )  # fmt: skip
                staging_held = staging_held.pop_all()  # closed by the probe, or the filing
        finally:
            os.close(src)
    except Abandoned as e:
        staging_held.close()
        reason = str(e)
        _ended(overlap, done, FileResult(path=entry.display, result=ABANDONED, reason=reason,
                                         raw_path=entry.path))  # fmt: skip
        return
    except _FAILURES as e:  # the file stays on the device
        staging_held.close()
        overlap.settle()
        _ended(overlap, done, failed(ctx, docking, entry, e))
        return

    def probe_it() -> _Probed:
        """On a probe thread: the read-back, the probe (with that thread's exiftool); the
        staging file stays held."""
        try:
            got = copied.finish()  # the read-back of the last range, while the next file copies
            facts = _facts(run, entry, got, probes.here(), staging)
            run.stage(Stage.PROBED)
            flags, why = collision(earlier, got)
            facts = replace(facts, flags=facts.flags + flags)
            if entry.path in run.claims:  # its name claims another device (issue 23)
                facts = replace(facts, flags=(*facts.flags, FLAG_SERIAL_MISMATCH))
        except BaseException:
            staging_held.close()
            raise
        return _Probed(got=got, facts=facts, why=why)

    def file_it(probed: _Probed) -> Filed:
        """On the record thread, before the transaction that records it opens."""
        with staging_held:
            filed = ctx.store.file(staging, probed.got.sha256, probed.got.size)
            run.stage(Stage.FILED)
        return Filed(
            entry=entry, got=probed.got, facts=probed.facts, key=filed.key, why=probed.why,
            claimed_serial=run.claims.get(entry.path),
            claimed_officer=claimed_officer(run.profile, entry.display),
        )  # fmt: skip

    overlap.submit(probe_it, _Record(run, entry), done, then=file_it)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Probed:
    """A file read back and probed, its staging file not filed yet."""

    got: Acquired
    facts: MediaFacts
    why: str | None


_FAILURES = (DeviceError, IngestError, StorageError, OSError)
"""Errors that leave a file on the device, recorded as failed (the docking goes on)."""


@dataclass(frozen=True, slots=True)
class _Record:
    """How the record thread records a filed file (``pipeline.overlap.FileRecord``)."""

    run: _Run
    entry: FileEntry

    def together(self, filed: Filed, txn: Transaction) -> FileResult:
        return record_in(txn, self.run.ctx, self.run.docking, filed)

    def alone(self, prepared: Future[Filed]) -> FileResult:
        run = self.run
        try:
            filed = prepared.result()
            result = record_item(run.ctx, run.docking, filed)
        except _FAILURES as e:  # the file stays on the device
            return failed(run.ctx, run.docking, self.entry, e)
        self.committed(filed, result)
        return result

    def committed(self, filed: Filed, result: FileResult) -> None:
        self.run.stage(Stage.RECORDED)
        if self.run.wipe:
            self.run.verified[filed.entry.path] = filed.got.source


def _ended(overlap: Overlap, done: Done, result: FileResult) -> None:
    """A file that ends without a record: after the record in flight, in order."""
    overlap.settle()
    done(result)


_NOT_PROBED = ProbeResult(
    exif=ToolOutput(tool="exiftool", data={}, error=None),
    ffprobe=None,
    sniffed=Sniffed(container=None, looks_like="an empty file"),
)


def _facts(
    run: _Run, entry: FileEntry, got: Acquired, probe: MediaProbe, staging: Staging
) -> MediaFacts:
    """What the tools read from the staging copy; an empty file is flagged, not probed. A disk
    that fails to read the copy (EIO) fails the file: nothing of it is recorded."""
    try:
        probed = _NOT_PROBED if got.size == 0 else probe.probe(staging.path)
    except OSError as e:
        raise StagingReadError(
            _("cannot read the staging copy back: {error}").format(error=e.strerror)
        ) from e
    facts = derive_facts(
        probed,
        file_name=os.fsdecode(entry.path.rsplit(b"/", 1)[-1]),
        mtime_ns=got.mtime_ns,
        device_zone=run.zone,
        now=run.ctx.clock(),
        time_pattern=run.profile.time_pattern if run.profile else None,
        important_pattern=run.profile.important_pattern if run.profile else None,
    )
    return replace(facts, flags=(*facts.flags, FLAG_EMPTY)) if got.size == 0 else facts


def _finish(
    run: _Run,
    outcome: SessionOutcome,
    serial_source: str,
    *,
    refused_reason: str | None = None,
) -> IngestReport:
    ctx, docking = run.ctx, run.docking
    counts = run.results.counts()
    if outcome == OUTCOME_COMPLETE and counts.failed:
        outcome = OUTCOME_INCOMPLETE
    if outcome == OUTCOME_REFUSED:
        with ctx.catalog.write() as txn:
            txn.close_session(docking.session, outcome=outcome, now=ctx.clock())
    else:  # closed with the 24-hour rule and case auto-linking, before the checkpoint
        after_ingest(ctx, docking.session, actor=docking.actor, close_as=outcome)
    run.stage(Stage.CLOSED)
    size, _taken = ctx.checkpoint()
    run.stage(Stage.CHECKPOINT)
    return IngestReport(
        session=docking.session,
        device=docking.device.serial,
        officer=docking.officer_badge,
        files=tuple(run.results.results),
        counts=None if run.results.keep else counts,
        outcome=outcome,
        profile=run.profile.name if run.profile else None,
        serial_source=serial_source,
        refused_reason=refused_reason,
        checkpoint_size=size,
        serial_claims=tuple(run.claims.items()),
    )
