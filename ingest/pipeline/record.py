"""The one catalog transaction that records an acquired file: its item, its stored object,
its 'acquired', 'verified' and 'stored' custody events, and its jobs (review proxy, upload).

All of it commits together or not at all: a crash before the commit leaves the file on the
device for a rerun (its filed object is found again by its hash), after it the complete
record. The same bytes recorded at the same device path by another run meanwhile are
'already' stored, never a second item.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace

from devices.walk import FileEntry
from i18n import _
from ingest.context import Context
from ingest.media.kinds import wants_proxy
from ingest.output import exact_name
from ingest.pipeline.acquire import Acquired
from ingest.pipeline.docking import Docking
from ingest.pipeline.facts import FLAG_OFFICER_MISMATCH, OFFICER_FILENAME, attribute_officer
from ingest.pipeline.results import FileOutcome, FileResult
from storage.catalog.jobs import JobKind, JobOps, worker_node
from storage.catalog.objects import PENDING, STORED, ObjectOps, queue_upload
from storage.catalog.session import Transaction
from storage.errors import NotFound, StoreWriteError
from storage.records import MediaFacts, NewItem, StoredObject
from verify.log.events import EventType, data_time


@dataclass(frozen=True, slots=True)
class Filed:
    """A file acquired as ``got``, probed (``facts``) and filed at ``key``; ``why`` notes a
    collision with an earlier copy, ``claimed_serial`` the other device its name claims,
    ``claimed_officer`` the officer number it carries (GA/T 947)."""

    entry: FileEntry
    got: Acquired
    facts: MediaFacts
    key: str
    why: str | None
    claimed_serial: str | None
    claimed_officer: str | None = None


def record_item(ctx: Context, docking: Docking, filed: Filed) -> FileResult:
    """Record ``filed`` in a transaction of its own."""
    with ctx.catalog.write() as txn:
        return record_in(txn, ctx, docking, filed)


def record_in(txn: Transaction, ctx: Context, docking: Docking, filed: Filed) -> FileResult:
    """Record ``filed`` in ``txn``, which may hold other files' records too (a group,
    ``pipeline.overlap``): it commits with them or not at all."""
    entry, got, facts = filed.entry, filed.got, filed.facts
    key, why = filed.key, filed.why
    claimed_serial, claimed_officer = filed.claimed_serial, filed.claimed_officer
    sha256, size, mtime_ns = got.sha256, got.size, got.mtime_ns
    now = ctx.clock()
    # filed locally: durable now when the local store is (part of) the system of record; with
    # S3 alone it is pending (its offload clock running) until a worker has uploaded it
    local_is_record = ctx.store.backend in ctx.settings.store.system_of_record
    officer_id, assigned = docking.officer_id, docking.officer_badge
    if officer_id is None and facts.recorded_start is not None:
        holder = docking.holder(facts.recorded_start)  # the holds read as it docked
        officer_id, assigned = (holder.id, holder.badge) if holder else (None, None)
    named = None
    if claimed_officer is not None:
        with contextlib.suppress(NotFound):
            named = txn.officer(claimed_officer)
    who = attribute_officer(
        assigned=assigned if officer_id is not None else None,
        claimed=claimed_officer,
        claimed_registered=named is not None,
    )
    badge = assigned if officer_id is not None else None  # the item's officer, by badge
    if who.source == OFFICER_FILENAME and named is not None:
        officer_id, badge = named.id, named.badge
    if who.mismatch:
        facts = replace(facts, flags=(*facts.flags, FLAG_OFFICER_MISMATCH))
    state = STORED if local_is_record else PENDING
    durable_at = now if local_is_record else None
    item_id = txn.add_item(
        NewItem(
            sha256=sha256,
            size=size,
            device_id=docking.device.id,
            officer_id=officer_id,
            session_id=docking.session,
            original_path=entry.path,
            original_path_display=entry.display,
            source_mtime_ns=mtime_ns,
            acquired_at=now,
            facts=facts,
            source_inode=got.source.inode,
            source_ctime_ns=got.source.ctime_ns,
        ),
        state=state,
        durable_at=durable_at,
    )
    if item_id is None:  # these bytes at this path are in already (another run's record)
        at_path = txn.items_at_path(docking.device.id, entry.path)
        same = [i for i in at_path if i.sha256 == sha256]
        return FileResult(
            path=entry.display,
            result=FileOutcome.ALREADY,
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
                _("the local copy of {sha256} was released while this file was filed").format(
                    sha256=sha256
                ),
                hint=_("Nothing was recorded; the file stays on the device for the next docking."),
            )
        ObjectOps(txn).mark_released(ctx.store.backend, sha256, None)  # it is back
    common = {"sha256": sha256, "size": size, "device": docking.device.serial}
    claimed: dict[str, str | None] = {}
    if claimed_serial is not None:
        claimed["claimed_serial"] = claimed_serial
    if who.claimed is not None:
        claimed["claimed_officer"] = who.claimed
        claimed["officer_source"] = who.source
    ctx.custody.append(
        txn,
        type=EventType.ACQUIRED,
        actor=docking.actor,
        item=item_id,
        data={
            **common,
            "session": docking.session,
            "path": entry.display,
            **exact_name(entry.path),
            "source_mtime_ns": str(mtime_ns),  # beyond the I-JSON integer range
            "officer": badge,
            "recorded_start": data_time(facts.recorded_start),
            "recorded_end": data_time(facts.recorded_end),
            "time_source": facts.time_source,
            "flags": list(facts.flags),
            "probe_errors": list(facts.probe_errors),
            "state": state,
            "durable_at": data_time(durable_at),
            **claimed,
        },
    )
    ctx.custody.append(
        txn,
        type=EventType.VERIFIED,
        actor=docking.actor,
        item=item_id,
        data={**common, "method": "read-back after page-cache drop"},
    )
    ctx.custody.append(
        txn,
        type=EventType.STORED,
        actor=docking.actor,
        item=item_id,
        data={**common, "backend": ctx.store.backend, "key": key},
    )
    # jobs in the item's own transaction (a crash cannot lose them), for this dock's
    # workers unless the store is shared: issue 5, the review proxy; issue 8, to S3
    shared, dock = ctx.settings.store.shared, ctx.dock.name
    if wants_proxy(facts):
        JobOps(txn).enqueue(
            kind=JobKind.TRANSCODE, item_id=item_id, now=now,
            node=worker_node(shared=shared, dock=dock),
        )  # fmt: skip
    queue_upload(
        txn, item_id, object_store=ctx.s3 is not None, shared=shared, now=now,
        ingested_by=dock,
    )  # fmt: skip
    return FileResult(
        path=entry.display,
        result=FileOutcome.STORED,
        item=item_id,
        sha256=sha256,
        size=size,
        flags=facts.flags,
        reason="; ".join([*filter(None, [why]), *facts.probe_errors]) or None,
        raw_path=entry.path,
    )
