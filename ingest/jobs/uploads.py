"""The ``upload`` job: bring the object store in line with the catalog for one item, or publish
the custody log's checkpoints to the bucket (issue 8).

The local store is the spool. Ingest files every recording locally and, when ``[s3]`` is
configured, queues an ``upload`` job in the item's own transaction; so do a case link or unlink,
a case archived, and a finished transcode. One run of the job, idempotently:

1. uploads the original (``originals/sha256/<hex>``) and each derivative
   (``derived/sha256/<hex>``) not yet recorded in S3, with checksums, Object Lock retention and
   the legal hold the item needs (``storage.blobs.s3store.S3Store.put_file`` compares what the
   server reports with what was sent, and fails loudly on any difference);
2. sets or releases the legal hold: on while any item with these bytes is linked to a case
   that is not archived;
3. in one catalog transaction, only while the job's lease is still ours: the stored-object
   rows, one custody event per change (``stored`` when S3 is the system of record,
   ``replicated`` when it is a replica; ``legal_hold_set``/``legal_hold_released``), and, when
   this made a pending item durable, its ``durable_at`` and its 24-hour-rule measurement;
4. when ``[store] release_local_after_upload`` says so and no transcode still needs it, re-hashes
   the S3 copy by a full download and only then releases the local copy (event first, unlink
   after the commit). The job is then done in a last transaction of its own, so that a crash
   between the release's commit and the unlink is finished by the job's next run.

Each of these points has a name (ingest.jobs.steps) where the fault tests kill the job.

An outage (``S3Unavailable``) or a mismatch (``S3IntegrityError``) fails the attempt; the job
queue retries with exponential backoff and the item stays pending meanwhile, visible to
``evidock overdue`` and the metrics. Nothing is ever deleted from the bucket.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i18n import _
from ingest.cases.offload import measure
from ingest.cases.steps import OnStep
from ingest.context import Context
from ingest.errors import IngestError
from ingest.jobs.proxies import Work, derived_store
from ingest.jobs.steps import JobStep, job_hook
from ingest.media.transcode import TranscodeStopped
from storage.blobs.durable import FILE_MODE, fsync_dir
from storage.blobs.s3objects import S3Object
from storage.catalog.derived import DerivedOps
from storage.catalog.jobs import JobKind, JobOps
from storage.catalog.objects import DERIVED, ORIGINAL, STORED, ObjectOps, queue_upload
from storage.catalog.session import Transaction
from storage.errors import S3IntegrityError, S3Unavailable, StorageError
from storage.records import Event, StoredObject
from verify.log.events import EventType, data_time

if TYPE_CHECKING:
    from storage.blobs.s3store import S3Store

logger = logging.getLogger(__name__)

S3 = "s3"


def check_object_store(ctx: Context, *, refuse_unreachable: bool) -> None:
    """At the start of a daemon: a bucket without the Object Lock the config asks for, or
    credentials it refuses, stop it with a message (``S3ConfigError``). An unreachable store
    does not stop a dock: it spools locally and its workers retry."""
    if ctx.s3 is None:
        return
    try:
        ctx.s3.check()
    except S3Unavailable as e:
        if refuse_unreachable:
            raise
        logger.warning("object store unreachable at start, items stay in the local spool "
                       "until it is back: %s", e)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class _Want:
    """One object S3 should hold: its role, bytes, where the local copy is."""

    role: str
    sha256: str
    size: int
    path: Path
    kind: str  # "original", or the derivative's kind (proxy, poster, ...)
    legal_hold: bool = False


def sync_to_s3(ctx: Context, work: Work, *, on_step: OnStep | None = None) -> None:
    """One run of the job; see the module doc. ``on_step`` sees each labelled point
    (ingest.jobs.steps; default: none, or the fault tests' ``EVIDOCK_TEST_STOP_AT``)."""
    step = on_step or job_hook(ctx.settings)
    s3 = _s3(ctx)
    if work.job.item_id is None:
        publish_checkpoints(ctx, work, s3)
        return
    item_id = work.job.item_id
    with ctx.catalog.read() as txn:
        item = txn.item(item_id)
        ops = ObjectOps(txn)
        hold = ops.hold_wanted(item.sha256)
        derived = DerivedOps(txn).for_items([item_id]).get(item_id, [])
        shas = [item.sha256, *(d.sha256 for d in derived)]
        have = {(o.role, o.sha256): o for o in ops.objects(S3, shas)}
        local = ops.object(ctx.store.backend, item.sha256)
        told = _s3_event(txn.log.events_for_item(item_id))
    wants = [
        _Want(role=ORIGINAL, sha256=item.sha256, size=item.size, kind=ORIGINAL,
              path=ctx.store.path_for(item.sha256), legal_hold=hold)
    ] + [
        _Want(role=DERIVED, sha256=d.sha256, size=d.size, kind=d.kind,
              path=derived_store(ctx).path_for(d.sha256))
        for d in derived
    ]  # fmt: skip
    uploaded: list[tuple[_Want, S3Object]] = []
    for want in wants:
        if (want.role, want.sha256) in have:
            continue
        if work.should_stop():
            raise TranscodeStopped("stopped before an upload")  # untranslated: worker's signal
        if want.role == ORIGINAL and local is not None and local.released_at is not None:
            raise S3IntegrityError(
                _(
                    "item #{item}: the local copy was released but S3 has no original recorded"
                ).format(item=item_id)
            )
        key = s3.original_key(want.sha256) if want.role == ORIGINAL else s3.derived_key(want.sha256)
        try:
            got = s3.put_file(
                key,
                want.path,
                sha256=want.sha256,
                size=want.size,
                legal_hold=want.legal_hold,
                now=ctx.clock(),
            )
        except S3IntegrityError as e:  # loud: the item stays pending, the job retries
            logger.error("S3 upload refused item=%d sha256=%s key=%s code=%s error=%s",
                         item_id, want.sha256, key, e.code, e)  # fmt: skip
            raise
        uploaded.append((want, got))
        logger.info("uploaded item=%d role=%s key=%s version=%s", item_id, want.role, key,
                    got.version_id)  # fmt: skip
    if uploaded:
        step(JobStep.UPLOADED)
    original = have.get((ORIGINAL, item.sha256))
    hold_change: bool | None = None
    if original is not None and original.legal_hold != hold:
        s3.set_legal_hold(original.key, original.version_id, hold)
        hold_change = hold
        step(JobStep.HOLD_SET)
    # the bytes were already in S3 for another item with the same content: say so for this one
    existing = original if original is not None and not told else None
    release = s3.config.release_local
    _record(ctx, work, item_id, item.sha256, uploaded, hold_change, existing, step,
            done=not release)  # fmt: skip
    if release:
        try:  # all is recorded: a failure here keeps the local copy, which is always safe
            release_local(ctx, work, s3, item.sha256, on_step=step)
        except StorageError as e:
            logger.error("local copy kept: its S3 copy does not verify item=%d sha256=%s "
                         "code=%s error=%s", item_id, item.sha256, e.code, e)  # fmt: skip
        with ctx.catalog.write() as txn:
            JobOps(txn).complete(work.job.id, owner=work.owner, now=ctx.clock())


def _s3_event(events: Sequence[Event]) -> bool:
    """Whether an item's history already says its original is in S3."""
    for e in events:
        if e.type in ("stored", "replicated"):
            data = json.loads(e.data)
            if data.get("backend") == S3 and data.get("role", ORIGINAL) == ORIGINAL:
                return True
    return False


def _record(
    ctx: Context,
    work: Work,
    item_id: int,
    sha256: str,
    uploaded: list[tuple[_Want, S3Object]],
    hold_change: bool | None,
    existing: StoredObject | None,
    step: OnStep,
    *,
    done: bool = True,
) -> None:
    """Step 3; the job is done in it unless a release follows (``done``), and recorded only
    while its lease is ours."""
    now = ctx.clock()
    actor = f"worker:{work.owner}"
    original = EventType.STORED if ctx.settings.store.s3_is_record else EventType.REPLICATED
    bucket = _s3(ctx).config.bucket
    with ctx.catalog.write() as txn:
        jobs = JobOps(txn)
        lease_s = work.settings.lease_seconds
        if done or not jobs.heartbeat(work.job.id, owner=work.owner, now=now, lease_s=lease_s):
            jobs.complete(work.job.id, owner=work.owner, now=now)  # LeaseLost when not ours
        ops = ObjectOps(txn)
        if existing is not None:
            data = {**_event_data(existing, bucket, work), "uploaded_for_another_item": True}
            ctx.custody.append(txn, type=original, actor=actor, item=item_id, data=data)
        for want, got in uploaded:
            obj = txn.record_object(
                StoredObject(
                    backend=S3,
                    sha256=want.sha256,
                    key=got.key,
                    size=want.size,
                    version_id=got.version_id,
                    created_at=now,
                    role=want.role,
                    checksum=got.checksum_sha256,
                    lock_mode=got.lock_mode,
                    retention_until=got.retain_until,
                    legal_hold=_held(got, want),
                )
            )
            data = _event_data(obj, bucket, work)
            if want.role == ORIGINAL:
                ctx.custody.append(txn, type=original, actor=actor, item=item_id, data=data)
                if obj.legal_hold:  # uploaded under the hold its open case needs
                    hold_change = True
            else:
                ctx.custody.append(
                    txn, type=EventType.REPLICATED, actor=actor, item=item_id,
                    data={**data, "role": DERIVED, "kind": want.kind, "source_sha256": sha256},
                )  # fmt: skip
        if hold_change is not None:
            ops.set_legal_hold(S3, sha256, hold_change)  # no-op for a fresh upload
            ctx.custody.append(
                txn,
                type=EventType.LEGAL_HOLD_SET if hold_change else EventType.LEGAL_HOLD_RELEASED,
                actor=actor,
                item=item_id,
                data={"sha256": sha256, "backend": S3, "bucket": bucket,
                      "key": _s3(ctx).original_key(sha256), "job": work.job.id},
            )  # fmt: skip
        if uploaded or hold_change is not None or existing is not None:
            _settle_durability(txn, ctx, item_id, sha256, actor, work)
        step(JobStep.WRITTEN)


def _settle_durability(
    txn: Transaction, ctx: Context, item_id: int, sha256: str, actor: str, work: Work
) -> None:
    """Items with these bytes that were pending are durable once every backend of the system
    of record holds them; they are measured against the 24-hour rule right away. An item other
    than the job's gets its stored/replicated event here, in the transaction that changes it."""
    ops = ObjectOps(txn)
    held = {
        o.backend
        for o in txn.stored_objects(sha256)
        if o.role == ORIGINAL and (o.backend == S3 or o.released_at is None)
    }
    if not set(ctx.settings.store.system_of_record) <= held:
        return
    now = ctx.clock()
    made = [i for i in ops.items_with(sha256) if ops.make_durable(i, now)]
    for made_id in made:  # the item's state and durable_at are custody facts (issue 14)
        ctx.custody.append(
            txn, type=EventType.DURABLE, actor=actor, item=made_id,
            data={"sha256": sha256, "state": STORED, "durable_at": data_time(now)},
        )  # fmt: skip
    others = [i for i in made if i != item_id]
    if others:
        remote = ops.object(S3, sha256)
        assert remote is not None  # S3 holds them: that is why they are durable
        data = {**_event_data(remote, _s3(ctx).config.bucket, work),
                "uploaded_for_another_item": True}  # fmt: skip
        typ = EventType.STORED if ctx.settings.store.s3_is_record else EventType.REPLICATED
        for other in others:
            ctx.custody.append(txn, type=typ, actor=actor, item=other, data=data)
    if made:
        measure(txn, ctx, made, actor=actor)
        logger.info("items durable in the system of record items=%s", made)


def release_local(
    ctx: Context, work: Work, s3: S3Store, sha256: str, *, on_step: OnStep | None = None
) -> bool:
    """Drop the local copy of these bytes once S3 provably holds them (full download and
    re-hash) and no item with them still waits for a proxy. Returns whether it was released."""
    with ctx.catalog.read() as txn:
        local, remote, items = _releasable(txn, ctx, sha256)
        marked = ObjectOps(txn).object(ctx.store.backend, sha256)
        in_s3 = ObjectOps(txn).object(S3, sha256) is not None
    if marked is not None and marked.released_at is not None and in_s3 and ctx.store.exists(sha256):
        # a crash between a release's commit and its unlink: the release was decided on a
        # verified S3 copy and recorded; finish it (unless an ingest brought the bytes back)
        if _unlink_released(ctx, sha256):
            logger.info("local copy released (its release was recorded) sha256=%s", sha256)
        return True
    if local is None or remote is None:
        return False
    found, size = s3.rehash(remote.key, remote.version_id)
    if (found, size) != (sha256, remote.size):
        message = _(
            "S3 object {key} (version {version}) does not hold the item's bytes: expected "
            "sha256 {expected}, {expected_size} bytes; found {found}, {size} bytes; the "
            "local copy is kept"
        )
        raise S3IntegrityError(
            message.format(key=remote.key, version=remote.version_id, expected=sha256,
                           expected_size=remote.size, found=found, size=size)
        )  # fmt: skip
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        txn.log.lock_head()  # ingest records items under this lock: none can slip in now
        still_local, still_remote, still_items = _releasable(txn, ctx, sha256)
        if still_local is None or still_remote is None or still_items != items:
            logger.info("local copy kept: its items changed meanwhile sha256=%s", sha256)
            return False
        ObjectOps(txn).mark_released(ctx.store.backend, sha256, now)
        for item_id in items:
            ctx.custody.append(
                txn,
                type=EventType.RELEASED_LOCAL,
                actor=f"worker:{work.owner}",
                item=item_id,
                data={"sha256": sha256, "size": size, "backend": ctx.store.backend,
                      "key": local.key, "verified_in": S3, "s3_key": remote.key,
                      "s3_version_id": remote.version_id, "method": "full download re-hash"},
            )  # fmt: skip
    (on_step or job_hook(ctx.settings))(JobStep.RELEASED)
    if _unlink_released(ctx, sha256):
        logger.info("local copy released sha256=%s s3_key=%s", sha256, remote.key)
    return True


def _unlink_released(ctx: Context, sha256: str) -> bool:
    """Unlink the local copy if the catalog still says it is released, under the log's lock.

    A release commits before it unlinks. An ingest of the same bytes that records in between
    finds the file still there and marks it back, under the same lock (ingest.pipeline.record):
    its item relies on that file, so it stays. Returns whether it was unlinked."""
    with ctx.catalog.write() as txn:
        txn.log.lock_head()
        marked = ObjectOps(txn).object(ctx.store.backend, sha256)
        if marked is None or marked.released_at is None:
            logger.info("local copy kept: an ingest brought these bytes back sha256=%s", sha256)
            return False
        _unlink(ctx, sha256)  # under the lock: no ingest can mark it back meanwhile
    return True


def _unlink(ctx: Context, sha256: str) -> None:
    path = ctx.store.path_for(sha256)
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, FILE_MODE)
        path.unlink()
        fsync_dir(path.parent)


