"""Large-file ingest: evidock against what a careful custodian runs by hand.

Baseline (one shell script per run, timed as a whole), per file::

    openssl dgst -sha256 src; cp src dst; sync; dd if=dst iflag=direct bs=4M | openssl dgst -sha256

evidock: ``ingest_device`` on a fresh data dir (SQLite catalog), run in a spawned child so its
peak RSS (VmHWM) is its own; only the ``ingest_device`` call is timed. Bare ``cp`` + ``sync``
is measured too, as the floor. The three alternate, source page cache dropped before each.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import shlex
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench.common import (
    GiB,
    MiB,
    Options,
    drop_cache,
    fmt_s,
    median,
    note,
    ratio,
    scratch,
    settings_for,
    table,
    vm_hwm_kib,
    vm_rss_kib,
)

FILES = 4
RUNS = 3
GEN_CHUNK = 8 * MiB


def make_sources(folder: Path, count: int, size: int) -> dict[str, str]:
    """``count`` files of ``size`` random bytes, synced; returns {relative path: sha256}."""
    media = folder / "DCIM" / "100MEDIA"
    media.mkdir(parents=True)
    hashes: dict[str, str] = {}
    for i in range(count):
        path = media / f"REC_{i:04d}.MP4"
        h = hashlib.sha256()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            left = size
            while left:
                block = os.urandom(min(GEN_CHUNK, left))
                h.update(block)
                view = memoryview(block)
                while view:
                    view = view[os.write(fd, view) :]
                left -= len(block)
            os.fsync(fd)
        finally:
            os.close(fd)
        hashes[str(path.relative_to(folder))] = h.hexdigest()
    fd = os.open(media, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return hashes


def _sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _shell(script: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, timeout=1800
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"baseline script failed ({proc.returncode}): {proc.stderr.strip()}")
    return seconds, proc.stdout


def custodian_script(sources: list[Path], dest: Path) -> str:
    lines = ["set -euo pipefail"]
    for src in sources:
        s, d = shlex.quote(str(src)), shlex.quote(str(dest / src.name))
        lines += [
            f"openssl dgst -sha256 {s}",
            f"cp {s} {d}",
            "sync",
            f"dd if={d} iflag=direct bs=4M status=none | openssl dgst -sha256",
        ]
    return "\n".join(lines) + "\n"


def cp_script(sources: list[Path], dest: Path) -> str:
    lines = ["set -euo pipefail"]
    lines += [f"cp {shlex.quote(str(s))} {shlex.quote(str(dest / s.name))}" for s in sources]
    return "\n".join([*lines, "sync"]) + "\n"


def run_custodian(sources: list[Path], dest: Path, expected: dict[str, str]) -> float:
    dest.mkdir()
    seconds, out = _shell(custodian_script(sources, dest))
    digests = [line.rsplit("=", 1)[-1].strip() for line in out.splitlines() if "=" in line]
    by_name = {Path(k).name: v for k, v in expected.items()}
    want = [by_name[s.name] for s in sources for _ in (0, 1)]
    assert digests == want, f"baseline hashes differ from the generated ones: {digests}"
    return seconds


def run_cp(sources: list[Path], dest: Path) -> float:
    dest.mkdir()
    seconds, _ = _shell(cp_script(sources, dest))
    return seconds


def evidock_child(src: str, home: str) -> dict[str, Any]:
    """In a spawned process: open a fresh data dir, time ingest_device, report VmHWM."""
    from ingest.context import open_context
    from ingest.pipeline.run import STORED, ingest_device

    ctx = open_context(settings_for(Path(home)), create=True)
    try:
        rss_ready = vm_rss_kib()
        t0 = time.perf_counter()
        report = ingest_device(ctx, Path(src), serial="BENCH-CAM-1", officer=None, actor="bench")
        seconds = time.perf_counter() - t0
        hwm = vm_hwm_kib()
        files = []
        for f in report.files:
            assert f.result == STORED and f.sha256 is not None, f"not stored: {f}"
            on_disk = ctx.store.path_for(f.sha256).stat().st_size
            files.append({"path": f.path, "sha256": f.sha256, "size": f.size, "disk": on_disk})
        with ctx.catalog.read() as txn:
            objects = len(txn.stored_objects())
            events = txn.log.head().size
    finally:
        ctx.close()
    return {
        "seconds": seconds,
        "hwm_kib": hwm,
        "rss_ready_kib": rss_ready,
        "files": files,
        "objects": objects,
        "events": events,
    }


def run_evidock(src: Path, home: Path, expected: dict[str, str]) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        out: dict[str, Any] = pool.submit(evidock_child, str(src), str(home)).result()
    got = {f["path"]: f["sha256"] for f in out["files"]}
    assert got == expected, f"evidock stored other hashes than generated: {got}"
    assert out["objects"] == len(expected), f"store holds {out['objects']} objects"
    assert all(f["disk"] == f["size"] for f in out["files"]), "stored object size differs"
    return out


def _clean(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    os.sync()  # flush the unlinks (and discards) now, not during the next timed run


def run(opts: Options) -> dict[str, Any]:
    total = GiB // 8 if opts.quick else GiB
    small = 8 * MiB if opts.quick else 64 * MiB
    size = total // FILES
    with scratch(opts, "ingest") as tmp:
        note(f"generating {FILES} x {size // MiB} MiB of random bytes in {tmp}")
        src = tmp / "card"
        expected = make_sources(src, FILES, size)
        single = tmp / "card-small"
        expected_single = make_sources(single, 1, small)
        sources = _sources(src)
        times: dict[str, list[float]] = {"baseline": [], "evidock": [], "cp": []}
        hwm: list[int] = []
        ready: list[int] = []
        for i in range(RUNS):
            drop_cache(sources)
            dest = tmp / f"custodian-{i}"
            times["baseline"].append(run_custodian(sources, dest, expected))
            _clean(dest)

            drop_cache(sources)
            home = tmp / f"evidock-{i}"
            out = run_evidock(src, home, expected)
            times["evidock"].append(out["seconds"])
            hwm.append(out["hwm_kib"])
            ready.append(out["rss_ready_kib"])
            _clean(home)

            drop_cache(sources)
            dest = tmp / f"cp-{i}"
            times["cp"].append(run_cp(sources, dest))
            _clean(dest)
            note(
                f"run {i + 1}/{RUNS}: baseline {times['baseline'][-1]:.2f} s, evidock "
                f"{times['evidock'][-1]:.2f} s, cp+sync {times['cp'][-1]:.2f} s"
            )
        drop_cache(_sources(single))
        small_out = run_evidock(single, tmp / "evidock-small", expected_single)

    med = {k: median(v) for k, v in times.items()}
    mib = total / MiB
    rows = [
        [name, *(f"{t:.2f}" for t in times[key]), f"{med[key]:.2f}", f"{mib / med[key]:.0f}"]
        for name, key in (
            ("custodian script (baseline)", "baseline"),
            ("evidock ingest_device", "evidock"),
            ("bare cp + sync", "cp"),
        )
    ]
    heads = ["", *(f"run {i + 1} s" for i in range(RUNS)), "median s", "MiB/s"]
    print(table(f"ingest: {FILES} files, {mib:.0f} MiB total, SQLite catalog", heads, rows))

    big_peak, small_peak = max(hwm), small_out["hwm_kib"]
    r_base = ratio(med["evidock"], med["baseline"])
    r_cp = ratio(med["evidock"], med["cp"])
    r_rss = ratio(big_peak, small_peak)
    summary_rows = [
        ["evidock / custodian baseline", f"{r_base:.2f}x", "<= 1.0 (aim 0.7)"],
        ["evidock / bare cp + sync", f"{r_cp:.2f}x", "<= 1.2"],
        ["custodian / bare cp + sync", f"{ratio(med['baseline'], med['cp']):.2f}x", ""],
        [f"peak RSS, {FILES} files / {mib:.0f} MiB", f"{big_peak / 1024:.1f} MiB", "flat"],
        [f"peak RSS, 1 file / {small // MiB} MiB", f"{small_peak / 1024:.1f} MiB", "flat"],
        ["peak RSS ratio (big / small)", f"{r_rss:.2f}x", "~1.0"],
        ["RSS after open_context (before ingest)", f"{median(ready) / 1024:.1f} MiB", ""],
        ["evidock time for the small file", fmt_s(small_out["seconds"]), ""],
    ]
    print(table("ingest: ratios", ["measure", "value", "target"], summary_rows))
    note("peak RSS is the evidock process only (exiftool and ffprobe children not included)")
    return {
        "bytes": total,
        "files": FILES,
        "runs": RUNS,
        "seconds": times,
        "median_s": med,
        "mib_per_s": {k: mib / v for k, v in med.items()},
        "ratio_evidock_baseline": r_base,
        "ratio_evidock_cp": r_cp,
        "peak_rss_kib": {"big": big_peak, "small": small_peak, "small_bytes": small},
        "ratio_peak_rss": r_rss,
    }
