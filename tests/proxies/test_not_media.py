"""A transcode job never hands ffmpeg a stored file that is no media container: a playlist's
job is refused at once with a reason, instead of ffmpeg following it (and hanging on a live
one until its timeout)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ingest.context import Context
from ingest.errors import IngestError
from ingest.jobs.proxies import Work, make_proxies, proxy_states
from ingest.media.kinds import TRANSCODE
from ingest.media.probe import MediaProbe
from ingest.pipeline.run import ingest_device
from storage.catalog.derived import DerivedOps
from storage.catalog.jobs import FAILED, JobOps
from tests.conftest import CLIP1
from tests.ingest.test_playlists import hls
from tests.proxies.conftest import drain, jobs

REFUSED = (
    "the stored original is an M3U/HLS playlist, which names other files (never followed); "
    "no proxy is made of it"
)


def _stored_live_playlist(ctx: Context, card: Path, clip: Path) -> int:
    """Ingest a live playlist named like a clip; queue a transcode job for it by hand, as an
    older evidock did for any file exiftool could not read. Returns the job's id."""
    (card / CLIP1).write_bytes(hls(clip, live=True))
    with MediaProbe(timeout_s=5) as probe:
        ingest_device(ctx, card.parent, serial="BWC-PL", officer=None, actor="test", probe=probe)
    with ctx.catalog.write() as txn:
        (item,) = txn.items()
        return JobOps(txn).enqueue(kind=TRANSCODE, item_id=item.id, now=ctx.clock())


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_transcode_job_on_a_stored_live_playlist_is_refused_not_run(
    ctx: Context, card: Path, media: dict[str, Path]
) -> None:
    """Run directly (a short timeout as a seam, in case it did run ffmpeg), the job refuses
    with 'not-media-container' and a reason, and makes nothing."""
    job_id = _stored_live_playlist(ctx, card, media["clip"])
    (job,) = [j for j in jobs(ctx) if j.id == job_id]
    settings = dataclasses.replace(ctx.settings.worker, timeout_s=5.0)
    with pytest.raises(IngestError) as refused:
        make_proxies(ctx, Work(job=job, owner="test", settings=settings))
    assert (refused.value.code, str(refused.value)) == ("not-media-container", REFUSED)
    with ctx.catalog.read() as txn:
        assert DerivedOps(txn).all() == []


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_worker_shows_a_playlists_job_as_no_proxy_with_the_reason(
    ctx: Context, card: Path, media: dict[str, Path]
) -> None:
    """Through the worker: the job fails with the refusal, and the item's listing says why."""
    _stored_live_playlist(ctx, card, media["clip"])
    drain(ctx, max_attempts=1, timeout_s=5.0)
    (job,) = jobs(ctx)
    assert (job.state, job.last_error) == (FAILED, f"{REFUSED} [not-media-container]")
    with ctx.catalog.read() as txn:
        (item,) = txn.items()
        note = proxy_states(txn, [item.id])[item.id].note
    assert note == f"no proxy: {REFUSED} [not-media-container]"
