"""Frozen records that leave the storage subsystem. ORM rows never do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Officer:
    id: int
    badge: str
    name: str
    unit: str
    certificate_no: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceHold:
    """An officer's hold of a device: from ``start_at`` until ``end_at`` (None: still held)."""

    officer: Officer
    start_at: datetime
    end_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Person:
    """Someone who uses evidock (issue 16): a login name, roles, the OS account the CLI maps
    to them. ``badge`` links an officer's person to the officer row of that badge."""

    id: int
    username: str
    name: str
    badge: str | None
    unit: str
    roles: frozenset[str]
    os_user: str | None
    disabled: bool

    @property
    def actor(self) -> str:
        """The custody actor string of this person."""
        return f"person:{self.username}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Device:
    id: int
    serial: str
    kind: str
    vendor: str
    model: str
    profile: str
    registered: bool
    officer_badge: str | None
    created_at: datetime
    last_docked_at: datetime | None
    in_service_since: datetime | None = None  # documented, not the registration time


@dataclass(frozen=True, slots=True, kw_only=True)
class Dock:
    id: int
    name: str
    host: str
    public_key: bytes
    key_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DockSession:
    id: int
    dock_name: str
    device_serial: str
    source: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    owner: SessionOwner | None = None  # the process running it (None: recorded before 0013)


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionOwner:
    """The process that runs a dock session: its host, pid and a mark of when it started
    (boot id and start time), so that a pid reused by another process is not taken for it."""

    host: str
    pid: int
    start: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFacts:
    """What the probes found out about one recording, as filed in the catalog."""

    mime_type: str | None = None
    recorded_start: datetime | None = None
    recorded_end: datetime | None = None
    time_source: str | None = None
    duration_s: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    make: str | None = None
    model: str | None = None
    camera_serial: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    flags: tuple[str, ...] = ()
    probe_errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NewItem:
    sha256: str
    size: int
    device_id: int
    officer_id: int | None
    session_id: int
    original_path: bytes
    original_path_display: str
    source_mtime_ns: int
    acquired_at: datetime
    facts: MediaFacts
    source_inode: str | None = None  # "st_dev:st_ino" of the file the bytes were read from
    source_ctime_ns: int | None = None  # its change time when they were read


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    id: int
    sha256: str
    size: int
    device_serial: str
    officer_badge: str | None
    session_id: int
    original_path: bytes
    original_path_display: str
    source_mtime_ns: int
    state: str
    acquired_at: datetime
    durable_at: datetime | None
    confidentiality: str
    facts: MediaFacts
    source_inode: str | None = None
    source_ctime_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredObject:
    backend: str
    sha256: str
    key: str
    size: int
    version_id: str | None
    created_at: datetime
    role: str = "original"  # or "derived" (a proxy, poster, waveform)
    checksum: str | None = None  # as the object store reported it (S3: base64, "-N" multipart)
    lock_mode: str | None = None
    retention_until: datetime | None = None
    legal_hold: bool = False
    released_at: datetime | None = None  # a local copy dropped after its S3 copy was verified


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One custody event exactly as stored; ``data`` is the canonical JSON text."""

    seq: int
    time: str
    type: str
    item: int | None
    actor: str
    dock: str
    data: str
    prev: str


EventColumns = tuple[int, str, str, int | None, str, str, str, str]
"""An ``Event``'s fields as a plain tuple, in field order (seq, time, type, item, actor, dock,
data, prev): what a replay of the whole log reads (``LogRows.event_columns``); it builds an
``Event`` (``event_of``) only for an event it reports or hands on (issue 19: a record for each
of a million events was a sixth of the replay)."""


def event_of(cols: EventColumns) -> Event:
    seq, time, type_, item, actor, dock, data, prev = cols
    return Event(
        seq=seq, time=time, type=type_, item=item, actor=actor, dock=dock, data=data, prev=prev
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class LogHead:
    size: int
    last_leaf: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    id: int
    dock_name: str
    size: int
    root: str
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemDigest:
    """What an audit compares of an item with its custody events: hash, size and state."""

    id: int
    sha256: str
    size: int
    state: str


# -- job queue and derived media (issue 5) ----------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """Queued work; ``attempts`` counts claims, ``last_error`` keeps the last failure."""

    id: int
    kind: str
    item_id: int | None
    state: str
    attempts: int
    last_error: str
    not_before: datetime
    lease_owner: str | None
    lease_expires: datetime | None
    created_at: datetime
    finished_at: datetime | None
    node: str | None = None  # only workers of this node may run it (its spool has the input)


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedMedia:
    """A proxy, poster, contact sheet or waveform made from an item; ``params`` is JSON text."""

    id: int
    item_id: int
    kind: str
    sha256: str
    size: int
    params: str
    created_at: datetime
