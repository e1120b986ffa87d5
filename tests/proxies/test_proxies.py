"""Review proxies made by the worker, in process: they play, fit 720p, last as long as their
source, are recorded in the custody log; broken input ends as a visible failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ingest.context import LOG_ORIGIN, Context
from ingest.jobs.proxies import proxy_states
from ingest.media.probe import ffprobe, sniff_file
from ingest.media.simcam import make_clip, truncate
from storage.blobs.hashing import sha256_path
from storage.catalog.derived import DerivedOps
from storage.catalog.jobs import DONE, FAILED
from tests.conftest import CLIP1, CLIP2, CLIP_START, WAV
from tests.proxies.conftest import derived_path, drain, ingest, jobs, put
from verify.audit.run import run_audit


def _streams(path: Path) -> dict[str, dict[str, Any]]:
    container = sniff_file(path).container
    assert container is not None
    data = ffprobe(path, container=container).data
    assert data is not None
    return {s["codec_type"]: s for s in data["streams"]} | {"format": data["format"]}


def test_proxies_play_fit_720p_last_as_long_as_the_source_and_are_in_the_custody_log(
    ctx: Context, camera: Path
) -> None:
    """Clips get an H.264/AAC proxy, a poster and a contact sheet; audio an AAC proxy and a
    waveform; the photo a JPEG. Each file hashes to its recorded sha256, and its 'transcoded'
    event names the source hash, the tool's version and its arguments."""
    ingest(ctx, camera)
    drain(ctx)
    assert {j.state for j in jobs(ctx)} == {DONE}
    with ctx.catalog.read() as txn:
        items = {i.original_path_display.rsplit("/", 1)[-1]: i for i in txn.items()}
        derived = DerivedOps(txn).for_items([i.id for i in items.values()])
        events = {i.id: txn.log.events_for_item(i.id) for i in items.values()}
    kinds = {name: sorted(d.kind for d in derived[i.id]) for name, i in items.items()}
    assert kinds == {
        CLIP1: ["contact_sheet", "poster", "proxy"],
        CLIP2: ["contact_sheet", "poster", "proxy"],
        WAV: ["proxy", "waveform"],
        "IMG_0001.JPG": ["proxy"],
    }
    clip = items[CLIP1]
    source = _streams(ctx.store.path_for(clip.sha256))
    for d in derived[clip.id]:
        path = derived_path(ctx, d.sha256)
        assert sha256_path(path) == (d.sha256, d.size)
        if d.kind == "proxy":
            proxy = _streams(path)
            assert proxy["video"]["codec_name"] == "h264" and proxy["audio"]["codec_name"] == "aac"
            assert proxy["video"]["width"] <= 1280 and proxy["video"]["height"] <= 720
            assert (
                abs(float(proxy["format"]["duration"]) - float(source["format"]["duration"])) < 0.1
            )
            assert "mp4" in proxy["format"]["format_name"]
        else:
            assert _streams(path)["video"]["codec_name"] == "mjpeg"
    transcoded = [json.loads(e.data) for e in events[clip.id] if e.type == "transcoded"]
    assert {t["kind"] for t in transcoded} == {"proxy", "poster", "contact_sheet"}
    for t in transcoded:
        assert t["source_sha256"] == clip.sha256
        assert t["derivative_sha256"] in {d.sha256 for d in derived[clip.id]}
        assert t["tool"] == "ffmpeg" and t["tool_version"].startswith("ffmpeg ")
        assert t["args"][t["args"].index("-protocol_whitelist") + 1] == "file"
        # each input is the source, opened with its sniffed container's demuxer and no other
        args = t["args"]
        inputs = [k for k, a in enumerate(args) if a == "-i"]
        assert inputs and {args[k + 1] for k in inputs} == {"{source}"}
        for k in inputs:
            opts = args[k - 8 : k - 2] if args[k - 2] == "-ss" else args[k - 6 : k]
            assert opts == ["-f", "mov", "-format_whitelist", "mov", "-protocol_whitelist", "file"]
        assert "{source}" in t["args"] and "{output}" in t["args"]
    proxy_event = next(t for t in transcoded if t["kind"] == "proxy")
    assert {"libx264", "veryfast", "28", "aac", "+faststart"} <= set(proxy_event["args"])
    wav = items[WAV]
    m4a = next(d for d in derived[wav.id] if d.kind == "proxy")
    assert _streams(derived_path(ctx, m4a.sha256))["audio"]["codec_name"] == "aac"
    audit = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                      origin=LOG_ORIGIN)  # fmt: skip
    assert audit.ok, audit.problems


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_corrupt_clip_fails_after_its_attempts_and_shows_no_proxy_with_the_tools_error(
    ctx: Context, card: Path, media: dict[str, Path]
) -> None:
    """A clip cut short before its index: three attempts, then 'failed' with ffprobe's error;
    the item shows 'no proxy: <reason>', and the stored original is untouched."""
    put(card, media["cut"], "REC_CUT.MP4")
    ingest(ctx, card.parent)
    drain(ctx, max_attempts=3)
    (job,) = jobs(ctx)
    assert job.state == FAILED and job.attempts == 3
    assert "Invalid data found when processing input" in job.last_error
    with ctx.catalog.read() as txn:
        (item,) = txn.items()
        state = proxy_states(txn, [item.id])[item.id]
    assert state.derived == () and state.state == FAILED
    assert state.note is not None and state.note.startswith("no proxy: ffprobe cannot read")
    assert ctx.store.hash_object(item.sha256)[0] == item.sha256


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_proxy_that_ffmpeg_cut_short_is_refused_as_incomplete(
    ctx: Context, card: Path, tmp_path: Path
) -> None:
    """A clip whose data ends early (index in front): ffmpeg exits 0 with a proxy of 60 % of
    it; the duration check refuses it and no proxy is recorded."""
    clip = make_clip(tmp_path / "short.mp4", start=CLIP_START,
                     seconds=2, size="320x240")  # fmt: skip
    truncate(clip, 0.6)
    put(card, clip, "REC_SHORT.MP4")
    ingest(ctx, card.parent)
    drain(ctx, max_attempts=1)
    (job,) = jobs(ctx)
    assert job.state == FAILED
    assert "proxy refused as incomplete" in job.last_error
    assert "in the proxy but 2.000 s in the source" in job.last_error
    with ctx.catalog.read() as txn:
        assert DerivedOps(txn).all() == []


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_crash_moov_trak_from_the_real_corpus_gets_no_proxy_claiming_to_be_complete(
    ctx: Context, card: Path, real_media: Path
) -> None:
    """crash_moov-trak.mp4: its video track cannot be decoded (plain ffmpeg drops it and exits
    0); no proxy is recorded and the item says why."""
    put(card, real_media / "crash_moov-trak.mp4", "crash_moov-trak.mp4")
    ingest(ctx, card.parent)
    drain(ctx, max_attempts=1)
    (job,) = jobs(ctx)
    assert job.state == FAILED
    with ctx.catalog.read() as txn:
        assert DerivedOps(txn).all() == []
        (item,) = txn.items()
        note = proxy_states(txn, [item.id])[item.id].note
    assert note is not None and "input stream #0:0" in note
