"""Ingest of one docked device (or a folder playing one), end to end.

For every regular file not yet in the catalog: acquire (one read, hash, staging, read-back),
probe the staging copy (never the device), file it in the content-addressed store, then in ONE
catalog transaction record the item with its 'acquired', 'verified' and 'stored' custody
events. A crash anywhere leaves either nothing in the catalog (the device still has the file,
a rerun takes it; a filed object is found again by its hash) or the complete record.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from devices.errors import DeviceError
from devices.walk import Anomaly, FileEntry, open_file, open_root, walk
from ingest.acquire import acquire
from ingest.context import Context
from ingest.errors import IngestError
from ingest.facts import derive_facts
from ingest.probe import MediaProbe
from storage.errors import AlreadyExists, StorageError
from storage.records import Device, Item, MediaFacts, NewItem, StoredObject

logger = logging.getLogger(__name__)

STORED = "stored"
ALREADY = "already"
FAILED = "failed"
NOT_ACQUIRED = "not_acquired"


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    path: str
    result: str
    item: int | None = None
    sha256: str | None = None
    size: int | None = None
    reason: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    session: int
    device: str
    officer: str | None
    files: tuple[FileResult, ...]
    checkpoint_size: int | None = None

    def count(self, result: str) -> int:
        return sum(1 for f in self.files if f.result == result)

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0

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
    source: str
    results: list[FileResult] = field(default_factory=list)


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
) -> IngestReport:
    """Ingest everything on the device mounted at ``root``; see the module doc."""
    root_fd = open_root(root)
    try:
        listing = walk(root_fd)
        run = _start(ctx, root, serial or folder_serial(root), officer, actor)
        ctx.store.clean_stale_staging()
        for anomaly in listing.anomalies:
            _emit(run, _anomaly(run, anomaly), on_file)
        with contextlib.ExitStack() as stack:
            if probe is None:
                probe = stack.enter_context(
                    MediaProbe(
                        exiftool=ctx.settings.probe.exiftool,
                        ffprobe_exe=ctx.settings.probe.ffprobe,
                        timeout_s=ctx.settings.probe.timeout_s,
                    )
                )
            for entry in listing.files:
                _emit(run, _one_file(run, root_fd, entry, probe), on_file)
    finally:
        os.close(root_fd)
    return _finish(run)


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


def _start(ctx: Context, root: Path, serial: str, badge: str | None, actor: str) -> _Run:
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        device = txn.find_device(serial)
        if device is None:
            device = txn.add_device(
                serial=serial,
                kind="unknown",
                vendor="",
                model="",
                profile="",
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
            },
        )
    return _Run(
        ctx=ctx,
        device=device,
        officer_id=officer.id if officer else None,
        officer_badge=officer.badge if officer else None,
        session=session,
        actor=actor,
        source=str(root),
    )


def _anomaly(run: _Run, anomaly: Anomaly) -> FileResult:
    with run.ctx.catalog.write() as txn:
        run.ctx.custody.append(
            txn,
            type="acquisition_failed",
            actor=run.actor,
            data={
                "device": run.device.serial,
                "session": run.session,
                "path": anomaly.display,
                "kind": anomaly.kind,
                "reason": anomaly.reason,
            },
        )
    return FileResult(path=anomaly.display, result=NOT_ACQUIRED, reason=anomaly.reason)


def _known(run: _Run, entry: FileEntry) -> Item | None:
    with run.ctx.catalog.read() as txn:
        for item in txn.items_at_path(run.device.id, entry.path):
            if item.size == entry.size and item.source_mtime_ns == entry.mtime_ns:
                return item
    return None


def _one_file(run: _Run, root_fd: int, entry: FileEntry, probe: MediaProbe) -> FileResult:
    known = _known(run, entry)
    if known is not None:
        return FileResult(
            path=entry.display,
            result=ALREADY,
            item=known.id,
            sha256=known.sha256,
            size=known.size,
            flags=known.facts.flags,
        )
    ctx = run.ctx
    try:
        src = open_file(root_fd, entry)
        try:
            with ctx.store.staging() as staging:
                got = acquire(src, staging)
                facts = derive_facts(
                    probe.probe(staging.path),
                    file_name=os.fsdecode(entry.path.rsplit(b"/", 1)[-1]),
                    mtime_ns=got.mtime_ns,
                    device_zone=ZoneInfo(ctx.settings.device_clock_zone),
                    now=ctx.clock(),
                )
                filed = ctx.store.file(staging, got.sha256, got.size)
        finally:
            os.close(src)
        return _record(run, entry, got.sha256, got.size, got.mtime_ns, facts, filed.key)
    except (DeviceError, IngestError, StorageError) as e:
        return _failed(run, entry, e)


def _record(
    run: _Run,
    entry: FileEntry,
    sha256: str,
    size: int,
    mtime_ns: int,
    facts: MediaFacts,
    key: str,
) -> FileResult:
    ctx = run.ctx
    now = ctx.clock()
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
                ),
                state=STORED,
                durable_at=now,
            )
        except AlreadyExists:
            same = [i for i in txn.items_at_path(run.device.id, entry.path) if i.sha256 == sha256]
            return FileResult(
                path=entry.display,
                result=ALREADY,
                item=same[0].id if same else None,
                sha256=sha256,
                size=size,
            )
        txn.record_object(
            StoredObject(
                backend=ctx.store.backend,
                sha256=sha256,
                key=key,
                size=size,
                version_id=None,
                created_at=now,
            )
        )
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
                "source_mtime_ns": str(mtime_ns),  # beyond the I-JSON integer range
                "officer": item.officer_badge,
                "recorded_start": _iso(facts.recorded_start),
                "recorded_end": _iso(facts.recorded_end),
                "time_source": facts.time_source,
                "flags": list(facts.flags),
                "probe_errors": list(facts.probe_errors),
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
    return FileResult(
        path=entry.display,
        result=STORED,
        item=item.id,
        sha256=sha256,
        size=size,
        flags=facts.flags,
        reason="; ".join(facts.probe_errors) or None,
    )


def _failed(run: _Run, entry: FileEntry, err: Exception) -> FileResult:
    code = getattr(err, "code", "error")
    reason = f"{err} ({code})"
    with run.ctx.catalog.write() as txn:
        run.ctx.custody.append(
            txn,
            type="acquisition_failed",
            actor=run.actor,
            data={
                "device": run.device.serial,
                "session": run.session,
                "path": entry.display,
                "kind": "error",
                "code": code,
                "reason": str(err),
            },
        )
    return FileResult(path=entry.display, result=FAILED, reason=reason)


def _finish(run: _Run) -> IngestReport:
    ctx = run.ctx
    failed = sum(1 for r in run.results if r.result == FAILED)
    with ctx.catalog.write() as txn:
        txn.close_session(
            run.session, outcome="complete" if not failed else "incomplete", now=ctx.clock()
        )
    size, _ = ctx.checkpoint()
    return IngestReport(
        session=run.session,
        device=run.device.serial,
        officer=run.officer_badge,
        files=tuple(run.results),
        checkpoint_size=size,
    )


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()
