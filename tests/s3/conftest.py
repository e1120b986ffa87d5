"""Helpers of the S3 tests: settings with an [s3] section against the tests' own S3 server."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.config import Settings, parse
from ingest.context import Context
from ingest.jobs.worker import WorkerPool
from storage.catalog.jobs import RUNNING, JobOps
from storage.catalog.objects import UPLOAD
from tests.procs import wait_until


def s3_settings(
    home: Path,
    catalog_url: str,
    endpoint: str,
    bucket: str,
    *,
    record: tuple[str, ...] = ("s3",),
    dock: str = "dock-test",
    **s3: Any,
) -> Settings:
    store: dict[str, Any] = {"system_of_record": list(record)}
    if s3.pop("release_local", False):
        store["release_local_after_upload"] = True
    raw = {
        "store": store,
        "s3": {"endpoint_url": endpoint, "bucket": bucket, "region": "us-east-1",
               "object_lock_mode": "COMPLIANCE", "retention_days": 1, **s3},
    }  # fmt: skip
    env = {"EVIDOCK_HOME": str(home), "EVIDOCK_CATALOG_URL": catalog_url,
           "EVIDOCK_DOCK_NAME": dock}  # fmt: skip
    return parse(raw, env=env, source="tests")


def s3_toml(endpoint: str, bucket: str, extra: str = "") -> str:
    """The configuration file of a child process: S3 alone as the record, this bucket."""
    return (
        '[store]\nsystem_of_record = ["s3"]\n'
        f'[s3]\nendpoint_url = "{endpoint}"\nbucket = "{bucket}"\nregion = "us-east-1"\n'
        'addressing_style = "path"\nretention_days = 1\nmax_attempts = 1\n' + extra
    )


def bucket_name() -> str:
    return f"evidence-{uuid.uuid4().hex[:12]}"


def attempt_uploads(ctx: Context, timeout: float = 60.0) -> list[str]:
    """Run workers until every upload job has been tried at least once and none is running,
    then stop them (a failed attempt waits a backoff of a second, doubling)."""
    settings = dataclasses.replace(ctx.settings.worker, retry_seconds=1.0, max_attempts=20)
    errors: list[str] = []  # what the metrics count: failures of a store, by backend
    pool = WorkerPool(ctx, settings=settings, on_storage_error=errors.append)

    def tried() -> bool:
        with ctx.catalog.read() as txn:
            jobs = JobOps(txn).jobs(kinds=[UPLOAD])
        return bool(jobs) and all(j.attempts >= 1 and j.state != RUNNING for j in jobs)

    pool.start()
    try:
        assert wait_until(tried, timeout), "upload jobs were not all attempted"
    finally:
        pool.stop()
        pool.join()
    return errors


@pytest.fixture
def opened() -> Iterator[list[Context]]:
    """Contexts a test opens, closed at its end."""
    ctxs: list[Context] = []
    yield ctxs
    for c in ctxs:
        c.close()
