"""Many small files: evidock's fixed cost per file against a bare copy + hash in Python.

One JPEG is made with simcam.make_jpeg and copied N times with a counter in a JPEG comment
(COM) segment right after SOI, so every copy is a valid JPEG with its own SHA-256. The baseline
reads, hashes, writes and fsyncs each file in this process; evidock runs ``ingest_device``
over the same folder in this process. For context: the cost of one exiftool process and of
one ffprobe process per file, next to the persistent exiftool that evidock drives.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import (
    Options,
    drop_cache,
    fmt_s,
    median,
    note,
    ratio,
    scratch,
    settings_for,
    table,
)
from ingest.context import open_context
from ingest.media.probe import FFPROBE_ARGS, ExifTool, require_tool
from ingest.media.simcam import make_jpeg
from ingest.pipeline.acquire import acquire
from ingest.pipeline.run import STORED, ingest_device
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from verify.custody import CustodyLog
from verify.log.events import EventType

RUNS = 3
SPAWNED = 30
TAKEN = datetime(2026, 11, 26, 1, 30, 0, tzinfo=UTC)


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment holding ``text`` inserted right after SOI."""
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    payload = text.encode("ascii")
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def make_photos(tmp: Path, count: int) -> tuple[Path, dict[str, str]]:
    master = make_jpeg(tmp / "master.jpg", taken=TAKEN)
    data = master.read_bytes()
    card = tmp / "card"
    media = card / "DCIM" / "100MEDIA"
    media.mkdir(parents=True)
    expected: dict[str, str] = {}
    for i in range(count):
        body = with_comment(data, f"evidock bench photo {i:06d}")
        path = media / f"IMG_{i:04d}.JPG"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, body)
            os.fsync(fd)
        finally:
            os.close(fd)
        expected[str(path.relative_to(card))] = hashlib.sha256(body).hexdigest()
    assert len(set(expected.values())) == count, "photo copies do not have distinct hashes"
    return card, expected


