"""Device profiles: which docked media are evidence, whose they are, and how to read them.

Profiles are TOML files: the built-in ones beside this module plus a drop-in folder. Matching
is pure: USB ids and the file-system label (from udev) pick candidates before mounting; marker
files on the read-only medium pick the profile after. Serials a device reports are recorded
but are not identity: a profile may require the serial to be registered. A serial written in
file names is the weakest source: any file can carry any name, so it counts only when every
serial-bearing name agrees, and a name claiming another device's serial is flagged, not obeyed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from devices.errors import DeviceError
from i18n import N_, _

BUILTIN_DIR = Path(__file__).with_name("profiles")
SERIAL_SOURCES = ("udev", "file", "filename", "folder")
FLAG_SERIAL_MISMATCH = "serial_mismatch"  # an item whose file name claims another serial
_SERIAL_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class ProfileError(DeviceError):
    code = "bad-profile"
    hint = N_(
        "Fix the profile file named in the message (see devices/profiles/*.toml for examples)."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class UsbProps:
    """What udev says about a block device (a plain record; pyudev stays in devices.udev)."""

    devnode: str
    devtype: str
    bus: str
    vendor_id: str
    model_id: str
    vendor: str
    model: str
    serial_short: str
    fs_type: str
    fs_label: str
    fs_usage: str
    usb_driver: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceProfile:
    name: str
    kind: str
    description: str
    priority: int
    usb_ids: tuple[tuple[str, str], ...] = ()
    label_pattern: str | None = None
    marker_globs: tuple[str, ...] = ()
    serial_sources: tuple[str, ...] = ("udev", "folder")
    serial_file: str | None = None
    filename_pattern: str | None = None
    media_globs: tuple[str, ...] = ("**",)
    time_pattern: str | None = None
    important_pattern: str | None = None
    clock_zone: str = "local"
    require_registered: bool = False
    wipe_after_offload: bool = False


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob: '*' and '?' stay inside one folder, '**' crosses folders."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i)
            if j == -1:
                out.append(re.escape(c))
            else:
                out.append(pattern[i : j + 1])
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


def matches_any(path: str, globs: Iterable[str]) -> bool:
    return any(_compiled(g).match(path) for g in globs)


def markers_present(globs: Sequence[str], paths: Iterable[str]) -> bool:
    """Does any file path, or any folder above one, match a marker glob?"""
    if not globs:
        return True
    for p in paths:
        parts = p.split("/")
        for depth in range(1, len(parts) + 1):
            if matches_any("/".join(parts[:depth]), globs):
                return True
    return False


def usb_candidates(profiles: Sequence[DeviceProfile], props: UsbProps) -> list[DeviceProfile]:
    """Profiles whose USB ids and label rules fit the device (unconstrained ones fit all)."""
    out = []
    for p in profiles:
        if p.usb_ids and not any(
            v == props.vendor_id.lower() and m in ("*", props.model_id.lower())
            for v, m in p.usb_ids
        ):
            continue
        if p.label_pattern and not re.search(p.label_pattern, props.fs_label):
            continue
        out.append(p)
    return sorted(out, key=lambda p: -p.priority)


def match_medium(candidates: Sequence[DeviceProfile], paths: Sequence[str]) -> DeviceProfile | None:
    """The highest-priority candidate whose marker files are on the medium."""
    for p in sorted(candidates, key=lambda p: -p.priority):
        if markers_present(p.marker_globs, paths):
            return p
    return None


def claimed_serials(profile: DeviceProfile, paths: Sequence[str]) -> list[str | None]:
    """The serial each file name claims by the profile's pattern (None where it claims none),
    in the order of ``paths``."""
    if not profile.filename_pattern:
        return [None] * len(paths)
    rx = re.compile(profile.filename_pattern)
    out: list[str | None] = []
    for p in paths:
        m = rx.search(p.rsplit("/", 1)[-1])
        claim = m.groupdict().get("serial") if m else None
        out.append(claim if claim and _SERIAL_OK.match(claim) else None)
    return out


def claimed_officer(profile: DeviceProfile | None, path: str) -> str | None:
    """The officer number a file name carries by the profile's pattern (group ``officer``, as
    GA/T 947 names have it); None where the profile or the name gives none."""
    if profile is None or not profile.filename_pattern:
        return None
    m = re.search(profile.filename_pattern, path.rsplit("/", 1)[-1])
    claim = m.groupdict().get("officer") if m else None
    return claim if claim and _SERIAL_OK.match(claim) else None


def serial_from_filenames(profile: DeviceProfile, paths: Sequence[str]) -> str | None:
    """The serial every serial-bearing file name agrees on; None when no name claims one or
    two names claim different ones (the first of them is no better than the others)."""
    claims = {c for c in claimed_serials(profile, paths) if c is not None}
    return claims.pop() if len(claims) == 1 else None


def serial_mismatches(
    profile: DeviceProfile | None, paths: Sequence[str], serial: str
) -> dict[int, str]:
    """Files whose name claims a serial other than the device's ``serial``: index -> claim.

    Such a file is still the docked device's (it came off that medium); the claim is shown
    and recorded next to it (flag ``serial_mismatch``), never used to file it elsewhere."""
    if profile is None:
        return {}
    claims = claimed_serials(profile, paths)
    return {i: c for i, c in enumerate(claims) if c is not None and c != serial}


def clean_serial(text: str) -> str | None:
    """A serial as reported by a device, or None when it is not a plausible identifier."""
    s = text.strip().replace(" ", "_")
    return s if _SERIAL_OK.match(s) else None


def load_profiles(extra_dirs: Sequence[Path] = ()) -> list[DeviceProfile]:
    """Built-in profiles, then drop-ins; a drop-in with a built-in's name replaces it."""
    found: dict[str, DeviceProfile] = {}
    for folder in (BUILTIN_DIR, *extra_dirs):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            prof = parse_profile(path.read_text(encoding="utf-8"), source=str(path))
            found[prof.name] = prof
    return sorted(found.values(), key=lambda p: -p.priority)