def _releasable(
    txn: Transaction, ctx: Context, sha256: str
) -> tuple[StoredObject | None, StoredObject | None, list[int]]:
    """(local copy, S3 copy, items) when the local copy may go: not released yet, in S3, every
    item with these bytes durable and none waiting for a proxy; else (None, None, items)."""
    ops = ObjectOps(txn)
    local = ops.object(ctx.store.backend, sha256)
    remote = ops.object(S3, sha256)
    items = ops.items_with(sha256)
    busy = JobOps(txn).unfinished_for(items, kind=JobKind.TRANSCODE)
    durable = all(i.durable_at is not None for i in txn.items(ids=items))
    if local is None or local.released_at is not None or remote is None or busy or not durable:
        return None, None, items
    return local, remote, items


def publish_checkpoints(ctx: Context, work: Work, s3: S3Store) -> int:
    """Copy every checkpoint not yet in the bucket there, write-once (any dock's: the note in
    the catalog row is the exact text of the signed file)."""
    with ctx.catalog.read() as txn:
        todo = ObjectOps(txn).unpublished_checkpoints()
    done: list[int] = []
    for cp in todo:
        if work.should_stop():
            break
        s3.put_bytes(s3.checkpoint_key(cp.name), cp.note.encode("utf-8"), now=ctx.clock())
        done.append(cp.id)
    with ctx.catalog.write() as txn:
        JobOps(txn).complete(work.job.id, owner=work.owner, now=ctx.clock())
        ObjectOps(txn).mark_published(done, ctx.clock())
        if len(done) < len(todo) or len(todo) == 500:
            queue_upload(
                txn, None, object_store=True, shared=ctx.settings.store.shared, now=ctx.clock()
            )  # the rest in a next job
    logger.info("checkpoints published count=%d", len(done))
    return len(done)


def _s3(ctx: Context) -> S3Store:
    if ctx.s3 is None:
        raise IngestError(
            _("an upload job, but this node has no [s3] configured"),
            hint=_("Give every worker that runs 'upload' jobs the same [s3] section."),
        )
    return ctx.s3


def _event_data(o: StoredObject, bucket: str, work: Work) -> dict[str, Any]:
    """What a stored/replicated event says of an S3 object: where it is and what the server
    reported for it (version, checksum, lock)."""
    return {
        "sha256": o.sha256,
        "size": o.size,
        "backend": S3,
        "bucket": bucket,
        "key": o.key,
        "version_id": o.version_id,
        "checksum_sha256": o.checksum,
        "lock_mode": o.lock_mode,
        "retain_until": data_time(o.retention_until),
        "legal_hold": o.legal_hold,
        "job": work.job.id,
    }


def _held(got: S3Object, want: _Want) -> bool:
    """The legal hold the server reports (what was asked when it does not say)."""
    return bool(got.legal_hold) if got.legal_hold is not None else want.legal_hold
