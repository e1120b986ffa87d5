"""Issue 8 end to end against a real S3 server: ingest spools locally, upload jobs put the
originals and proxies in S3 under Object Lock, the offload clock stops only then, legal holds
follow open cases, outages and lying servers leave items pending, and verify checks the bucket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingest.cases.lifecycle import log_case, log_officer
from ingest.cases.links import link_items
from ingest.cases.overdue import build_report
from ingest.cli.audit import verify_run
from ingest.context import Context, open_context
from ingest.jobs.proxies import Work
from ingest.jobs.steps import JobStep
from ingest.jobs.uploads import release_local, sync_to_s3
from ingest.pipeline.run import ingest_device
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from storage.catalog.jobs import JobOps
from storage.catalog.objects import ObjectOps
from storage.records import Item, StoredObject
from tests.proxies.conftest import drain, jobs
from tests.s3.conftest import attempt_uploads, bucket_name, s3_settings

pytestmark = pytest.mark.xdist_group("s3")


def _open(tmp_path: Path, catalog_url: str, server: Any, opened: list[Context],
          **s3: Any) -> Context:  # fmt: skip
    """A data dir whose [s3] is a fresh Object Lock bucket of the tests' server."""
    bucket = bucket_name()
    server.make_bucket(bucket, object_lock=True)
    settings = s3_settings(tmp_path / "home", catalog_url, server.endpoint, bucket, **s3)
    ctx = open_context(settings, create=True)
    opened.append(ctx)
    return ctx


def _dock(ctx: Context, camera: Path, **kw: Any) -> Any:
    return ingest_device(ctx, camera, serial="BWC-S3", officer=None, actor="test", **kw)


def _items(ctx: Context) -> list[Item]:
    with ctx.catalog.read() as txn:
        return txn.items()


def _objects(ctx: Context, backend: str) -> list[StoredObject]:
    with ctx.catalog.read() as txn:
        return [o for o in txn.stored_objects() if o.backend == backend]


def _events(ctx: Context, item_id: int) -> list[tuple[str, dict[str, Any]]]:
    with ctx.catalog.read() as txn:
        return [(e.type, json.loads(e.data)) for e in txn.log.events_for_item(item_id)]


