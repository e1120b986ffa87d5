"""Peak RSS of ``evidock ingest`` of a folder with 1 file against 1,000 and 10,000 (issue 19).

Setup (not measured): a folder laid out as a camera's (``DCIM/1NNMEDIA``, at most 999 files
a folder, as DCF numbers them) of tiny text files, each with its own bytes (so that none is a
duplicate of another), on a fresh data dir with a SQLite catalog. Measured: the peak resident
set of the ``evidock ingest FOLDER --device BENCH --profile none`` process, its ``ru_maxrss``
from ``os.wait4`` (the largest of the process and the children it waited for: an exiftool or
ffprobe the ingest started counts only if it grew larger than evidock itself; tiny text
files start neither). The baseline is the 1-file run, measured in the same run. Target:
flat (at most 1.2x at 10,000 files). Sizes: ``--size N`` (repeatable) for the large runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Options, fmt_s, note, ratio, scratch, table

PER_FOLDER = 999  # DCF: 100MEDIA/0001..0999, then the next folder
TARGET = 1.2
MAX_FILES = 100_000  # a --size above it is meant for the parts that fill a catalog


def make_camera(root: Path, n: int) -> None:
    """``n`` tiny files, each different, in folders of at most ``PER_FOLDER``."""
    for i in range(n):
        folder = root / "DCIM" / f"{100 + i // PER_FOLDER}MEDIA"
        if i % PER_FOLDER == 0:
            folder.mkdir(parents=True)
        (folder / f"NOTE{i % PER_FOLDER + 1:04d}.TXT").write_bytes(f"note {i}\n".encode())


def ingest_rss(home: Path, camera: Path) -> tuple[int, float, int]:
    """Peak RSS (KiB), seconds and exit code of one ``evidock ingest`` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVIDOCK_", "NOTIFY_"))}
    env.update(EVIDOCK_HOME=str(home / "data"), EVIDOCK_CATALOG_URL=f"sqlite:///{home}/c.db",
               EVIDOCK_DOCK_NAME="bench-rss", EVIDOCK_LANG="en")  # fmt: skip
    cli = [sys.executable, "-m", "ingest.cli.main"]
    subprocess.run([*cli, "init"], env=env, check=True, capture_output=True, timeout=120)
    args = [*cli, "ingest", str(camera), "--device", "BENCH-RSS", "--profile", "none"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return int(usage.ru_maxrss), seconds, proc.returncode


def _stored(home: Path) -> int:
    from storage.catalog.session import Catalog

    cat = Catalog(f"sqlite:///{home}/c.db")
    try:
        with cat.read() as txn:
            return len(txn.items())
    finally:
        cat.close()


def run(opts: Options) -> dict[str, Any]:
    asked = tuple(n for n in opts.sizes if n <= MAX_FILES)  # larger: for the catalog parts
    big = asked or ((1_000,) if opts.quick else (1_000, 10_000))
    sizes = (1, *(n for n in big if n != 1))
    out: dict[str, Any] = {"sizes": list(sizes)}
    rows: list[list[object]] = []
    base_kib = 0
    for n in sizes:
        with scratch(opts, f"rss{n}") as home:
            camera = home / "camera"
            t0 = time.perf_counter()
            make_camera(camera, n)
            setup = time.perf_counter() - t0
            kib, seconds, code = ingest_rss(home, camera)
            stored = _stored(home)
        if code != 0 or stored != n:
            raise RuntimeError(f"ingest of {n} files: exit {code}, {stored} stored")
        base_kib = base_kib or kib
        r = ratio(kib, base_kib)
        out[str(n)] = {"peak_rss_kib": kib, "ratio_vs_1_file": r, "seconds": seconds,
                       "ms_per_file": seconds / n * 1e3, "setup_s": setup}  # fmt: skip
        rows.append([f"{n:,}", f"{kib / 1024:.1f} MiB", f"{r:.2f}x", fmt_s(seconds),
                     f"{seconds / n * 1e3:.1f} ms"])  # fmt: skip
        note(f"{n:,} file(s): peak RSS {kib / 1024:.1f} MiB ({r:.2f}x), {seconds:.1f} s")
    print(table("evidock ingest: peak RSS (ru_maxrss of the process) by number of files; "
                "baseline: the 1-file ingest of this run",
                ["files", "peak RSS", "vs 1 file", "ingest", "per file"], rows))  # fmt: skip
    last = out[str(sizes[-1])]
    out["ratio"] = last["ratio_vs_1_file"]
    out["growth_kib_per_1000_files"] = (
        (last["peak_rss_kib"] - base_kib) / max(1, sizes[-1] - 1) * 1000
    )
    verdict = "met" if out["ratio"] <= TARGET else "MISSED"
    note(f"{sizes[-1]:,} files vs 1: {out['ratio']:.2f}x (target <= {TARGET}x: {verdict}); "
         f"{out['growth_kib_per_1000_files']:.0f} KiB more per 1,000 files")  # fmt: skip
    return out