def parse_profile(text: str, *, source: str) -> DeviceProfile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(
            _("{source}: not valid TOML: {error}").format(source=source, error=e)
        ) from e
    match = _table(raw, "match", source)
    serial = _table(raw, "serial", source)
    media = _table(raw, "media", source)
    clock = _table(raw, "clock", source)
    policy = _table(raw, "policy", source)
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,62}", name):
        raise ProfileError(
            _("{source}: name must be lowercase letters, digits, '.', '_' or '-'").format(
                source=source
            )
        )
    sources = tuple(serial.get("sources", ["udev", "folder"]))
    bad = [s for s in sources if s not in SERIAL_SOURCES]
    if bad:
        raise ProfileError(
            _("{source}: unknown serial source(s) {bad}; use {known}").format(
                source=source, bad=bad, known=SERIAL_SOURCES
            )
        )
    usb_ids = []
    for entry in match.get("usb_ids", []):
        m = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4}|\*)", str(entry))
        if not m:
            raise ProfileError(
                _("{source}: usb_ids entry {entry} is not 'vvvv:pppp'").format(
                    source=source, entry=repr(entry)
                )
            )
        usb_ids.append((m.group(1).lower(), m.group(2).lower()))
    for key, value in (
        ("filename_pattern", serial.get("filename_pattern")),
        ("time_pattern", media.get("time_pattern")),
        ("important_pattern", media.get("important_pattern")),
        ("label_pattern", match.get("label_pattern")),
    ):
        if value is not None:
            try:
                re.compile(value)
            except re.error as e:
                raise ProfileError(
                    _("{source}: {key} is not a valid regular expression: {error}").format(
                        source=source, key=key, error=e
                    )
                ) from e
    return DeviceProfile(
        name=name,
        kind=str(raw.get("kind", "camera")),
        description=str(raw.get("description", "")),
        priority=int(raw.get("priority", 0)),
        usb_ids=tuple(usb_ids),
        label_pattern=match.get("label_pattern"),
        marker_globs=tuple(match.get("marker_globs", [])),
        serial_sources=sources,
        serial_file=serial.get("serial_file"),
        filename_pattern=serial.get("filename_pattern"),
        media_globs=tuple(media.get("globs", ["**"])),
        time_pattern=media.get("time_pattern"),
        important_pattern=media.get("important_pattern"),
        clock_zone=str(clock.get("zone", "local")),
        require_registered=bool(policy.get("require_registered", False)),
        wipe_after_offload=bool(policy.get("wipe_after_offload", False)),
    )


def _table(raw: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    v = raw.get(key, {})
    if not isinstance(v, dict):
        raise ProfileError(_("{source}: [{key}] must be a table").format(source=source, key=key))
    return v
