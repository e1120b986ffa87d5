"""Helpers of the proxy tests: ingest a folder, work the queue to empty in this process."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import pytest

from ingest.context import Context
from ingest.jobs.proxies import derived_store
from ingest.jobs.worker import WorkerPool
from ingest.pipeline.run import ingest_device
from storage.catalog.jobs import JobOps
from storage.records import Job


def ingest(ctx: Context, folder: Path, serial: str = "BWC-P1") -> None:
    ingest_device(ctx, folder, serial=serial, officer=None, actor="test")


def drain(ctx: Context, **worker: Any) -> WorkerPool:
    """Run the queue to empty, as 'evidock worker --drain' does (no wait between retries)."""
    settings = dataclasses.replace(ctx.settings.worker, **{"retry_seconds": 0.0, **worker})
    pool = WorkerPool(ctx, drain=True, settings=settings)
    pool.run()
    return pool


def jobs(ctx: Context) -> list[Job]:
    with ctx.catalog.read() as txn:
        return JobOps(txn).jobs()


def derived_path(ctx: Context, sha256: str) -> Path:
    return derived_store(ctx).path_for(sha256)


@pytest.fixture
def card(tmp_path: Path) -> Path:
    """An empty folder playing a camera's card."""
    root = tmp_path / "card" / "DCIM"
    root.mkdir(parents=True)
    return root


def put(card: Path, src: Path, name: str) -> Path:
    dest = card / name
    shutil.copy(src, dest)
    return dest
