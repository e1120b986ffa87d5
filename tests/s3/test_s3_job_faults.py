"""Issue 18, the upload job's cells: a worker SIGKILLed at each labelled point of an ``upload``
job (ingest.jobs.steps) and a second ``worker --drain`` finish the job once.

Each cell runs ``evidock worker --drain`` as a real process with ``EVIDOCK_TEST_STOP_AT`` at
the point; the worker kills itself there (the point is reached, not raced for). A second drain
without the hook takes the job over once its 2 s lease has run out. Then: every job done, one
S3 version and one stored/replicated event per object, its bytes and lock right, the legal
hold and the local copy's release recorded once and true, ``verify --full`` clean, and no
process of the killed worker left.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.cases.lifecycle import log_case, log_officer
from ingest.cases.links import link_items
from ingest.context import Context, open_context
from ingest.jobs.steps import JobStep
from ingest.media.simcam import make_wav
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from storage.catalog.jobs import DONE, JobOps
from tests.procs import child_env, init
from tests.s3.conftest import bucket_name, s3_settings
from tests.s3server import S3Server

pytestmark = pytest.mark.xdist_group("s3")

DOCK = "dock-j"
WORKER = ("--json", "worker", "--drain", "--concurrency", "1", "--metrics-address", "off")


def _config(endpoint: str, bucket: str, *, release: bool) -> str:
    return (
        '[store]\nsystem_of_record = ["s3"]\n'
        + ("release_local_after_upload = true\n" if release else "")
        + f'[s3]\nendpoint_url = "{endpoint}"\nbucket = "{bucket}"\nregion = "us-east-1"\n'
        'addressing_style = "path"\nobject_lock_mode = "COMPLIANCE"\nretention_days = 1\n'
        "max_attempts = 1\n"
        "[worker]\nretry_seconds = 0.05\npoll_seconds = 0.2\nlease_seconds = 2\n"
    )


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ingest.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=180, check=False)  # fmt: skip


def _processes_on(folder: Path) -> list[int]:
    """Processes whose command line names ``folder`` (ffmpeg and the like, children of a
    worker on this data dir)."""
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and str(folder) in (p / "cmdline").read_bytes().decode(
                "utf-8", "replace"
            ):
                found.append(int(p.name))
        except OSError:
            continue
    return found


def _link_to_an_open_case(ctx: Context, item_id: int) -> None:
    """An officer, an open case, the item linked to it: its bytes need a legal hold (the link
    queues the upload job that sets it), as 'officer add', 'case open', 'case link' do."""
    now = datetime.now(UTC)
    with ctx.catalog.write() as txn:
        officer = txn.add_officer(badge="J0018", name="Officer J0018", unit="Unit 18",
                                  certificate_no="C-18", now=now - timedelta(days=30))  # fmt: skip
        log_officer(txn, ctx, officer, actor="user:test")
        case = CaseOps(txn).add_case(
            NewCase(number="2026-0018", title="hold", enforcement_type="penalty",
                    procedure="general", handler="J0018", reviewer=None, approver=None,
                    confidentiality="personal-privacy", opened_at=now - timedelta(hours=3),
                    opened_by="test")
        )  # fmt: skip
        log_case(txn, ctx, case, "case_opened")
    link_items(ctx, number="2026-0018", item_ids=[item_id], stage="investigation",
               activity_id=None, why="test", actor="test")  # fmt: skip


# hold-set is the slowest cell (three drains: the upload, the hold, the rerun)
POINTS = [pytest.param(p, id=str(p), marks=[pytest.mark.slow] if p == JobStep.HOLD_SET else [])
          for p in JobStep]  # fmt: skip


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_at_each_point_of_an_upload_job_is_finished_once_by_the_next(
    tmp_path: Path,
    catalog_url: str,
    s3_server: S3Server,
    s3_env: dict[str, str],
    opened: list[Context],
    point: JobStep,
) -> None:
    """SIGKILL at the point, then a drain without the hook: the job done, each object once in
    S3 and in the log, hold and release recorded once and true, 'verify --full' exit 0."""
    hold, release = point == JobStep.HOLD_SET, point == JobStep.RELEASED
    bucket = bucket_name()
    s3_server.make_bucket(bucket, object_lock=True)
    home = tmp_path / "home"
    config = _config(s3_server.endpoint, bucket, release=release)
    env = init(child_env(home, catalog_url, dock=DOCK, config=config, **s3_env,
                         EVIDOCK_LANG="en"))  # fmt: skip
    make_wav(tmp_path / "card" / "AUD_0018.WAV", seconds=1.0)
    done = _run(env, "ingest", str(tmp_path / "card"), "--device", "REC-18")
    assert done.returncode == 0, done.stderr
    ctx = open_context(s3_settings(home, catalog_url, s3_server.endpoint, bucket, dock=DOCK,
                                   addressing_style="path", release_local=release))  # fmt: skip
    opened.append(ctx)
    with ctx.catalog.read() as txn:
        [item] = txn.items()
    if hold:  # the bytes are in S3 first; the case link then asks for the hold
        first = _run(env, *WORKER)
        assert first.returncode == 0, first.stderr
        _link_to_an_open_case(ctx, item.id)

    killed = _run(env | {"EVIDOCK_TEST_STOP_AT": str(point)}, *WORKER)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    assert _processes_on(home) == [], "a child of the killed worker outlived it"

    again = _run(env, *WORKER)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["left"] == 0
    assert "Traceback" not in killed.stderr + again.stderr

    with ctx.catalog.read() as txn:
        jobs = [j for j in JobOps(txn).jobs() if j.item_id == item.id]  # not the checkpoints'
        events = [(e.type, json.loads(e.data)) for e in txn.log.events_for_item(item.id)]
        objects = [o for o in txn.stored_objects() if o.backend == "s3"]
        [local] = [o for o in txn.stored_objects() if o.backend == "local"]
        item = txn.item(item.id)
    assert {j.state for j in jobs} == {DONE}, jobs
    assert any(j.attempts == 2 and "expired" in (j.last_error or "") for j in jobs), (
        "no job was taken over from the killed worker"
    )
    assert item.state == "stored" and item.durable_at is not None
    told = Counter(
        (d.get("role", "original"), d["sha256"])
        for t, d in events
        if t in ("stored", "replicated") and d.get("backend") == "s3"
    )
    assert {(o.role, o.sha256) for o in objects} == set(told)
    assert set(told.values()) == {1}, f"an object told twice: {told}"
    assert {o.role for o in objects} == {"original", "derived"}  # the proxies went up too
    types = Counter(t for t, _ in events)
    assert types["legal_hold_set"] == (1 if hold else 0)
    assert types["released_local"] == (1 if release else 0)

    s3 = ctx.s3
    assert s3 is not None
    for o in objects:
        versions = s3.client.list_object_versions(Bucket=bucket, Prefix=o.key).get("Versions", [])
        assert [v["VersionId"] for v in versions] == [o.version_id], "uploaded twice"
        assert s3.rehash(o.key, o.version_id) == (o.sha256, o.size)
        head = s3.head(o.key, o.version_id)
        assert head is not None and head.lock_mode == "COMPLIANCE"
        assert head.retain_until is not None
        assert bool(head.legal_hold) == (hold and o.role == "original") == o.legal_hold
    path = ctx.store.path_for(item.sha256)
    if release:  # released, and only after the S3 copy was re-hashed (the event says so)
        assert local.released_at is not None and not path.exists()
        [(_, said)] = [(t, d) for t, d in events if t == "released_local"]
        assert said["verified_in"] == "s3" and said["method"] == "full download re-hash"
        order = [(t, d.get("backend")) for t, d in events]
        assert order.index(("stored", "s3")) < order.index(("released_local", "local"))
    else:
        assert local.released_at is None and path.exists()

    verified = _run(env, "verify", "--full")
    assert verified.returncode == 0, verified.stdout + verified.stderr
