"""The real-device corpus (../shared/media/real): every recording stored bit for bit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ingest.context import Context
from ingest.pipeline.facts import FLAG_DAMAGED, FLAG_NO_METADATA, FLAG_UNREADABLE
from ingest.pipeline.run import STORED, ingest_device


def _pinned(real_media: Path) -> dict[str, str]:
    sums = {}
    for line in (real_media.parent / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[Path(name.lstrip("*")).name] = digest
    return sums


def _categories(real_media: Path) -> dict[str, str]:
    rows = (real_media.parent / "SOURCES.tsv").read_text().splitlines()[1:]
    return {r.split("\t")[1]: r.split("\t")[0] for r in rows if r.strip()}


@pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)
def test_every_real_recording_is_stored_with_its_published_hash(
    ctx: Context, real_media: Path, tmp_path: Path
) -> None:
    """Phones, GoPros, dashcams, field recorders and fuzzer crashes: all stored, none skipped,
    each under the SHA-256 the corpus pins; the broken ones are flagged."""
    camera = tmp_path / "card"
    shutil.copytree(real_media, camera / "DCIM")
    report = ingest_device(ctx, camera, serial="CORPUS", officer=None, actor="test")
    pinned = _pinned(real_media)
    assert report.count(STORED) == len(pinned) == len(report.files)
    with ctx.catalog.read() as txn:
        items = {i.original_path_display.rsplit("/", 1)[-1]: i for i in txn.items()}
    assert {name: i.sha256 for name, i in items.items()} == pinned
    cats = _categories(real_media)
    bad = {FLAG_UNREADABLE, FLAG_DAMAGED, FLAG_NO_METADATA}
    broken = {n for n, i in items.items() if bad & set(i.facts.flags)}
    assert {"fuzz_mp3_ArithmeticException.mp3", "fuzz_mp3_ArrayIndexOOB.mp3"} <= broken
    assert "dashcam_70mai_truncgps_EV20191130-121256-000132.mp4" in broken
    complete = {n for n, c in cats.items() if c == "A"}
    assert not (broken & complete), "a complete recording was flagged as broken"
    gopro = items["gopro_max_heromode.mp4"].facts
    assert gopro.camera_serial == "C3353424500199" and gopro.model == "GoPro Max"
    assert gopro.recorded_start is not None and gopro.recorded_start.year == 2019
    assert items["iphone6_with-gps.mov"].facts.gps_lat is not None
    wav = items["sounddevices_A101_3.wav"].facts
    assert wav.audio_codec is not None and wav.time_source == "metadata-local"
