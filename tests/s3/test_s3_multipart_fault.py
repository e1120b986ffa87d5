"""Issue 18: the S3 server goes away in the middle of a multipart upload.

The server is stopped (its socket closed: clients get "connection refused") right after it
acknowledged the first part of an original's upload, at the ``S3Store(on_part=...)`` seam, so
the upload is cut between parts every run. "Killed" is a stop here: a SIGKILL of the moto
child would also wipe its in-memory buckets, which no real S3 outage does; a stopped server
keeps its objects and its unfinished multipart uploads, as a real one does after a restart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import pytest

from ingest.cli.audit import verify_run
from ingest.context import Context, open_context
from ingest.pipeline.run import ingest_device
from storage.blobs.s3store import S3Store
from storage.catalog.jobs import JobOps
from tests.proxies.conftest import drain
from tests.s3.conftest import attempt_uploads, bucket_name, s3_settings
from tests.s3server import S3Server

pytestmark = pytest.mark.xdist_group("s3")

MIB = 1 << 20


def _unfinished(s3: S3Store) -> list[str]:
    """Keys of the bucket's multipart uploads begun and neither completed nor aborted."""
    listed = s3.client.list_multipart_uploads(Bucket=s3.bucket)
    return [u["Key"] for u in listed.get("Uploads", [])]


def test_an_s3_server_gone_mid_multipart_upload_leaves_the_item_pending_then_it_uploads_once(
    tmp_path: Path, catalog_url: str, s3_server: S3Server, opened: list[Context]
) -> None:
    """Cut after part 1 of 3: the item stays pending and its upload job waits; when the
    server is back the retry uploads it once (its bytes and SHA-256 right, one 's3' stored
    event), no unfinished multipart upload is left in the bucket, 'verify --full' is clean."""
    bucket = bucket_name()
    s3_server.make_bucket(bucket, object_lock=True)
    settings = s3_settings(tmp_path / "home", catalog_url, s3_server.endpoint, bucket,
                           addressing_style="path", multipart_threshold_mib=8, part_size_mib=5,
                           connect_timeout_s=0.5, read_timeout_s=5, max_attempts=1)  # fmt: skip
    assert settings.store.s3 is not None
    cut: list[tuple[str, int]] = []

    def stop_after_first_part(key: str, number: int) -> None:
        if not cut and "/originals/" in f"/{key}" and number == 1:
            cut.append((key, number))
            s3_server.stop()

    base = open_context(settings, create=True)
    opened.append(base)
    ctx = dataclasses.replace(base, s3=S3Store(settings.store.s3, on_part=stop_after_first_part))
    camera = tmp_path / "camera" / "DCIM"
    camera.mkdir(parents=True)
    data = os.urandom(12 * MIB)  # three parts: 5 + 5 + 2 MiB
    (camera / "REC_BIG.MP4").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    assert ctx.s3 is not None
    try:
        report = ingest_device(ctx, camera.parent, serial="BWC-MP", officer=None, actor="test")
        assert [f.result for f in report.files] == ["stored"]  # filed locally: docking goes on
        attempt_uploads(ctx)  # the first try is cut after part 1
        assert cut == [(f"originals/sha256/{sha}", 1)]
        with ctx.catalog.read() as txn:
            [item] = txn.items()
            [job] = [j for j in JobOps(txn).jobs(kinds=["upload"]) if j.item_id == item.id]
        assert item.state == "pending" and item.durable_at is None
        assert job.state == "queued" and job.attempts >= 1 and job.last_error
    finally:
        if not s3_server.running:
            s3_server.start()
    # the server is back, holding the cut upload it could not be told to abort
    assert _unfinished(ctx.s3) == [f"originals/sha256/{sha}"]

    drain(ctx, max_attempts=20, retry_seconds=0.2)

    with ctx.catalog.read() as txn:
        [item] = txn.items()
        events = [(e.type, json.loads(e.data)) for e in txn.log.events_for_item(item.id)]
        objects = [o for o in txn.stored_objects() if o.backend == "s3"]
    assert item.state == "stored" and item.durable_at is not None
    assert [d.get("backend") for t, d in events if t == "stored"] == ["local", "s3"]
    [original] = [o for o in objects if o.role == "original"]
    assert ctx.s3.rehash(original.key, original.version_id) == (sha, len(data))
    head = ctx.s3.head(original.key, original.version_id)
    assert head is not None and head.lock_mode == "COMPLIANCE" and head.sha256 == sha
    assert _unfinished(ctx.s3) == [], "an unfinished multipart upload was left in the bucket"
    verified, _, _ = verify_run(ctx.settings, item=None, quick=False, full=True)
    assert verified.ok, verified.problems
    assert verified.checked.s3_rehashed == 1
