"""Export packages (issue 17): building a bag of N GiB of originals against a plain copy.

Originals (random bytes in 256 MiB files) are ingested into a fresh data dir (not timed).
Then, in alternation, the page cache of the stored objects dropped before each run:

- baseline: ``cp`` of the stored objects to a folder, then ``sha256sum`` of the copies, in
  one shell script (what a custodian would do by hand);
- evidock: ``build_package`` of those items (originals only) as a zip64 zip: streamed from the
  store through one buffer, hashed, CRC'd, the custody events proven, VERIFY.md,
  verify_bag.py, receipt.pdf (WeasyPrint), manifests, the zip's own sha256.

Reported: the ratio evidock / baseline (target <= 1.3). Size: 1 GiB, 1/8 GiB with --quick,
or ``EVIDOCK_BENCH_EXPORT_GIB`` (e.g. 10).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import GiB, MiB, Options, drop_cache, median, note, ratio, scratch, settings_for
from bench.common import table as render_table
from ingest.context import open_context
from ingest.export.build import Spec, build_package
from ingest.pipeline.run import ingest_device

RUNS = 3
FILE = 256 * MiB


def _make_originals(folder: Path, total: int) -> None:
    folder.mkdir(parents=True)
    left, n = total, 0
    while left > 0:
        size = min(FILE, left)
        with (folder / f"REC{n:04d}.BIN").open("wb") as f:
            for _ in range(0, size, 16 * MiB):
                f.write(os.urandom(min(16 * MiB, size)))
            f.truncate(size)
        left -= size
        n += 1


def run(opts: Options) -> dict[str, Any]:
    gib = float(os.environ.get("EVIDOCK_BENCH_EXPORT_GIB", "0") or 0)
    total = int(gib * GiB) if gib > 0 else (GiB // 8 if opts.quick else GiB)
    with scratch(opts, "export") as tmp:
        _make_originals(tmp / "card", total)
        ctx = open_context(settings_for(tmp / "home"), create=True)
        try:
            ingest_device(ctx, tmp / "card", serial="BENCH-CAM-1", officer=None, actor="bench")
            shutil.rmtree(tmp / "card")
            with ctx.catalog.read() as txn:
                items = txn.items()
            stored = [ctx.store.path_for(i.sha256) for i in items]
            spec = Spec(package_id="bench", case_number=None, items=tuple(i.id for i in items),
                        originals=True, copies=False, recipient="bench", purpose="诉讼",
                        requested_by="bench", approved_by="bench", approved_at=None)  # fmt: skip
            base_s: list[float] = []
            ours_s: list[float] = []
            for run_no in range(RUNS):
                drop_cache(stored)
                dest = tmp / f"cp{run_no}"
                dest.mkdir()
                script = (f"cp {' '.join(map(str, stored))} {dest}/ && "
                          f"sha256sum {dest}/* > /dev/null")  # fmt: skip
                t0 = time.perf_counter()
                subprocess.run(["sh", "-c", script], check=True)
                base_s.append(time.perf_counter() - t0)
                shutil.rmtree(dest)
                drop_cache(stored)
                out = tmp / f"bag{run_no}.zip"
                t0 = time.perf_counter()
                build_package(ctx, spec, out, now=ctx.clock())
                ours_s.append(time.perf_counter() - t0)
                out.unlink()
                os.sync()
        finally:
            ctx.close()
    base, ours = median(base_s), median(ours_s)
    r = ratio(ours, base)
    print(render_table(f"export of {total / GiB:.2f} GiB of originals (median of {RUNS})",
                       ["what", "seconds"],
                       [["cp + sha256sum", f"{base:.2f}"],
                        ["evidock export (zip64)", f"{ours:.2f}"],
                        ["ratio (target <= 1.3)", f"{r:.2f}"]]))  # fmt: skip
    if r > 1.3:
        note(f"export is {r:.2f}x the plain copy, above the 1.3x target")
    return {"export_gib": total / GiB, "cp_sha256_s": base, "export_s": ours, "export_ratio": r}
