"""Which device a docked medium is: its serial, where that came from, and the files whose
names claim another device's serial. Read from the walked listing, before anything is copied.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from devices.errors import DeviceError
from devices.profiles import DeviceProfile, clean_serial, serial_from_filenames, serial_mismatches
from devices.walk import Listing, open_file, open_root, walk


def medium_listing(root: Path, *, max_depth: int, max_entries: int) -> Listing:
    """The files of a medium (walked within the docking's bounds)."""
    fd = open_root(root)
    try:
        return walk(fd, max_depth=max_depth, max_entries=max_entries)
    finally:
        os.close(fd)


def medium_paths(root: Path, *, max_depth: int, max_entries: int) -> list[str]:
    """The files of a medium, for profile matching."""
    return [
        f.display for f in medium_listing(root, max_depth=max_depth, max_entries=max_entries).files
    ]


def folder_serial(root: Path) -> str:
    """A stable serial for a folder ingested without --device: its resolved path, hashed."""
    digest = hashlib.sha256(os.fsencode(root.resolve())).hexdigest()[:12]
    return f"folder-{digest}"


def identify(
    root: Path,
    root_fd: int,
    listing: Listing,
    profile: DeviceProfile | None,
    reported_serial: str | None,
    *,
    is_mount: Callable[[Path], bool] = os.path.ismount,
) -> tuple[str, str]:
    """The device's serial and where it came from, by the profile's list of sources.

    A folder's name is its identity only when it is not a mount point: a mount point is named
    by whoever mounted it (evidock names its own after the kernel's device, 'sdb1'), so every
    camera docked there would share it. File names count only when every serial-bearing name
    agrees; names that disagree pick nobody, and the serial then comes from the path."""
    sources = profile.serial_sources if profile else ("udev", "folder")
    for source in sources:
        found: str | None = None
        if source == "udev" and reported_serial:
            found = clean_serial(reported_serial)
        elif source == "file" and profile is not None and profile.serial_file:
            found = _serial_file(root_fd, listing, profile.serial_file)
        elif source == "filename" and profile is not None:
            found = serial_from_filenames(profile, [f.display for f in listing.files])
        elif source == "folder" and profile is not None and not is_mount(root):
            found = clean_serial(root.name)
        if found:
            return found, source
    return folder_serial(root), "path"


def claimed_elsewhere(
    listing: Listing, profile: DeviceProfile | None, serial: str
) -> dict[bytes, str]:
    """The files whose name claims a serial other than ``serial``: path -> the claimed one."""
    found = serial_mismatches(profile, [f.display for f in listing.files], serial)
    return {listing.files[i].path: claim for i, claim in found.items()}


def _serial_file(root_fd: int, listing: Listing, rel: str) -> str | None:
    wanted = os.fsencode(rel)
    entry = next((f for f in listing.files if f.path == wanted), None)
    if entry is None or entry.size > 4096:
        return None
    try:
        fd = open_file(root_fd, entry)
    except DeviceError:
        return None
    try:
        text = os.read(fd, 256).decode("utf-8", "replace")
    finally:
        os.close(fd)
    lines = text.strip().splitlines()
    return clean_serial(lines[0]) if lines else None
