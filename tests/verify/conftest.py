"""Fixtures of the custodian's tools: an ingested catalog, raw SQL for tampering, the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingest.cli.main import main
from ingest.config import Settings
from ingest.context import Context
from ingest.pipeline.run import ingest_device
from tests.verify.tamper import Cli, Sql


@pytest.fixture
def ingested(ctx: Context, camera: Path) -> Context:
    """Four recordings of camera CAM-1 ingested: events 0 (docked) to 12, checkpoint at 13.

    Items 1..4 own events (1, 2, 3), (4, 5, 6), (7, 8, 9), (10, 11, 12).
    """
    report = ingest_device(ctx, camera, serial="CAM-1", officer=None, actor="user:test")
    assert report.summary()["stored"] == 4 and report.checkpoint_size == 13
    return ctx


@pytest.fixture
def sql(ctx: Context) -> Sql:
    """Run one statement on the catalog database behind evidock's back, as a tamperer would."""

    def run(statement: str, **params: Any) -> list[Any]:
        with ctx.catalog.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    return run


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """``evidock ARGS...`` against the test's data dir: returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("EVIDOCK_HOME", str(settings.data_dir))
    monkeypatch.setenv("EVIDOCK_CATALOG_URL", settings.catalog_url)
    monkeypatch.setenv("EVIDOCK_DOCK_NAME", settings.dock.name)
    monkeypatch.delenv("EVIDOCK_CONFIG", raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = main(list(argv))
        out = capsys.readouterr()
        return rc, out.out, out.err

    return run
