"""Room on the evidence store, decided before anything is copied (issues 23 and 18).

A docking adds up the apparent sizes (``st_size``) of the files it is going to copy: a sparse
file costs its full size, because its staging copy holds every byte of it. When they do not
all fit in the free space less a margin (kept for the catalog, the custody log and other
writers), the docking is refused up front (issue 18): the device is left untouched, the
session is closed 'refused' and its 'acquisition_failed' event (kind ``no-space``) and the
dock's bay say how much is needed and how much is free. A device is taken whole or not at
all, so a nearly full store is not filled to its margin with whichever files came first,
leaving the rest of that camera and every later one to fail; the free-space alert
(monitoring/alerts.yml, EvidockStoreNearlyFull) warns before it comes to that.

Each copy still checks the free space again just before it starts (another bay may have used
it meanwhile): a file that no longer fits stays on the device with the reason. Reasons are
``Said``: in the reader's language for the bay, in English for the custody event.
"""

from __future__ import annotations

from collections.abc import Sequence

from i18n import _, n_
from ingest.pipeline.said import Said, both

NO_SPACE = "no-space"
DEFAULT_MARGIN = 256 * 1024 * 1024


def fits(size: int, free: int, margin: int) -> bool:
    return size + margin <= free


def device_refusal(sizes: Sequence[tuple[str, int]], free: int, margin: int) -> Said | None:
    """Pure: why a docking that copies these files (display path, size) is refused up front,
    or None when they all fit."""
    needed = sum(size for _name, size in sizes)
    if fits(needed, free, margin):
        return None
    name, largest = max(sizes, key=lambda s: s[1])
    return both(
        lambda: n_(
            "not enough free space on the evidence store for this device: its {n} file to "
            "copy needs {needed} bytes (the largest, {name}, {largest} bytes) and {margin} bytes "
            "are kept free, {free} bytes are free; nothing was copied, the device is untouched: "
            "make room on the store, then dock it again",
            "not enough free space on the evidence store for this device: its {n} files to "
            "copy need {needed} bytes (the largest, {name}, {largest} bytes) and {margin} bytes "
            "are kept free, {free} bytes are free; nothing was copied, the device is untouched: "
            "make room on the store, then dock it again",
            len(sizes),
        ).format(
            n=len(sizes), needed=needed, name=name, largest=largest, margin=margin,
            free=max(free, 0),
        )
    )  # fmt: skip


def reason(size: int, free: int, margin: int) -> Said:
    return both(
        lambda: _(
            "not enough free space on the evidence store: it needs {size} bytes and {margin} "
            "bytes are kept free, {free} bytes are left; it stays on the device: make room on "
            "the store, then dock it again"
        ).format(size=size, margin=margin, free=max(free, 0))
    )
