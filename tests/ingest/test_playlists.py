"""A playlist on a card is evidence like any file: stored as its own bytes and flagged, never
followed by ffprobe or ffmpeg to the file it names, never given a transcode job."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from devices.profiles import match_medium, parse_profile
from ingest.context import Context
from ingest.media.kinds import TRANSCODE
from ingest.media.probe import MediaProbe
from ingest.pipeline.run import STORED, ingest_device
from storage.catalog.jobs import JobOps
from storage.records import Item
from tests.conftest import CLIP1, CLIP2

# the names `evidock items --json` shows in "flags"
NOT_MEDIA, PLAYLIST = "not_media_container", "playlist"
NOT_RUN = "ffprobe: not run: an M3U/HLS playlist, which names other files (never followed)"
WATCHED = """
name = "recorder-any-file"
kind = "audio-recorder"
description = "a field recorder in a watch folder: every file is taken"
[match]
marker_globs = ["*.WAV"]
[media]
globs = ["**"]
"""


def hls(target: Path, *, live: bool = False) -> bytes:
    """An HLS playlist naming a local file; live when it has no #EXT-X-ENDLIST. The NUL at
    its end makes exiftool answer 'Unknown file type', so evidock asked ffprobe about it."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:6", "#EXTINF:6.0,",
             str(target), *([] if live else ["#EXT-X-ENDLIST"])]  # fmt: skip
    return "\n".join([*lines, ""]).encode() + b"\x00"


def _items(ctx: Context) -> dict[str, Item]:
    with ctx.catalog.read() as txn:
        return {i.original_path_display.rsplit("/", 1)[-1]: i for i in txn.items()}


def _transcode_items(ctx: Context) -> set[int | None]:
    with ctx.catalog.read() as txn:
        return {j.item_id for j in JobOps(txn).jobs(kinds=[TRANSCODE])}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_playlist_named_mp4_is_stored_as_its_own_bytes_not_as_the_clip_it_names(
    ctx: Context, tmp_path: Path, media: dict[str, Path]
) -> None:
    """A playlist named like a camera clip, naming a real clip on the same machine: stored
    with its own sha256, flagged, no video stream or duration of the other clip, no job."""
    card = tmp_path / "card" / "DCIM" / "100MEDIA"
    card.mkdir(parents=True)
    body = hls(media["clip"])
    (card / CLIP1).write_bytes(body)
    report = ingest_device(ctx, card.parents[1], serial="BWC-PL", officer=None, actor="test")
    assert [(f.result, f.sha256, f.size) for f in report.files] == [(STORED, _sha(body), len(body))]
    item = _items(ctx)[CLIP1]
    assert ctx.store.path_for(item.sha256).read_bytes() == body
    f = item.facts
    assert (f.video_codec, f.audio_codec, f.width, f.height, f.duration_s) == (None,) * 5
    assert {NOT_MEDIA, PLAYLIST} <= set(f.flags)
    assert NOT_RUN in f.probe_errors
    assert _transcode_items(ctx) == set()


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_live_playlist_is_not_given_to_ffprobe_and_gets_no_transcode_job(
    ctx: Context, tmp_path: Path, media: dict[str, Path]
) -> None:
    """A "live" playlist (no ENDLIST) would keep ffmpeg reading for an hour: the probe of its
    stored copy returns at once without ffprobe, flagged, and no transcode job is queued."""
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    body = hls(media["clip"], live=True)
    (card / CLIP2).write_bytes(body)
    with MediaProbe(timeout_s=5) as probe:
        report = ingest_device(ctx, card.parent, serial="BWC-PL", officer=None, actor="test",
                               probe=probe)  # fmt: skip
        assert [(f.result, f.sha256) for f in report.files] == [(STORED, _sha(body))]
        again = probe.probe(ctx.store.path_for(_sha(body)))
    assert again.ffprobe is None
    assert (again.sniffed.container, again.sniffed.playlist) == (None, "an M3U/HLS playlist")
    facts = _items(ctx)[CLIP2].facts
    assert {NOT_MEDIA, PLAYLIST} <= set(facts.flags) and facts.duration_s is None
    assert _transcode_items(ctx) == set()


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_a_watch_folder_taking_every_file_stores_playlists_flagged_beside_real_audio(
    ctx: Context, tmp_path: Path, media: dict[str, Path]
) -> None:
    """Through a watch-folder profile with globs ["**"] (an audio recorder): the recording is
    read and gets its job; the playlists beside it, finished and live, are stored as their own
    bytes and flagged, with no stream, duration or job taken from the clip they name."""
    folder = tmp_path / "watch" / "REC01"
    folder.mkdir(parents=True)
    shutil.copyfile(media["wav"], folder / "ZOOM0001.WAV")
    bodies = {"ZOOM0002.MP4": hls(media["clip"]), "ZOOM0003.MP4": hls(media["clip"], live=True)}
    for name, body in bodies.items():
        (folder / name).write_bytes(body)
    profile = match_medium([parse_profile(WATCHED, source="profiles.d/any.toml")],
                           sorted(p.name for p in folder.iterdir()))  # fmt: skip
    assert profile is not None and profile.media_globs == ("**",)
    with MediaProbe(timeout_s=5) as probe:
        report = ingest_device(ctx, folder, serial=None, officer=None, actor="dock:test",
                               profile=profile, probe=probe)  # fmt: skip
    assert {f.path: f.result for f in report.files} == dict.fromkeys(
        ["ZOOM0001.WAV", *bodies], STORED
    )
    items = _items(ctx)
    wav = items["ZOOM0001.WAV"].facts
    assert wav.audio_codec == "pcm_s16le" and NOT_MEDIA not in wav.flags
    for name, body in bodies.items():
        item = items[name]
        assert (item.sha256, item.size) == (_sha(body), len(body))
        assert {NOT_MEDIA, PLAYLIST} <= set(item.facts.flags)
        assert (item.facts.video_codec, item.facts.duration_s) == (None, None)
    assert _transcode_items(ctx) == {items["ZOOM0001.WAV"].id}
