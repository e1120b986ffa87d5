"""Ingest of one docked device (or a folder playing one), end to end.

Before anything is copied, the files not yet in the catalog are counted against the store's
free space (ingest.pipeline.space): one that does not fit stays on the device with the reason. For
every other file whose bytes are not in the catalog (pipeline.known: the same device, path and
SHA-256): acquire (one read, hash, staging, read-back), probe the staging copy (never the
device; an empty file is not probed), file it in the content-addressed store, then in ONE
catalog transaction record the item with its 'acquired', 'verified' and 'stored' custody
events. A crash anywhere leaves either nothing in the catalog (the device still has the file,
a rerun takes it; a filed object is found again by its hash) or the complete record.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from devices.errors import DeviceError
from devices.profiles import (
    FLAG_SERIAL_MISMATCH,
    DeviceProfile,
    clean_serial,
    matches_any,
    serial_from_filenames,
    serial_mismatches,
)
from devices.walk import FileEntry, Listing, display_path, open_file, open_root, walk
from ingest.cases.links import after_ingest
from ingest.context import Context
from ingest.errors import IngestError
from ingest.media.kinds import FLAG_EMPTY, TRANSCODE, wants_proxy
from ingest.media.probe import MediaProbe, ProbeResult, ToolOutput
from ingest.media.sniff import Sniffed
from ingest.output import exact_name, iso
from ingest.pipeline import space
from ingest.pipeline.acquire import Abandoned, Acquired, SourceStat, acquire
from ingest.pipeline.facts import derive_facts
from ingest.pipeline.known import already, collision
from ingest.pipeline.wipe import WIPE_FAILED, wipe_one
from storage.blobs.localstore import Staging
from storage.catalog.jobs import JobOps
from storage.catalog.objects import PENDING, ObjectOps
from storage.catalog.session import Transaction
from storage.errors import AlreadyExists, StorageError, StoreWriteError
from storage.records import Device, MediaFacts, NewItem, StoredObject

logger = logging.getLogger(__name__)

STORED = "stored"
ALREADY = "already"
FAILED = "failed"
NOT_ACQUIRED = "not_acquired"
ABANDONED = "abandoned"

OUTCOME_COMPLETE = "complete"
OUTCOME_INCOMPLETE = "incomplete"
OUTCOME_INTERRUPTED = "interrupted"
OUTCOME_REFUSED = "refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    path: str
    result: str
    item: int | None = None
    sha256: str | None = None
    size: int | None = None
    reason: str | None = None
    flags: tuple[str, ...] = ()
    code: str | None = None  # the error's stable code, for a failed file
    raw_path: bytes | None = None  # the name as the device gave it (``path`` is its display)


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    session: int
    device: str
    officer: str | None
    files: tuple[FileResult, ...]
    outcome: str = OUTCOME_COMPLETE
    profile: str | None = None
    serial_source: str | None = None
    refused_reason: str | None = None
    checkpoint_size: int | None = None
    serial_claims: tuple[tuple[bytes, str], ...] = ()  # files naming another serial: (path, it)

    def count(self, result: str) -> int:
        return sum(1 for f in self.files if f.result == result)

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0 and self.outcome != OUTCOME_REFUSED

    def summary(self) -> dict[str, int]:
        return {
            "seen": len(self.files),
            "stored": self.count(STORED),
            "already": self.count(ALREADY),
            "failed": self.count(FAILED),
            "not_acquired": self.count(NOT_ACQUIRED),
            "flagged": sum(1 for f in self.files if f.flags),
            "bytes_stored": sum(f.size or 0 for f in self.files if f.result == STORED),
        }


@dataclass(slots=True)
class _Run:
    ctx: Context
    device: Device
    officer_id: int | None
    officer_badge: str | None
    session: int
    actor: str
    profile: DeviceProfile | None
    zone: ZoneInfo
    cancel: threading.Event | None
    results: list[FileResult] = field(default_factory=list)
    claims: dict[bytes, str] = field(default_factory=dict)  # path -> serial its name claims
    settle_s: float = 0.0  # a file is wiped only after this long without change
    free_bytes: Callable[[], int] | None = None  # None: the store's file system, asked
    margin: int = space.DEFAULT_MARGIN  # bytes kept free on the store
    # the device files this docking read the bytes of, as they were then (None: not re-read)
    verified: dict[bytes, SourceStat | None] = field(default_factory=dict)


def folder_serial(root: Path) -> str:
    """A stable serial for a folder ingested without --device: its resolved path, hashed."""
    digest = hashlib.sha256(os.fsencode(root.resolve())).hexdigest()[:12]
    return f"folder-{digest}"


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
) -> IngestReport:
    """Ingest everything on the device mounted at ``root``; see the module doc.

    ``profile`` says which files are media, where the serial comes from and how the camera
    clock runs. ``stop`` ends the session between files; ``cancel`` abandons the file in
    flight (nothing of it is recorded; it stays on the device for the next docking).
    ``wipe`` deletes from the device each file whose stored copy re-verifies and that nobody
    writes and has not changed for ``settle_seconds`` (default: ``[dock] settle_seconds``;
    ingest.pipeline.wipe). ``free_bytes`` tells the free space on the store (default: its file
    system's); ``space_margin`` bytes of it are kept free (default: ``[dock]
    space_margin_mib``).
    """
    root_fd = open_root(root)
    outcome = OUTCOME_COMPLETE
    try:
        limits = ctx.settings.dock  # issue 23: a hostile tree is walked within bounds
        listing = walk(root_fd, max_depth=limits.max_depth, max_entries=limits.max_entries)
        if serial is None:
            serial, serial_source = identify(root, root_fd, listing, profile, reported_serial)
        else:
            serial_source = "given"
        claims = claimed_elsewhere(listing, profile, serial)
        run = _start(ctx, root, serial, officer, actor, profile, cancel, claims)
        run.settle_s = (
            ctx.settings.dock.settle_seconds if settle_seconds is None else settle_seconds
        )
        run.free_bytes = free_bytes
        run.margin = (
            ctx.settings.dock.space_margin_mib << 20 if space_margin is None else space_margin
        )
        refusal = _refusal(run, profile)
        if refusal is not None:
            return _refuse(run, listing, refusal, serial_source, on_file)
        ctx.store.clean_stale_staging()
        for anomaly in listing.anomalies:
            _emit(run, _anomaly(run, anomaly.path, anomaly.kind, anomaly.reason), on_file)
        media, other = _split(listing.files, profile)
        for entry in other:
            reason = f"not a media file for profile {profile.name if profile else '-'}"
            _emit(run, _anomaly(run, entry.path, "not-media", reason), on_file)
        too_big = _space_plan(run, media)
        for entry in media:
            if entry.path in too_big:
                _emit(run, _no_space(run, entry, too_big[entry.path]), on_file)
        media = [entry for entry in media if entry.path not in too_big]
        with contextlib.ExitStack() as stack:
            if probe is None:
                probe = stack.enter_context(
                    MediaProbe(
                        exiftool=ctx.settings.probe.exiftool,
                        ffprobe_exe=ctx.settings.probe.ffprobe,
                        timeout_s=ctx.settings.probe.timeout_s,
                    )
                )
            for entry in media:
                if stop is not None and stop.is_set():
                    outcome = OUTCOME_INTERRUPTED
                    break
                result = _one_file(run, root_fd, entry, probe)
                _emit(run, result, on_file)
                if result.result == ABANDONED or (result.result == FAILED and not root.exists()):
                    outcome = OUTCOME_INTERRUPTED  # stopping, or the device was pulled out
                    break
        if wipe and outcome == OUTCOME_COMPLETE:
            _wipe(run, root_fd, media)
    finally:
        os.close(root_fd)
    return _finish(run, outcome, serial_source)


def _wipe(run: _Run, root_fd: int, media: list[FileEntry]) -> None:
    """Wipe what was stored or found already stored; a file that stays says why, in its
    result and in the custody log."""
    # by the exact name: two names can display alike
    done = {r.raw_path: n for n, r in enumerate(run.results) if r.result in (STORED, ALREADY)}
    for entry in media:
        n = done.get(entry.path)
        item_id = run.results[n].item if n is not None else None
        if n is None or item_id is None:
            continue
        with run.ctx.catalog.read() as txn:
            item = txn.item(item_id)
        w = wipe_one(
            run.ctx, root_fd, entry.path, item, actor=run.actor,
            verified=run.verified.get(entry.path), settle_s=run.settle_s,
        )  # fmt: skip
        logger.info(
            "wipe device=%s item=%s sha256=%s wiped=%s code=%s reason=%s",
            run.device.serial, item.id, item.sha256, w.wiped, w.code, w.reason,
        )  # fmt: skip
        if w.wiped or w.reason is None:
            continue
        if w.code != WIPE_FAILED:  # a failed unlink is recorded where it failed
            _log_not_acquired(
                run, item=item.id, path=w.path, kind="not-wiped", code=w.code or "",
                reason=w.reason,
            )  # fmt: skip
        r = run.results[n]
        note = f"not wiped from the device: {w.reason}"
        run.results[n] = replace(r, reason=f"{r.reason}; {note}" if r.reason else note)


def identify(
    root: Path,
    root_fd: int,
    listing: Listing,
    profile: DeviceProfile | None,
    reported_serial: str | None,
    *,
    is_mount: Callable[[Path], bool] = os.path.ismount,
) -> tuple[str, str]:
    """The device's serial and where it came from, by the profile's list of sources.

    A folder's name is its identity only when it is not a mount point: a mount point is named
    by whoever mounted it (evidock names its own after the kernel's device, 'sdb1'), so every
    camera docked there would share it. File names count only when every serial-bearing name
    agrees; names that disagree pick nobody, and the serial then comes from the path."""
    sources = profile.serial_sources if profile else ("udev", "folder")
    for source in sources:
        found: str | None = None
        if source == "udev" and reported_serial:
            found = clean_serial(reported_serial)
        elif source == "file" and profile is not None and profile.serial_file:
            found = _serial_file(root_fd, listing, profile.serial_file)
        elif source == "filename" and profile is not None:
            found = serial_from_filenames(profile, [f.display for f in listing.files])
        elif source == "folder" and profile is not None and not is_mount(root):
            found = clean_serial(root.name)
        if found:
            return found, source
    return folder_serial(root), "path"


def claimed_elsewhere(
    listing: Listing, profile: DeviceProfile | None, serial: str
) -> dict[bytes, str]:
    """The files whose name claims a serial other than ``serial``: path -> the claimed one."""
    found = serial_mismatches(profile, [f.display for f in listing.files], serial)
    return {listing.files[i].path: claim for i, claim in found.items()}


def _serial_file(root_fd: int, listing: Listing, rel: str) -> str | None:
    wanted = os.fsencode(rel)
    entry = next((f for f in listing.files if f.path == wanted), None)
    if entry is None or entry.size > 4096:
        return None
    try:
        fd = open_file(root_fd, entry)
    except DeviceError:
        return None
    try:
        text = os.read(fd, 256).decode("utf-8", "replace")
    finally:
        os.close(fd)
    lines = text.strip().splitlines()
    return clean_serial(lines[0]) if lines else None


def _split(
    files: tuple[FileEntry, ...], profile: DeviceProfile | None
) -> tuple[list[FileEntry], list[FileEntry]]:
    if profile is None:
        return list(files), []
    media = [f for f in files if matches_any(f.display, profile.media_globs)]
    chosen = {f.path for f in media}
    return media, [f for f in files if f.path not in chosen]


def _refusal(run: _Run, profile: DeviceProfile | None) -> str | None:
    if profile is not None and profile.require_registered and not run.device.registered:
        return (
            f"device serial {run.device.serial!r} is not registered and profile "
            f"{profile.name} requires it; register it with 'evidock device add "
            f"{run.device.serial}' and dock it again"
        )
    return None


def _refuse(
    run: _Run,
    listing: Listing,
    reason: str,
    serial_source: str,
    on_file: Callable[[FileResult], None] | None,
) -> IngestReport:
    _log_not_acquired(run, kind="refused", reason=reason, files_left_on_device=len(listing.files))
    for entry in listing.files:
        result = FileResult(path=entry.display, result=NOT_ACQUIRED, reason=reason,
                            raw_path=entry.path)  # fmt: skip
        _emit(run, result, on_file)
    return _finish(run, OUTCOME_REFUSED, serial_source, refused_reason=reason)


def _emit(run: _Run, result: FileResult, on_file: Callable[[FileResult], None] | None) -> None:
    run.results.append(result)
    logger.info(
        "file result=%s device=%s item=%s sha256=%s path=%r reason=%s",
        result.result,
        run.device.serial,
        result.item,
        result.sha256,
        result.path,
        result.reason,
    )
    if on_file is not None:
        on_file(result)


def _start(
    ctx: Context,
    root: Path,
    serial: str,
    badge: str | None,
    actor: str,
    profile: DeviceProfile | None,
    cancel: threading.Event | None,
    claims: dict[bytes, str],
) -> _Run:
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        device = txn.find_device(serial)
        if device is None:
            device = _first_sight(
                txn,
                serial=serial,
                vendor="",
                model="",
                kind=profile.kind if profile else "unknown",
                profile=profile.name if profile else "",
                registered=False,
                now=now,
            )
        officer = txn.officer(badge) if badge is not None else None
        session = txn.open_session(
            dock_id=ctx.dock.id, device_id=device.id, source=str(root), now=now
        )
        txn.mark_docked(device.id, now)
        ctx.custody.append(
            txn,
            type="device_docked",
            actor=actor,
            data={
                "device": serial,
                "registered": device.registered,
                "session": session,
                "source": str(root),
                "profile": profile.name if profile else None,
                **_claims_note(claims),
            },
        )
    if claims:
        logger.warning(
            "files named for another device device=%s session=%s files=%d claimed=%s",
            serial, session, len(claims), ",".join(sorted(set(claims.values()))),
        )  # fmt: skip
    zone_name = profile.clock_zone if profile else "local"
    zone = ZoneInfo(ctx.settings.device_clock_zone if zone_name == "local" else zone_name)
    return _Run(
        ctx=ctx,
        device=device,
        officer_id=officer.id if officer else None,
        officer_badge=officer.badge if officer else None,
        session=session,
        actor=actor,
        profile=profile,
        zone=zone,
        cancel=cancel,
        claims=claims,
    )


def _claims_note(claims: dict[bytes, str]) -> dict[str, list[dict[str, str]]]:
    """For the 'device_docked' event: the files whose names claim another device's serial."""
    if not claims:
        return {}
    note = [{"path": display_path(p), "serial": c, **exact_name(p)} for p, c in claims.items()]
    return {"serial_mismatch": note}


def _first_sight(txn: Transaction, *, serial: str, **fields: Any) -> Device:
    """Register a device seen for the first time; another bay may be doing the same right now,
    in which case its row is the one (the unique serial decides, the savepoint keeps us going)."""
    try:
        return txn.add_device(serial=serial, **fields)
    except AlreadyExists:
        return txn.device(serial)


def _anomaly(run: _Run, raw: bytes, kind: str, reason: str) -> FileResult:
    """A file or entry that stays on the device, recorded with its reason."""
    path = display_path(raw)
    _log_not_acquired(run, path=path, kind=kind, reason=reason)
    return FileResult(path=path, result=NOT_ACQUIRED, reason=reason, raw_path=raw)


def _log_not_acquired(run: _Run, *, item: int | None = None, **data: str | int) -> None:
    """The one 'acquisition_failed' writer: what stays on the device, and why."""
    with run.ctx.catalog.write() as txn:
        run.ctx.custody.append(
            txn,
            type="acquisition_failed",
            actor=run.actor,
            item=item,
            data={"device": run.device.serial, "session": run.session, **data},
        )


def _space_plan(run: _Run, media: list[FileEntry]) -> dict[bytes, str]:
    """The files that would not fit on the store, counting every file that has no item of its
    size at its path (those that have one are hashed, and copied only if other bytes: each
    copy checks the space again)."""
    with run.ctx.catalog.read() as txn:
        to_copy = [
            (e.path, e.size)
            for e in media
            if all(i.size != e.size for i in txn.items_at_path(run.device.id, e.path))
        ]
    if not to_copy:
        return {}
    return space.plan(to_copy, _free(run), run.margin)


def _free(run: _Run) -> int:
    return (run.free_bytes or run.ctx.store.free_bytes)()


def _no_space(run: _Run, entry: FileEntry, reason: str) -> FileResult:
    """A file not started for want of room: it stays on the device, nothing of it written."""
    _log_not_acquired(run, path=entry.display, kind=space.NO_SPACE, reason=reason)
    return FileResult(
        path=entry.display, result=FAILED, reason=f"{reason} ({space.NO_SPACE})",
        code=space.NO_SPACE, raw_path=entry.path,
    )  # fmt: skip


def _one_file(run: _Run, root_fd: int, entry: FileEntry, probe: MediaProbe) -> FileResult:
    ctx = run.ctx
    with ctx.catalog.read() as txn:
        earlier = txn.items_at_path(run.device.id, entry.path)
    try:
        src = open_file(root_fd, entry)
        try:
            known = already(src, earlier, cancel=run.cancel) if earlier else None
            if known is not None:
                run.verified[entry.path] = known.verified
                return FileResult(
                    path=entry.display,
                    result=ALREADY,
                    item=known.item.id,
                    sha256=known.item.sha256,
                    size=known.item.size,
                    flags=known.item.facts.flags,
                    raw_path=entry.path,
                )
            free = _free(run)
            if not space.fits(entry.size, free, run.margin):
                return _no_space(run, entry, space.reason(entry.size, free, run.margin))
            with ctx.store.staging() as staging:
                got = acquire(src, staging, cancel=run.cancel, marks=[i.size for i in earlier])
                facts = _facts(run, entry, got, probe, staging)
                flags, why = collision(earlier, got)
                facts = replace(facts, flags=facts.flags + flags)
                if entry.path in run.claims:  # its name claims another device (issue 23)
                    facts = replace(facts, flags=(*facts.flags, FLAG_SERIAL_MISMATCH))
                filed = ctx.store.file(staging, got.sha256, got.size)
        finally:
            os.close(src)
        result = _record(run, entry, got, facts, filed.key, why)
        run.verified[entry.path] = got.source
        return result
    except Abandoned as e:
        return FileResult(path=entry.display, result=ABANDONED, reason=str(e), raw_path=entry.path)
    except (DeviceError, IngestError, StorageError, OSError) as e:  # the file stays on the device
        return _failed(run, entry, e)


_NOT_PROBED = ProbeResult(
    exif=ToolOutput(tool="exiftool", data={}, error=None),
    ffprobe=None,
    sniffed=Sniffed(container=None, looks_like="an empty file"),
)


def _facts(
    run: _Run, entry: FileEntry, got: Acquired, probe: MediaProbe, staging: Staging
) -> MediaFacts:
    """What the tools read from the staging copy; an empty file is flagged, not probed."""
    facts = derive_facts(
        _NOT_PROBED if got.size == 0 else probe.probe(staging.path),
        file_name=os.fsdecode(entry.path.rsplit(b"/", 1)[-1]),
        mtime_ns=got.mtime_ns,
        device_zone=run.zone,
        now=run.ctx.clock(),
        time_pattern=run.profile.time_pattern if run.profile else None,
        important_pattern=run.profile.important_pattern if run.profile else None,
    )
    return replace(facts, flags=(*facts.flags, FLAG_EMPTY)) if got.size == 0 else facts


def _record(
    run: _Run,
    entry: FileEntry,
    got: Acquired,
    facts: MediaFacts,
    key: str,
    why: str | None,
) -> FileResult:
    ctx = run.ctx
    sha256, size, mtime_ns = got.sha256, got.size, got.mtime_ns
    now = ctx.clock()
    # filed locally: durable now when the local store is (part of) the system of record; with
    # S3 alone it is pending (its offload clock running) until a worker has uploaded it
    local_is_record = ctx.store.backend in ctx.settings.store.system_of_record
    with ctx.catalog.write() as txn:
        officer_id = run.officer_id
        if officer_id is None and facts.recorded_start is not None:
            holder = txn.holder(run.device.id, facts.recorded_start)
            officer_id = holder.id if holder else None
        try:
            item = txn.insert_item(
                NewItem(
                    sha256=sha256,
                    size=size,
                    device_id=run.device.id,
                    officer_id=officer_id,
                    session_id=run.session,
                    original_path=entry.path,
                    original_path_display=entry.display,
                    source_mtime_ns=mtime_ns,
                    acquired_at=now,
                    facts=facts,
                    source_inode=got.source.inode,
                    source_ctime_ns=got.source.ctime_ns,
                ),
                state=STORED if local_is_record else PENDING,
                durable_at=now if local_is_record else None,
            )
        except AlreadyExists:
            same = [i for i in txn.items_at_path(run.device.id, entry.path) if i.sha256 == sha256]
            return FileResult(
                path=entry.display,
                result=ALREADY,
                item=same[0].id if same else None,
                sha256=sha256,
                size=size,
                raw_path=entry.path,
            )
        txn.log.lock_head()  # a release of these bytes' spool copy (issue 8) waits for us
        local = txn.record_object(
            StoredObject(
                backend=ctx.store.backend,
                sha256=sha256,
                key=key,
                size=size,
                version_id=None,
                created_at=now,
            )
        )
        if local.released_at is not None:  # the spool had let these bytes go (S3 holds them)
            if not ctx.store.exists(sha256):  # released while we filed: keep the device copy
                raise StoreWriteError(
                    f"the local copy of {sha256} was released while this file was filed",
                    hint="Nothing was recorded; the file stays on the device for the next docking.",
                )
            ObjectOps(txn).mark_released(ctx.store.backend, sha256, None)  # it is back
        common = {"sha256": sha256, "size": size, "device": run.device.serial}
        ctx.custody.append(
            txn,
            type="acquired",
            actor=run.actor,
            item=item.id,
            data={
                **common,
                "session": run.session,
                "path": entry.display,
                **exact_name(entry.path),
                "source_mtime_ns": str(mtime_ns),  # beyond the I-JSON integer range
                "officer": item.officer_badge,
                "recorded_start": iso(facts.recorded_start),
                "recorded_end": iso(facts.recorded_end),
                "time_source": facts.time_source,
                "flags": list(facts.flags),
                "probe_errors": list(facts.probe_errors),
                **_claimed(run, entry),
            },
        )
        ctx.custody.append(
            txn,
            type="verified",
            actor=run.actor,
            item=item.id,
            data={**common, "method": "read-back after page-cache drop"},
        )
        ctx.custody.append(
            txn,
            type="stored",
            actor=run.actor,
            item=item.id,
            data={**common, "backend": ctx.store.backend, "key": key},
        )
        # issue 5: the review-proxy job, in the item's own transaction (a crash cannot lose it)
        if wants_proxy(facts):
            JobOps(txn).enqueue(kind=TRANSCODE, item_id=item.id, now=now, node=ctx.worker_node)
        ctx.queue_upload(txn, item.id, ingested_here=True)  # issue 8: to S3, same transaction
    return FileResult(
        path=entry.display,
        result=STORED,
        item=item.id,
        sha256=sha256,
        size=size,
        flags=facts.flags,
        reason="; ".join([*filter(None, [why]), *facts.probe_errors]) or None,
        raw_path=entry.path,
    )


def _claimed(run: _Run, entry: FileEntry) -> dict[str, str]:
    """For the 'acquired' event: the serial the file's name claims, when not the device's."""
    claim = run.claims.get(entry.path)
    return {} if claim is None else {"claimed_serial": claim}


def _failed(run: _Run, entry: FileEntry, err: Exception) -> FileResult:
    code = getattr(err, "code", "error")
    reason = f"{err} ({code})"
    _log_not_acquired(run, path=entry.display, kind="error", code=code, reason=str(err))
    return FileResult(path=entry.display, result=FAILED, reason=reason, code=code,
                      raw_path=entry.path)  # fmt: skip


def _finish(
    run: _Run, outcome: str, serial_source: str, *, refused_reason: str | None = None
) -> IngestReport:
    ctx = run.ctx
    if outcome == OUTCOME_COMPLETE and any(r.result == FAILED for r in run.results):
        outcome = OUTCOME_INCOMPLETE
    if outcome == OUTCOME_REFUSED:
        with ctx.catalog.write() as txn:
            txn.close_session(run.session, outcome=outcome, now=ctx.clock())
    else:  # closed with the 24-hour rule and case auto-linking, before the checkpoint
        after_ingest(ctx, run.session, actor=run.actor, close_as=outcome)
    size, _ = ctx.checkpoint()
    return IngestReport(
        session=run.session,
        device=run.device.serial,
        officer=run.officer_badge,
        files=tuple(run.results),
        outcome=outcome,
        profile=run.profile.name if run.profile else None,
        serial_source=serial_source,
        refused_reason=refused_reason,
        checkpoint_size=size,
        serial_claims=tuple(run.claims.items()),
    )
