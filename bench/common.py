"""Shared helpers: scratch folders on a real disk, timing, medians, page-cache drops, tables."""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ingest.config import Settings, parse

MiB = 1024 * 1024
GiB = 1024 * MiB
DEFAULT_BASE = Path("/var/tmp")
_MEMORY_FS = {"tmpfs", "ramfs", "devtmpfs"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    quick: bool
    base: Path
    size: int | None = None
    """``--size N``: the one log size of ``verify`` (default: its own sizes)."""


def fs_type(path: Path) -> str:
    """The file-system type that holds ``path`` (from /proc/self/mountinfo; '?' if unknown)."""
    real = os.path.realpath(path)
    best, kind = "", "?"
    with contextlib.suppress(OSError), open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) < 5 or not right:
                continue
            mount = fields[4].replace("\\040", " ")
            inside = real == mount or real.startswith(mount.rstrip("/") + "/")
            if inside and len(mount) >= len(best):
                best, kind = mount, right.split()[0]
    return kind


def pick_base(requested: Path | None) -> Path:
    """A folder on a disk-backed file system: the requested one, /var/tmp, or the cwd."""
    for cand in [requested] if requested is not None else [DEFAULT_BASE, Path.cwd()]:
        if cand is None or not cand.is_dir():
            continue
        if fs_type(cand) not in _MEMORY_FS:
            return cand.resolve()
        if requested is not None:
            raise SystemExit(f"{cand} is on {fs_type(cand)}: benchmarks need a real disk")
    raise SystemExit("no disk-backed scratch folder found; pass --dir")


@contextlib.contextmanager
def scratch(opts: Options, label: str) -> Iterator[Path]:
    """A fresh temp folder under the base folder, removed (read-only store files too) after."""
    path = Path(tempfile.mkdtemp(prefix=f"evidock-bench-{label}-", dir=opts.base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def settings_for(home: Path, catalog_url: str | None = None, dock: str = "bench-dock") -> Settings:
    """Settings for a data dir, exactly as tests.conftest.make_settings builds them."""
    url = catalog_url or f"sqlite:///{home / 'catalog.db'}"
    env = {"EVIDOCK_HOME": str(home), "EVIDOCK_CATALOG_URL": url, "EVIDOCK_DOCK_NAME": dock}
    return parse({}, env=env, source="bench")


def drop_cache(paths: Sequence[Path]) -> None:
    """Evict the clean pages of each file (posix_fadvise DONTNEED; no root needed)."""
    for p in paths:
        fd = os.open(p, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def vm_hwm_kib() -> int:
    """Peak resident set of this process in KiB (VmHWM)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def vm_rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fmt_s(seconds: float) -> str:
    if seconds >= 100:
        return f"{seconds:.0f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def fmt_rate(per_s: float, unit: str) -> str:
    if per_s >= 1e6:
        return f"{per_s / 1e6:.2f} M{unit}/s"
    if per_s >= 1e4:
        return f"{per_s / 1e3:.1f} k{unit}/s"
    return f"{per_s:.0f} {unit}/s"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; the first column is left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: Sequence[str]) -> str:
        parts = [r[0].ljust(widths[0])]
        parts += [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "-" * len(line(cells[0]))
    out = [f"\n{title}", rule, line(cells[0]), rule, *(line(r) for r in cells[1:]), rule]
    return "\n".join(out)


def note(text: str) -> None:
    print(f"  · {text}", flush=True)
