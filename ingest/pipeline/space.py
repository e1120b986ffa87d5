"""Room on the evidence store, decided before anything is copied (issue 23).

A docking adds up the apparent sizes (``st_size``) of the files it is going to copy: a sparse
file costs its full size, because its staging copy holds every byte of it. A file that would
not fit in the free space less a margin (kept for the catalog, the custody log and other
writers) is not started: it stays on the device with the reason, and nothing of it is written.
Each copy checks the free space again just before it starts.
"""

from __future__ import annotations

from collections.abc import Sequence

NO_SPACE = "no-space"
DEFAULT_MARGIN = 256 * 1024 * 1024


def fits(size: int, free: int, margin: int) -> bool:
    return size + margin <= free


def plan(sizes: Sequence[tuple[bytes, int]], free: int, margin: int) -> dict[bytes, str]:
    """Pure: which files do not fit, in listing order, with the reason for each; the ones that
    fit are counted against the free space as they would be copied."""
    refused: dict[bytes, str] = {}
    for path, size in sizes:
        if fits(size, free, margin):
            free -= size
        else:
            refused[path] = reason(size, free, margin)
    return refused


def reason(size: int, free: int, margin: int) -> str:
    return (
        f"not enough free space on the evidence store: it needs {size} bytes and "
        f"{margin} bytes are kept free, {max(free, 0)} bytes are left; it stays on the device: "
        "make room on the store, then dock it again"
    )
