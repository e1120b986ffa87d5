"""Fixtures for cases and compliance: clips recorded 30 h ago (and one by a camera whose clock
says 2099), cameras laid out from them, registered officers and devices, the CLI in-process."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.cases.lifecycle import log_assignment, log_device, log_officer
from ingest.cases.links import AfterIngest, after_ingest
from ingest.cli.main import build_parser
from ingest.config import Settings
from ingest.context import Context
from ingest.media.simcam import make_clip
from ingest.output import Output
from ingest.pipeline.run import IngestReport, ingest_device

NOW = datetime.now(UTC).replace(microsecond=0)
OLD_START = NOW - timedelta(hours=30)  # recorded 30 h before the tests run
CLIP_SECONDS = 2
FUTURE_START = datetime(2099, 1, 1, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Clip:
    path: Path
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=CLIP_SECONDS)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Clip]:
    d = tmp_path_factory.mktemp("old-clips")
    made = {
        "old": OLD_START,
        "old2": OLD_START + timedelta(minutes=20),
        "older": OLD_START - timedelta(hours=6),
        "47h": NOW - timedelta(hours=47),
        "future": FUTURE_START,
        "fresh": NOW - timedelta(hours=1),
    }
    return {
        name: Clip(
            path=make_clip(d / f"{name}.mp4", start=t, seconds=CLIP_SECONDS, size="160x120"),
            start=t,
        )
        for name, t in made.items()
    }


def lay_out(root: Path, *pairs: tuple[str, Clip], mtime: datetime | None = None) -> Path:
    """A camera folder holding the clips; each file's mtime is its recording end (as a camera
    writes it) unless ``mtime`` says otherwise."""
    media = root / "DCIM" / "100MEDIA"
    media.mkdir(parents=True, exist_ok=True)
    for name, clip in pairs:
        dest = media / name
        shutil.copyfile(clip.path, dest)
        t = (mtime or clip.end).timestamp()
        os.utime(dest, (t, t))
    return root


def register(
    ctx: Context, *, badge: str, serial: str | None = None, since: timedelta = timedelta(days=10)
) -> None:
    """An officer and (optionally) a body camera in service (documented), registered and
    assigned ``since`` ago, each with its custody event as the registry commands record them."""
    start = ctx.clock() - since
    with ctx.catalog.write() as txn:
        officer = txn.add_officer(badge=badge, name=f"Officer {badge}", unit="",
                                  certificate_no="", now=start)  # fmt: skip
        log_officer(txn, ctx, officer, actor="user:test")
        if serial is not None:
            device = txn.add_device(
                serial=serial,
                kind="body-camera",
                vendor="",
                model="",
                profile="",
                registered=True,
                now=start,
                in_service_since=start,
            )
            log_device(txn, ctx, device, actor="user:test")
            txn.assign_device(serial=serial, badge=badge, start=start)
            log_assignment(txn, ctx, serial=serial, badge=badge, start=start, actor="user:test")


def dock(ctx: Context, root: Path, serial: str, **kw: object) -> tuple[IngestReport, AfterIngest]:
    """Ingest a camera and run the hook the pipeline calls after a docking."""
    report = ingest_device(ctx, root, serial=serial, officer=None, actor="user:test")
    return report, after_ingest(ctx, report.session, actor="user:test", **kw)  # type: ignore[arg-type]


@pytest.fixture
def cli(settings: Settings) -> Callable[..., tuple[int, str]]:
    """Run ``evidock ARGS`` in this process on the test's catalog; returns (exit code, stdout)."""

    def run(*argv: str) -> tuple[int, str]:
        args = build_parser().parse_args(list(argv))
        buf = io.StringIO()
        out = Output(json_mode=args.json, zone=settings.zone, stream=buf)
        code = args.func(args, out, settings)
        return code, buf.getvalue()

    return run


def at(t: datetime) -> str:
    return t.isoformat()