def bare_copy(sources: list[Path], dest: Path) -> float:
    """Read, sha256, write, fsync each file; nothing else."""
    dest.mkdir()
    t0 = time.perf_counter()
    for src in sources:
        fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
        try:
            data = os.read(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        hashlib.sha256(data).hexdigest()
        out = os.open(dest / src.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(out, view) :]
            os.fsync(out)
        finally:
            os.close(out)
    return time.perf_counter() - t0


def evidock_ingest(card: Path, home: Path, expected: dict[str, str]) -> float:
    ctx = open_context(settings_for(home), create=True)
    try:
        t0 = time.perf_counter()
        report = ingest_device(ctx, card, serial="BENCH-CAM-2", officer=None, actor="bench")
        seconds = time.perf_counter() - t0
    finally:
        ctx.close()
    got = {f.path: f.sha256 for f in report.files if f.result == STORED}
    assert got == expected, f"evidock stored {len(got)} of {len(expected)} photos correctly"
    return seconds


def acquire_and_file(sources: list[Path], tmp: Path) -> tuple[float, float]:
    """evidock's acquire() (copy, hash, fsync, read-back) and LocalStore.file() (filing under
    sha256/ab/cd with its fsyncs) per photo, timed apart; seconds per file for each."""
    store = LocalStore(tmp / "store")
    store.prepare()
    t_acq = t_file = 0.0
    for src in sources:
        fd = os.open(src, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with store.staging() as staging:
                t0 = time.perf_counter()
                got = acquire(fd, staging)
                t1 = time.perf_counter()
                store.file(staging, got.sha256, got.size)
                t2 = time.perf_counter()
        finally:
            os.close(fd)
        t_acq += t1 - t0
        t_file += t2 - t1
    return t_acq / len(sources), t_file / len(sources)


def catalog_per_file(count: int, tmp: Path) -> float:
    """What each file costs the catalog besides its item row: one read transaction (the
    'already ingested?' lookup) and one write transaction with the three custody events."""
    cat = Catalog.open(f"sqlite:///{tmp / 'catalog-only.db'}")
    log = CustodyLog(dock="bench-dock")
    try:
        t0 = time.perf_counter()
        for i in range(count):
            with cat.read() as txn:
                txn.log.head()
            with cat.write() as txn:
                data = {"sha256": f"{i:064x}", "size": 45_000, "device": "BENCH-CAM-2"}
                for kind in (EventType.ACQUIRED, EventType.VERIFIED, EventType.STORED):
                    log.append(txn, type=kind, actor="user:bench", item=i + 1, data=data)
        return (time.perf_counter() - t0) / count
    finally:
        cat.close()


def per_process(cmd: list[str], files: list[Path]) -> float:
    t0 = time.perf_counter()
    for f in files:
        subprocess.run([*cmd, str(f)], capture_output=True, check=True, timeout=60)
    return (time.perf_counter() - t0) / len(files)


def persistent_exiftool(files: list[Path]) -> float:
    tool = ExifTool()
    tool.start()
    try:
        tool.read(files[0])  # warm: first answer includes module loading
        t0 = time.perf_counter()
        for f in files:
            out = tool.read(f)
            assert out.error is None, out.error
        return (time.perf_counter() - t0) / len(files)
    finally:
        tool.close()


def run(opts: Options) -> dict[str, Any]:
    count = 30 if opts.quick else 300
    with scratch(opts, "photos") as tmp:
        card, expected = make_photos(tmp, count)
        sources = sorted(p for p in card.rglob("*") if p.is_file())
        size = sources[0].stat().st_size
        note(f"{count} JPEGs of {size / 1024:.0f} KiB in {card}")
        base_t: list[float] = []
        evi_t: list[float] = []
        parts: dict[str, list[float]] = {"acquire": [], "file": [], "catalog": [], "exif": []}
        sample = sources[:SPAWNED]
        for i in range(RUNS):
            drop_cache(sources)
            base_t.append(bare_copy(sources, tmp / f"copy-{i}"))
            drop_cache(sources)
            evi_t.append(evidock_ingest(card, tmp / f"evidock-{i}", expected))
            # the parts, in the same round so that they see the same machine load
            drop_cache(sources)
            acq, filing = acquire_and_file(sources, tmp / f"parts-{i}")
            parts["acquire"].append(acq)
            parts["file"].append(filing)
            parts["catalog"].append(catalog_per_file(count, tmp / f"parts-{i}"))
            parts["exif"].append(persistent_exiftool(sample))
            note(f"run {i + 1}/{RUNS}: bare copy {base_t[-1]:.2f} s, evidock {evi_t[-1]:.2f} s")
        exif_spawn = per_process([require_tool("exiftool"), "-j", "-G", "-n"], sample)
        ffprobe_spawn = per_process([require_tool("ffprobe"), *FFPROBE_ARGS], sample)

    acq, filing, catalog, exif_kept = (
        median(parts[k]) for k in ("acquire", "file", "catalog", "exif")
    )
    base, evi = median(base_t), median(evi_t)
    overhead = (evi - base) / count
    rows = [
        ["bare copy + sha256 + fsync (baseline)", *(f"{t:.3f}" for t in base_t), f"{base:.3f}",
         fmt_s(base / count)],
        ["evidock ingest_device", *(f"{t:.3f}" for t in evi_t), f"{evi:.3f}",
         fmt_s(evi / count)],
    ]  # fmt: skip
    heads = ["", *(f"run {i + 1} s" for i in range(RUNS)), "median s", "per file"]
    print(table(f"photos: {count} JPEGs of {size / 1024:.0f} KiB, SQLite catalog", heads, rows))
    ctx_rows = [
        ["evidock overhead per file (evidock - baseline) / n", fmt_s(overhead), "< 20 ms"],
        ["evidock / baseline", f"{ratio(evi, base):.1f}x", ""],
        ["evidock ingest_device per file", fmt_s(evi / count), ""],
        ["  acquire() alone (copy, hash, fsync, read-back)", fmt_s(acq), ""],
        ["  LocalStore.file() alone (link under sha256/.., fsyncs)", fmt_s(filing), ""],
        ["  catalog: read txn + write txn of 3 custody events", fmt_s(catalog), ""],
        ["  persistent exiftool -stay_open, per file", fmt_s(exif_kept), ""],
        [
            "  sum of these parts (medians of per-round timings)",
            fmt_s(acq + filing + catalog + exif_kept),
            "",
        ],
        [f"one exiftool process per file ({SPAWNED} files)", fmt_s(exif_spawn), ""],
        [f"one ffprobe process per file ({SPAWNED} files)", fmt_s(ffprobe_spawn), ""],
        ["exiftool spawn / persistent exiftool", f"{ratio(exif_spawn, exif_kept):.0f}x", ""],
    ]
    print(table("photos: per-file costs", ["measure", "value", "target"], ctx_rows))
    return {
        "files": count,
        "file_bytes": size,
        "runs": RUNS,
        "seconds": {"baseline": base_t, "evidock": evi_t},
        "median_s": {"baseline": base, "evidock": evi},
        "overhead_ms_per_file": overhead * 1e3,
        "ratio_evidock_baseline": ratio(evi, base),
        "acquire_ms_per_file": acq * 1e3,
        "store_file_ms_per_file": filing * 1e3,
        "catalog_ms_per_file": catalog * 1e3,
        "exiftool_persistent_ms_per_file": exif_kept * 1e3,
        "exiftool_spawn_ms_per_file": exif_spawn * 1e3,
        "ffprobe_spawn_ms_per_file": ffprobe_spawn * 1e3,
    }
