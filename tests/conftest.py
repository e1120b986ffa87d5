"""Shared fixtures: real SQLite and PostgreSQL catalogs, generated media, the real-device corpus."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.config import Settings, parse
from ingest.context import Context, open_context
from ingest.media.simcam import make_clip, make_jpeg, make_wav, truncate
from storage.blobs.s3config import S3Config
from storage.blobs.s3store import S3Store
from support.pg import fresh_database, server_url
from tests.s3server import S3Server

ROOT = Path(__file__).resolve().parents[1]
# The suite reads English, the source language (issue 20): in-process commands and every child
# inherit it. The tests of the Chinese ask for it (--lang zh, EVIDOCK_LANG=zh).
# LANGUAGE too, for the children of tests that drop every EVIDOCK_ variable from their env.
os.environ["EVIDOCK_LANG"] = "en"
os.environ["LANGUAGE"] = "en"
REAL_MEDIA = ROOT.parent / "shared" / "media" / "real"
# Relative to now: generated recordings must stay inside the 24-hour offload window on any
# day the suite runs (fixed dates turned every clip 'late' a day after they were written).
CLIP_START = (datetime.now(UTC) - timedelta(hours=2)).replace(second=0, microsecond=0)
CAMERA_ZONE = ZoneInfo("Asia/Shanghai")


def camera_name(prefix: str, at: datetime, ext: str) -> str:
    """A file name as the camera writes it: its local start time (Asia/Shanghai clock)."""
    return f"{prefix}_{at.astimezone(CAMERA_ZONE):%Y%m%d_%H%M%S}.{ext}"


CLIP1 = camera_name("REC", CLIP_START, "MP4")
CLIP2 = camera_name("REC", CLIP_START + timedelta(minutes=5), "MP4")
WAV = camera_name("AUD", CLIP_START + timedelta(minutes=10), "WAV")
CUT = camera_name("REC", CLIP_START + timedelta(minutes=20), "MP4")
LATER = camera_name("REC", CLIP_START + timedelta(minutes=30), "MP4")


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Every thread a test starts must be joined by the time it ends."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads leaked: {[t.name for t in leaked]}"


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    with server_url(os.environ.get("EVIDOCK_TEST_DATABASE_URL")) as (url, _srv):
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    admin = request.getfixturevalue("pg_admin")
    with fresh_database(admin) as url:
        yield url


def make_settings(home: Path, catalog_url: str, dock: str = "dock-test") -> Settings:
    return parse(
        {},
        env={
            "EVIDOCK_HOME": str(home),
            "EVIDOCK_CATALOG_URL": catalog_url,
            "EVIDOCK_DOCK_NAME": dock,
        },
        source="tests",
    )


@pytest.fixture
def settings(tmp_path: Path, catalog_url: str) -> Settings:
    return make_settings(tmp_path / "home", catalog_url)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    """A new dock: what 'evidock init' makes (data dir, catalog, key), opened."""
    c = open_context(settings, create=True)
    yield c
    c.close()


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small generated recordings, made once per test session with ffmpeg and exiftool."""
    d = tmp_path_factory.mktemp("media")
    clip = make_clip(d / "clip.mp4", start=CLIP_START, seconds=2, size="320x240")
    clip2 = make_clip(
        d / "clip2.mp4", start=CLIP_START + timedelta(minutes=5), seconds=2, size="320x240"
    )
    wav = make_wav(d / "audio.wav", seconds=1)
    jpg = make_jpeg(d / "photo.jpg", taken=CLIP_START + timedelta(minutes=10))
    cut = make_clip(
        d / "cut.mp4", start=CLIP_START + timedelta(minutes=20), seconds=2, size="320x240",
        faststart=False,
    )  # fmt: skip
    truncate(cut, 0.3)
    garbage = d / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01not a video at all" * 100)
    return {"clip": clip, "clip2": clip2, "wav": wav, "jpg": jpg, "cut": cut, "garbage": garbage}


@pytest.fixture
def camera(tmp_path: Path, media: dict[str, Path]) -> Path:
    """A folder laid out like a docked body camera, with generated media."""
    return lay_out_camera(tmp_path / "camera", media)


def lay_out_camera(root: Path, media: dict[str, Path]) -> Path:
    """``root`` laid out like a docked body camera: two clips, a photo, an audio note."""
    dcim = root / "DCIM" / "100MEDIA"
    dcim.mkdir(parents=True)
    shutil.copy2(media["clip"], dcim / CLIP1)
    shutil.copy2(media["clip2"], dcim / CLIP2)
    shutil.copy2(media["jpg"], dcim / "IMG_0001.JPG")
    (root / "AUDIO").mkdir()
    shutil.copy2(media["wav"], root / "AUDIO" / WAV)
    return root


@pytest.fixture(scope="session")
def real_media() -> Path:
    if not REAL_MEDIA.is_dir():
        pytest.skip(f"real-device corpus not present at {REAL_MEDIA}")
    return REAL_MEDIA


# -- S3 (issue 8): a real S3-compatible server, moto's, in a child process (tests/s3server.py) --


@pytest.fixture(scope="session")
def s3_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto S3 server per test session, so one per xdist worker (log: moto-s3.log in the
    session's base temp dir). For the session, this process's AWS credential chain points
    at it (AWS_ACCESS_KEY_ID etc.), so code under test needs nothing more than the endpoint."""
    server = S3Server(log=tmp_path_factory.getbasetemp() / "moto-s3.log")
    with pytest.MonkeyPatch.context() as mp:
        server.apply_env(mp.setenv, mp.delenv)
        yield server
    server.close()


@pytest.fixture
def s3_server(s3_server_process: S3Server) -> Iterator[S3Server]:
    """The session's S3 server (``.endpoint``, ``.env``, ``.make_bucket``, ``.stop``,
    ``.start``); if a test leaves it stopped (an outage), it is started again afterwards."""
    yield s3_server_process
    if not s3_server_process.running:
        s3_server_process.start()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The variables a child process needs to reach the server (``child_env(..., **s3_env)``),
    also set in this process for the test (whatever earlier tests did to them)."""
    s3_server.apply_env(monkeypatch.setenv, monkeypatch.delenv)
    return s3_server.env


@pytest.fixture
def s3_bucket(s3_server: S3Server, s3_env: dict[str, str]) -> str:
    """A fresh bucket of its own, versioned, with Object Lock enabled."""
    name = f"evidock-{uuid.uuid4().hex[:20]}"
    s3_server.make_bucket(name, object_lock=True)
    return name


@pytest.fixture
def s3_config(s3_server: S3Server, s3_bucket: str) -> S3Config:
    """[s3] for ``s3_bucket``: COMPLIANCE retention, multipart from 8 MiB in 5 MiB parts."""
    return s3_server.config(s3_bucket)


@pytest.fixture
def s3(s3_config: S3Config) -> Iterator[S3Store]:
    """An S3Store on a fresh Object Lock bucket of the test server."""
    store = S3Store(s3_config)
    yield store
    store.close()