def test_ingest_spools_then_uploads_with_checksums_retention_and_events(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    _dock(ctx, camera)
    before = _items(ctx)
    assert len(before) == 4
    # S3 alone is the system of record: filed locally, not yet offloaded
    assert {i.state for i in before} == {"pending"} and all(i.durable_at is None for i in before)

    drain(ctx)

    after = {i.id: i for i in _items(ctx)}
    assert {i.state for i in after.values()} == {"stored"}
    s3 = ctx.s3
    assert s3 is not None
    originals = {o.sha256: o for o in _objects(ctx, "s3") if o.role == "original"}
    assert set(originals) == {i.sha256 for i in after.values()}
    now = datetime.now(UTC)
    for item in after.values():
        assert item.durable_at is not None and item.durable_at > item.acquired_at
        o = originals[item.sha256]
        assert o.key == f"originals/sha256/{item.sha256}"
        head = s3.head(o.key, o.version_id)
        assert head is not None
        assert (head.size, head.sha256, head.version_id) == (item.size, item.sha256, o.version_id)
        assert head.checksum_sha256 == o.checksum and o.checksum
        assert head.lock_mode == "COMPLIANCE" == o.lock_mode
        assert head.retain_until is not None
        assert now + timedelta(hours=23) < head.retain_until < now + timedelta(days=1, hours=1)
        stored = [d for t, d in _events(ctx, item.id) if t == "stored" and d["backend"] == "s3"]
        assert len(stored) == 1
        assert stored[0]["version_id"] == o.version_id
        assert stored[0]["checksum_sha256"] == o.checksum
    # the proxies went up too, under derived/
    derived = [o for o in _objects(ctx, "s3") if o.role == "derived"]
    assert derived and all(o.key.startswith("derived/sha256/") for o in derived)
    # every checkpoint is in the bucket, byte for byte its signed note
    with ctx.catalog.read() as txn:
        published = ObjectOps(txn).published_checkpoints()
        assert not ObjectOps(txn).unpublished_checkpoints()
        assert JobOps(txn).left(("upload", "transcode")) == 0
    assert published
    for cp in published:
        assert s3.read_bytes(s3.checkpoint_key(cp.name)) == cp.note.encode()

    report, _, _ = verify_run(ctx.settings, item=None, quick=False, full=True)
    assert report.ok, report.problems
    assert report.checked.s3_rehashed == len(originals)


def test_a_locked_original_cannot_be_deleted(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    _dock(ctx, camera)
    drain(ctx)
    o = next(o for o in _objects(ctx, "s3") if o.role == "original")
    assert ctx.s3 is not None
    client = ctx.s3.client
    with pytest.raises(Exception, match="AccessDenied"):  # the server's ClientError
        client.delete_object(Bucket=ctx.s3.bucket, Key=o.key, VersionId=o.version_id)
    with pytest.raises(Exception, match="AccessDenied"):  # COMPLIANCE: no bypass
        client.delete_object(
            Bucket=ctx.s3.bucket,
            Key=o.key,
            VersionId=o.version_id,
            BypassGovernanceRetention=True,
        )
    assert ctx.s3.head(o.key, o.version_id) is not None
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.ok, report.problems


def test_legal_hold_is_set_while_linked_to_an_open_case_and_released_when_archived(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    _dock(ctx, camera)
    drain(ctx)
    item = _items(ctx)[0]
    s3 = ctx.s3
    assert s3 is not None
    original = next(o for o in _objects(ctx, "s3") if o.sha256 == item.sha256)
    assert s3.head(original.key, original.version_id).legal_hold is False  # type: ignore[union-attr]

    now = datetime.now(UTC)
    with ctx.catalog.write() as txn:
        officer = txn.add_officer(
            badge="J0042",
            name="王伟",
            unit="凤里街道综合执法队",
            certificate_no="CERT-J0042",
            now=now - timedelta(days=30),
        )
        log_officer(txn, ctx, officer, actor="user:test")  # as 'evidock officer add' does
        case = CaseOps(txn).add_case(
            NewCase(number="2026-0042", title="占道经营", enforcement_type="penalty",
                    procedure="general", handler="J0042", reviewer=None, approver=None,
                    confidentiality="personal-privacy", opened_at=now - timedelta(hours=3),
                    opened_by="test")
        )  # fmt: skip
        log_case(txn, ctx, case, "case_opened")  # as 'evidock case open' does (issue 14)
    link_items(ctx, number="2026-0042", item_ids=[item.id], stage="investigation",
               activity_id=None, why="test", actor="test")  # fmt: skip
    drain(ctx)
    head = s3.head(original.key, original.version_id)
    assert head is not None and head.legal_hold is True
    assert [t for t, _ in _events(ctx, item.id)].count("legal_hold_set") == 1
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.ok, report.problems

    with ctx.catalog.write() as txn:
        ops = CaseOps(txn)
        closed = ops.close_case("2026-0042", at=now, due=now + timedelta(days=30), by="test")
        log_case(txn, ctx, closed, "case_closed")
        log_case(txn, ctx, ops.archive_case("2026-0042", at=now, by="test"), "case_archived")
    # the archive command queues the release; here the test queues what it would
    with ctx.catalog.write() as txn:
        ctx.queue_upload(txn, item.id)
    drain(ctx)
    head = s3.head(original.key, original.version_id)
    assert head is not None and head.legal_hold is False
    assert [t for t, _ in _events(ctx, item.id)].count("legal_hold_released") == 1
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.ok, report.problems


def test_s3_outage_keeps_items_pending_and_they_upload_when_it_is_back(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    ctx = _open(tmp_path, catalog_url, s3_server, opened,
                connect_timeout_s=0.5, read_timeout_s=2, max_attempts=1)  # fmt: skip
    s3_server.stop()
    try:
        report = _dock(ctx, camera)
        assert {f.result for f in report.files} == {"stored"}  # docking is not held up
        # one attempt each: every upload fails and waits for its retry
        errors = attempt_uploads(ctx)
    finally:
        s3_server.start()
    items = _items(ctx)
    assert len(items) == 4 and all(i.durable_at is None for i in items)
    with ctx.catalog.read() as txn:
        waiting = JobOps(txn).jobs(kinds=["upload"], states=["queued"])
    assert waiting and all("s3" in j.last_error.lower() or "reach" in j.last_error.lower()
                           for j in waiting)  # fmt: skip
    assert not _objects(ctx, "s3")
    assert errors and set(errors) == {"s3"}  # evidock_storage_errors_total{backend="s3"}
    spool = build_report(ctx, actor="test").spool  # what 'evidock overdue' shows
    assert spool.count == 4 and spool.oldest_start is not None
    # the store is back: the retries (after their backoff) upload everything
    drain(ctx, max_attempts=20, retry_seconds=0.2)
    items = _items(ctx)
    assert all(i.state == "stored" and i.durable_at is not None for i in items)
    assert {o.sha256 for o in _objects(ctx, "s3") if o.role == "original"} == {
        i.sha256 for i in items
    }
    report_v, _, _ = verify_run(ctx.settings, item=None, quick=False, full=True)
    assert report_v.ok, report_v.problems


def test_a_server_reporting_a_wrong_checksum_fails_the_upload_which_is_retried(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    assert ctx.s3 is not None
    lies = {"n": 0}

    def lie(parsed: dict[str, Any], **_: Any) -> None:
        if parsed.get("ChecksumSHA256"):
            parsed["ChecksumSHA256"] = "AAAA" + parsed["ChecksumSHA256"][4:]
            lies["n"] += 1

    events = ctx.s3.client.meta.events
    events.register("after-call.s3.HeadObject", lie)
    try:
        _dock(ctx, camera)
        attempt_uploads(ctx)
    finally:
        events.unregister("after-call.s3.HeadObject", lie)
    # how many HEADs the client sends (retries, derived media) is botocore's business: what
    # counts is that the lie was told, and that nothing was recorded from it (below)
    assert lies["n"] > 0
    assert all(i.durable_at is None for i in _items(ctx))
    assert not _objects(ctx, "s3")  # nothing recorded from a lying server
    with ctx.catalog.read() as txn:
        failed = [j for j in JobOps(txn).jobs(kinds=["upload"]) if j.item_id is not None]
    assert failed and all("checksum" in j.last_error.lower() for j in failed)
    drain(ctx, max_attempts=20, retry_seconds=0.2)
    assert all(i.durable_at is not None for i in _items(ctx))
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.ok, report.problems


def test_local_copy_is_released_only_after_the_s3_copy_is_verified(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    ctx = _open(tmp_path, catalog_url, s3_server, opened, release_local=True)
    _dock(ctx, camera)
    items = _items(ctx)
    assert all(ctx.store.path_for(i.sha256).exists() for i in items)

    drain(ctx)

    items = _items(ctx)
    assert all(i.state == "stored" for i in items)
    for i in items:
        assert not ctx.store.path_for(i.sha256).exists()
        types = [t for t, _ in _events(ctx, i.id)]
        # uploaded, its proxies made from the local copy, then released
        assert types.index("stored", types.index("stored") + 1) < types.index("released_local")
        assert "transcoded" in types and types.index("transcoded") < types.index("released_local")
    local = _objects(ctx, "local")
    assert local and all(o.released_at is not None for o in local)
    report, _, _ = verify_run(ctx.settings, item=None, quick=False, full=True)
    assert report.ok, report.problems
    assert report.checked.objects_rehashed == len(items)  # the S3 copies, downloaded


def test_verify_reports_an_s3_object_gone_or_without_its_lock(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    # uploaded without retention (object_lock_mode = ""), so the test can delete one version
    ctx = _open(tmp_path, catalog_url, s3_server, opened, object_lock_mode="")
    _dock(ctx, camera)
    drain(ctx)
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.ok, report.problems
    gone = next(o for o in _objects(ctx, "s3") if o.role == "original")
    assert ctx.s3 is not None
    ctx.s3.client.delete_object(Bucket=ctx.s3.bucket, Key=gone.key, VersionId=gone.version_id)

    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    missing = [p for p in report.problems if p.code == "s3-object-missing"]
    assert len(missing) == 1 and gone.key in missing[0].subject
    assert missing[0].item is not None
    # the same catalog under a configuration that asks for Object Lock: every object lacks it
    locked = s3_settings(tmp_path / "home", catalog_url, s3_server.endpoint, ctx.s3.bucket)
    report, _, _ = verify_run(locked, item=None, quick=True)
    codes = [p.code for p in report.problems]
    assert codes.count("s3-lock-missing") == len(_objects(ctx, "s3")) - 1
    assert not report.ok


def test_s3_as_a_replica_records_replicated_events_and_leaves_the_offload_clock_alone(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    """With the local store as the record, items are durable at ingest; S3 is a replica."""
    ctx = _open(tmp_path, catalog_url, s3_server, opened, record=("local",))
    _dock(ctx, camera)
    durable = {i.id: i.durable_at for i in _items(ctx)}
    assert all(durable.values())
    drain(ctx)
    for i in _items(ctx):
        assert i.durable_at == durable[i.id]
        types = [(t, d.get("backend")) for t, d in _events(ctx, i.id)]
        assert ("replicated", "s3") in types and ("stored", "s3") not in types
    report, _, _ = verify_run(ctx.settings, item=None, quick=False)
    assert report.ok, report.problems
    replicas = _objects(ctx, "s3")
    # every replica checked; how many there are depends on whether two clips' proxies came
    # out byte-identical (one object then serves both), so the count is not fixed
    assert report.checked.s3_objects == len(replicas), replicas
    assert {o.sha256 for o in replicas if o.role == "original"} == {i.sha256 for i in _items(ctx)}


def test_a_device_is_wiped_only_once_its_files_are_verified_in_s3(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    """With S3 as the record, a docking that asks to wipe leaves every file while it is only
    in the spool; after the upload the next docking re-hashes the S3 copies and wipes."""
    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    files = sorted(p for p in camera.rglob("*") if p.is_file())
    _dock(ctx, camera, wipe=True)
    assert all(p.exists() for p in files)  # pending: not verified in the system of record
    drain(ctx)
    # the camera's files were written moments ago: settling is tested in test_wipe, not here
    _dock(ctx, camera, wipe=True, settle_seconds=0)
    assert not any(p.exists() for p in files)
    for i in _items(ctx):
        wiped = [d for t, d in _events(ctx, i.id) if t == "wiped_from_device"]
        assert len(wiped) == 1 and wiped[0]["verified_in"] == ["s3"]


def test_items_with_the_same_bytes_each_get_their_s3_event_when_they_become_durable(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    """Two cameras holding one identical clip: one upload makes both durable, and each item's
    history says so in the transaction that changed it (never a state change without one)."""
    import shutil

    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    clip = next(camera.rglob("*.MP4"))
    twin = tmp_path / "twin" / "DCIM"
    twin.mkdir(parents=True)
    shutil.copy2(clip, twin / clip.name)
    _dock(ctx, camera)
    ingest_device(ctx, twin.parent, serial="BWC-TWIN", officer=None, actor="test")
    items = _items(ctx)
    same = [i for i in items if i.sha256 == items[-1].sha256]
    assert len(same) == 2 and all(i.state == "pending" for i in same)

    def s3_events(item_id: int) -> int:
        return sum(t == "stored" and d["backend"] == "s3" for t, d in _events(ctx, item_id))

    # only the first item's upload job runs: both items change state, both get their event
    job = None
    while job is None or job.item_id != same[0].id:
        with ctx.catalog.write() as txn:
            if job is not None:
                JobOps(txn).release(job.id, owner="t", now=ctx.clock())
            job = JobOps(txn).claim(owner="t", kinds=["upload"], now=ctx.clock(), lease_s=60,
                                    max_attempts=3)  # fmt: skip
        assert job is not None
    sync_to_s3(ctx, Work(job=job, owner="t", settings=ctx.settings.worker))
    assert all(i.state == "stored" for i in _items(ctx) if i.sha256 == same[0].sha256)
    assert [s3_events(i.id) for i in same] == [1, 1]
    drain(ctx)  # the second item's own job finds it done: no second event
    assert [s3_events(i.id) for i in same] == [1, 1]
    report, _, _ = verify_run(ctx.settings, item=None, quick=True)
    assert report.ok, report.problems


def test_bytes_docked_again_between_a_release_and_its_unlink_keep_their_local_copy(
    tmp_path: Path, catalog_url: str, s3_server: Any, camera: Path, opened: list[Context]
) -> None:
    """A release commits, then unlinks the local copy. An ingest of the same bytes that
    records in between finds the copy still there and marks it back: the unlink that follows
    must leave it (the catalog says it is here), and verify stays clean."""
    import shutil

    ctx = _open(tmp_path, catalog_url, s3_server, opened)
    _dock(ctx, camera)
    drain(ctx)  # uploaded and transcoded; not released ([store] release_local_after_upload off)
    item = _items(ctx)[0]
    path = ctx.store.path_for(item.sha256)
    twin = tmp_path / "twin" / "DCIM"
    docked: list[Any] = []

    def dock_the_twin(step: str) -> None:
        if step != JobStep.RELEASED:
            return
        assert path.exists(), "the release's unlink comes after this point"
        twin.mkdir(parents=True)
        shutil.copyfile(path, twin / "REC_TWIN.MP4")
        docked.append(ingest_device(ctx, twin.parent, serial="BWC-TWIN", officer=None,
                                    actor="test"))  # fmt: skip

    assert ctx.s3 is not None
    work = Work(job=jobs(ctx)[0], owner="t", settings=ctx.settings.worker)
    assert release_local(ctx, work, ctx.s3, item.sha256, on_step=dock_the_twin)
    assert docked and docked[0].count("stored") == 1
    local = [o for o in _objects(ctx, "local") if o.sha256 == item.sha256]
    assert [o.released_at for o in local] == [None], "an ingest brought the bytes back"
    assert path.exists(), "the catalog says the local copy is here: it must be"
    report, _, _ = verify_run(ctx.settings, item=None, quick=False, full=True)
    assert report.ok, report.problems
