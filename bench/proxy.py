"""Review proxies: evidock's transcode job against the same ffmpeg commands run by hand.

A 1080p H.264/AAC clip (simcam) is ingested into a fresh data dir (SQLite). Each run, in
alternation, the page cache of the stored original dropped before each:

- baseline: the very commands evidock builds (proxy, poster, contact sheet), each run directly
  as ``ffmpeg ARGS`` from this process, one after the other;
- evidock: one transcode job run to the end by a ``WorkerPool`` (claim under a lease, source
  re-hashed, ffprobe, the three ffmpeg runs below acquisition's priority with progress read,
  each output probed and compared with the source, hashed, filed, recorded with its custody
  events in one transaction);
- proxy only: the proxy command run directly against ``transcode.run`` (the priority wrappers
  and the progress pipe) plus hashing its output.

Reported: overhead ratios (target < 1.05) and the speed factor, seconds of 1080p video per
second of wall time.
"""

from __future__ import annotations

import dataclasses
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Options, drop_cache, median, note, ratio, scratch, settings_for, table
from ingest.context import Context, open_context
from ingest.jobs.worker import WorkerPool
from ingest.media import transcode as tc
from ingest.media.kinds import TRANSCODE
from ingest.media.probe import ffprobe, require_tool, sniff_file
from ingest.media.simcam import make_clip
from ingest.media.streams import summarize
from ingest.pipeline.run import ingest_device
from storage.blobs.hashing import sha256_path
from storage.catalog.jobs import JobOps

RUNS = 3


def _commands(src: Path, out: Path, ctx: Context, seconds: float) -> list[tc.Command]:
    s = ctx.settings.worker
    c = sniff_file(src).container
    assert c is not None
    st = summarize(ffprobe(src, container=c).data or {})
    assert st.video_index is not None
    n = s.contact_sheet_frames
    times = sorted({round(seconds * (k + 0.5) / n, 3) for k in range(n)})
    return [
        tc.video_proxy(src, out / "proxy.mp4", container=c, video=st.video_index,
                       audio=st.audio_index, channels=st.channels, preset=s.preset, crf=s.crf),
        tc.poster(src, out / "poster.jpg", container=c, video=st.video_index,
                  at_s=min(seconds * 0.1, 10.0)),
        tc.contact_sheet(src, out / "sheet.jpg", container=c, video=st.video_index, times=times,
                         cols=3),
    ]  # fmt: skip


def _direct(cmds: list[tc.Command]) -> float:
    exe = require_tool("ffmpeg")
    t0 = time.perf_counter()
    for c in cmds:
        subprocess.run([exe, *c.args], check=True, stdout=subprocess.DEVNULL, timeout=3600)
    return time.perf_counter() - t0


def _job(ctx: Context, item_id: int) -> float:
    with ctx.catalog.write() as txn:
        JobOps(txn).enqueue(kind=TRANSCODE, item_id=item_id, now=ctx.clock())
    settings = dataclasses.replace(ctx.settings.worker, concurrency=1, max_attempts=1)
    t0 = time.perf_counter()
    WorkerPool(ctx, drain=True, settings=settings).run()
    took = time.perf_counter() - t0
    with ctx.catalog.read() as txn:
        failed = JobOps(txn).jobs(states=["failed"])
    if failed:
        raise SystemExit(f"bench: the transcode job failed: {failed[0].last_error}")
    return took


def _proxy_only(cmd: tc.Command, seconds: float) -> float:
    t0 = time.perf_counter()
    tc.run(cmd, timeout_s=3600, duration_s=seconds)
    sha256_path(cmd.output)
    return time.perf_counter() - t0


def run(opts: Options) -> dict[str, Any]:
    seconds = 5.0 if opts.quick else 30.0
    with scratch(opts, "proxy") as tmp:
        card = tmp / "card" / "DCIM"
        make_clip(card / "REC_0001.MP4", start=datetime(2026, 11, 26, tzinfo=UTC),
                  seconds=seconds, size="1920x1080", gps=None)  # fmt: skip
        ctx = open_context(settings_for(tmp / "home"), create=True)
        try:
            ingest_device(ctx, card.parent, serial="BENCH-P", officer=None, actor="bench")
            # the job the ingest queued runs once untimed: a warm-up of ffmpeg and the stores
            WorkerPool(ctx, drain=True).run()
            with ctx.catalog.read() as txn:
                (item,) = txn.items()
            src = ctx.store.path_for(item.sha256)
            note(f"clip: {seconds:.0f} s of 1920x1080 H.264/AAC, {src.stat().st_size >> 20} MiB")
            out = tmp / "direct"
            out.mkdir()
            cmds = _commands(src, out, ctx, seconds)
            direct_t, job_t, bare_t, wrapped_t = [], [], [], []
            for i in range(RUNS):
                drop_cache([src])
                direct_t.append(_direct(cmds))
                drop_cache([src])
                job_t.append(_job(ctx, item.id))
                drop_cache([src])
                bare_t.append(_direct(cmds[:1]))
                drop_cache([src])
                wrapped_t.append(_proxy_only(cmds[0], seconds))
                note(f"run {i + 1}/{RUNS}: direct {direct_t[-1]:.2f} s, evidock job "
                     f"{job_t[-1]:.2f} s; proxy alone {bare_t[-1]:.2f} s vs "
                     f"{wrapped_t[-1]:.2f} s")  # fmt: skip
        finally:
            ctx.close()
    d, j, b, w = median(direct_t), median(job_t), median(bare_t), median(wrapped_t)
    rows = [
        ["ffmpeg direct: proxy + poster + contact sheet", *(f"{t:.2f}" for t in direct_t),
         f"{d:.2f}", "1.00", f"{seconds / d:.2f}"],
        ["evidock transcode job (worker)", *(f"{t:.2f}" for t in job_t), f"{j:.2f}",
         f"{ratio(j, d):.3f}", f"{seconds / j:.2f}"],
        ["ffmpeg direct: proxy alone", *(f"{t:.2f}" for t in bare_t), f"{b:.2f}", "1.00",
         f"{seconds / b:.2f}"],
        ["evidock transcode.run: proxy alone + hash", *(f"{t:.2f}" for t in wrapped_t),
         f"{w:.2f}", f"{ratio(w, b):.3f}", f"{seconds / w:.2f}"],
    ]  # fmt: skip
    heads = ["", *(f"run {i + 1} s" for i in range(RUNS)), "median s", "ratio", "video s/s"]
    print(table(f"proxy: {seconds:.0f} s of 1080p, preset {ctx.settings.worker.preset} crf "
                f"{ctx.settings.worker.crf}, target ratio < 1.05", heads, rows))  # fmt: skip
    return {
        "clip_seconds": seconds,
        "direct_s": d,
        "job_s": j,
        "job_overhead_ratio": ratio(j, d),
        "proxy_direct_s": b,
        "proxy_wrapped_s": w,
        "proxy_overhead_ratio": ratio(w, b),
        "speed_factor_job": seconds / j,
        "speed_factor_proxy": seconds / w,
        "target_ratio": 1.05,
    }
