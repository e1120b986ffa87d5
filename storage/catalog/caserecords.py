"""Frozen records of cases, activities, links, excuses and offload checks. ORM rows never leave.

Codes (stage, record type, enforcement type, ...) are plain strings here; their vocabulary and
their Chinese and English names live in ``ingest.cases.vocab``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

FILE_TIME_SOURCE = "file-mtime"  # an item's time taken from its file, not the camera
UNKNOWN_SOURCE = "unknown"  # reference_source of an item whose recording time has no trusted bound


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCase:
    number: str
    title: str
    enforcement_type: str
    procedure: str
    handler: str
    reviewer: str | None
    approver: str | None
    confidentiality: str
    opened_at: datetime
    opened_by: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    id: int
    number: str
    title: str
    enforcement_type: str
    procedure: str
    handler: str
    reviewer: str | None
    approver: str | None
    confidentiality: str
    status: str
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    archive_due_at: datetime | None
    archived_at: datetime | None
    archived_by: str | None
    stage: str = "initiation"  # Art. 4: where the case stands now


@dataclass(frozen=True, slots=True, kw_only=True)
class NewActivity:
    stage: str
    record_type: str
    officers: tuple[str, ...]
    place: str
    start_at: datetime
    end_at: datetime
    no_av_reason: str
    note: str
    created_at: datetime
    created_by: str
    disputed: bool = False  # Art. 21: likely to cause an administrative dispute


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity:
    id: int
    case_id: int
    case_number: str
    stage: str
    record_type: str
    officers: tuple[str, ...]
    officer_ids: tuple[int, ...]
    place: str
    start_at: datetime
    end_at: datetime
    no_av_reason: str
    note: str
    created_at: datetime
    created_by: str
    disputed: bool = False  # Art. 21: likely to cause an administrative dispute


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDecision:
    """A step of the internal approval (Art. 32) as it is recorded."""

    case_id: int
    step: str  # propose, review, approve
    outcome: str | None  # review: agree/disagree; approve: approve/reject
    officer: str  # the badge of the person deciding
    opinion: str
    reasons: str
    decided_at: datetime
    decided_by: str
    event_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    id: int
    case_id: int
    case_number: str
    step: str
    outcome: str | None
    officer: str
    opinion: str
    reasons: str
    decided_at: datetime
    decided_by: str
    event_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NewLink:
    case_id: int
    item_id: int
    activity_id: int | None
    stage: str
    record_type: str | None
    how: str
    why: str
    linked_by: str
    linked_at: datetime
    linked_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Link:
    id: int
    case_id: int
    item_id: int
    activity_id: int | None
    stage: str
    record_type: str | None
    how: str
    why: str
    linked_by: str
    linked_at: datetime
    unlinked_at: datetime | None
    unlinked_by: str | None
    unlink_reason: str | None
    is_video: bool

    @property
    def live(self) -> bool:
        return self.unlinked_at is None


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkedRecording:
    """An item live-linked to a case, as the measure of its activities' A/V coverage needs it."""

    case_id: int
    activity_id: int | None  # the activity it was linked for, if any
    item_id: int
    start: datetime | None
    end: datetime | None
    is_video: bool
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OffloadInput:
    """Everything the 24-hour rule needs to know about one item and the device it came from."""

    item_id: int
    device_serial: str
    officer_badge: str | None
    session_id: int
    recorded_start: datetime | None
    recorded_end: datetime | None
    time_source: str | None
    flags: tuple[str, ...]
    file_mtime: datetime
    acquired_at: datetime
    durable_at: datetime | None
    device_registered: bool
    in_service_since: datetime | None  # documented start of service (device add --in-service-since)
    previous_dock_at: datetime | None  # the device's docking before this item's session
    docked_at: datetime | None = None  # the dock's clock when this item's session began
    # median of (recorded end - file time) over the session's items with a camera time, and
    # how many there were: what the camera's clock said for its other files of this docking
    session_offset_s: float | None = None
    session_items: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class OffloadCheck:
    item_id: int
    reference_end: datetime | None  # None: no trustworthy lower bound for the recording time
    reference_source: str
    clock_problems: tuple[str, ...]
    durable_at: datetime | None
    delay_s: float | None
    late_flag_seq: int | None
    checked_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckedItem:
    """An item with its offload check, as the overdue report lists it."""

    item_id: int
    device_serial: str
    officer_badge: str | None
    session_id: int
    path: str
    recorded_end: datetime | None
    acquired_at: datetime
    durable_at: datetime | None
    check: OffloadCheck | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Excuse:
    id: int
    item_id: int
    session_id: int | None
    reason: str
    returned_at: datetime | None
    granted_by: str
    granted_at: datetime
    event_seq: int


# A device's life (issue 20): its status from a time; no status row means in service.
IN_SERVICE, RETIRED, LOST, REPAIR = "in-service", "retired", "lost", "repair"
DEVICE_STATUSES = (IN_SERVICE, RETIRED, LOST, REPAIR)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    """A device's status from ``start_at`` (issue 20)."""

    serial: str
    status: str  # in-service, retired, lost, repair
    start_at: datetime
    reason: str
    actor: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LostDevice:
    """A device reported lost, and what may have been on it: recordings made since its last
    docking (while assigned) were never offloaded."""

    serial: str
    officer_badge: str | None
    lost_at: datetime
    last_docked_at: datetime | None
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInService:
    serial: str
    officer_badge: str
    assigned_at: datetime
    last_docked_at: datetime | None  # latest docking at or before the report time
