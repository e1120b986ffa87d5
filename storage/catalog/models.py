"""SQLAlchemy ORM models of the catalog. Nothing outside ``storage`` sees these classes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every dialect and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the catalog; times must be aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return self.as_utc(value)

    @staticmethod
    def as_utc(value: datetime) -> datetime:
        """``value.replace(tzinfo=UTC)``; built by ``combine`` for a naive one, the same value
        at a fifth of the cost on CPython 3.11 (measured: reports convert thousands of times,
        issue 19)."""
        if value.tzinfo is not None:
            return value.replace(tzinfo=UTC)
        return datetime.combine(value.date(), value.time(), UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class OfficerRow(Base):
    __tablename__ = "officer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    badge: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(200), default="")
    certificate_no: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeviceRow(Base):
    __tablename__ = "device"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    serial: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), default="camera")
    vendor: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    profile: Mapped[str] = mapped_column(String(100), default="")
    registered: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_docked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # documented start of service (a delivery note, an inventory entry); None when nobody
    # gave one. Registration in evidock (created_at) is no evidence about the camera's clock.
    in_service_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeviceAssignmentRow(Base):
    """Which officer holds a device from when to when; history is kept, never rewritten."""

    __tablename__ = "device_assignment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeviceStatusRow(Base):
    """A device's status from a time (issue 20): retired, lost, in repair, or back in service
    ("in-service"); no row means in service. History is kept, never rewritten."""

    __tablename__ = "device_status"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))


class DockRow(Base):
    __tablename__ = "dock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DockSessionRow(Base):
    __tablename__ = "dock_session"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dock_id: Mapped[int] = mapped_column(ForeignKey("dock.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), index=True)
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # issue 18: the process that runs the session (None: written before 0013), so that the next
    # start of its dock closes a session whose process is gone as 'interrupted'
    owner_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    owner_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_start: Mapped[str | None] = mapped_column(String(80), nullable=True)


def path_digest(original_path: bytes) -> bytes:
    """The SHA-256 of an item's original path: what the catalog indexes in its place (0016).

    A path may be longer than an index entry can hold (PostgreSQL's btree takes about 2.7 KB;
    a camera path of CJK names passes 4 KB), its digest never is. Lookups compare the digest
    for the index and the path itself to be exact."""
    return hashlib.sha256(original_path).digest()


def _digest_of_path(context: DefaultExecutionContext) -> bytes:
    """The column default of ``original_path_sha256``: the digest of the row's path."""
    path = context.get_current_parameters()["original_path"]  # type: ignore[no-untyped-call]
    assert isinstance(path, bytes)
    return path_digest(path)


class ItemRow(Base):
    __tablename__ = "evidence_item"
    __table_args__ = (
        # (device, path, sha256) is unique, the path by its digest (0016): see path_digest;
        # the index also serves the lookup of a path's items (device, digest)
        UniqueConstraint(
            "device_id", "original_path_sha256", "sha256", name="uq_item_device_path_digest_sha"
        ),
        Index("ix_item_recorded_start", "recorded_start"),
        Index("ix_item_state_acquired", "state", "acquired_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("dock_session.id"), index=True)
    original_path: Mapped[bytes] = mapped_column(LargeBinary)
    # path_digest(original_path): filled by every INSERT that does not give it, ORM or Core
    original_path_sha256: Mapped[bytes] = mapped_column(LargeBinary(32), default=_digest_of_path)
    original_path_display: Mapped[str] = mapped_column(Text)
    source_mtime_ns: Mapped[int] = mapped_column(BigInteger)
    # issue 23: which inode the bytes were read from ("st_dev:st_ino", text: inode numbers are
    # unsigned 64-bit) and its kernel change time then; a later docking may skip re-reading a
    # file only while both still match (ingest.pipeline.known)
    source_inode: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_ctime_ns: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    state: Mapped[str] = mapped_column(String(32))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    durable_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    confidentiality: Mapped[str] = mapped_column(String(32), default="none")
    mime_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    recorded_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recorded_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    time_source: Mapped[str | None] = mapped_column(String(32), nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    video_codec: Mapped[str | None] = mapped_column(String(64), nullable=True)
    audio_codec: Mapped[str | None] = mapped_column(String(64), nullable=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    make: Mapped[str | None] = mapped_column(String(200), nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    camera_serial: Mapped[str | None] = mapped_column(String(200), nullable=True)
    gps_lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    gps_lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    flags: Mapped[str] = mapped_column(Text, default="")
    probe_errors: Mapped[str] = mapped_column(Text, default="")


class StoredObjectRow(Base):
    """Bytes filed under their SHA-256 in one backend; items and derivatives point here by hash."""

    __tablename__ = "stored_object"
    __table_args__ = (UniqueConstraint("backend", "sha256", name="uq_stored_object_backend_sha"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    backend: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    version_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    retention_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # issue 8: originals and their derivatives in S3 (with the checksum the server reported,
    # the Object Lock mode and legal hold set), and a local copy released after upload
    role: Mapped[str] = mapped_column(String(16), default="original", server_default="original")
    checksum: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lock_mode: Mapped[str | None] = mapped_column(String(16), nullable=True)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DerivedMediaRow(Base):
    """Proxies and thumbnails made from an item (filled by the proxy work)."""

    __tablename__ = "derived_media"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRow(Base):
    """Work queued for workers (proxies, uploads); claimed under a lease."""

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_claim", "state", "not_before"),)
    # issue 8/9: the node whose local store holds the job's input (None: any node can run it)
    node: Mapped[str | None] = mapped_column(String(64), nullable=True)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("evidence_item.id"),
        nullable=True,
        index=True,  # issue 5: 0003
    )
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    lease_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # 0003


class CustodyEventRow(Base):
    """One custody event; the canonical bytes are rebuilt from these columns when verifying."""

    __tablename__ = "custody_event"
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    time: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    dock: Mapped[str] = mapped_column(String(100))
    data: Mapped[str] = mapped_column(Text)
    prev: Mapped[str] = mapped_column(String(64))


class LogNodeRow(Base):
    """Hash of the perfect Merkle subtree (level, index); level 0 holds the leaf hashes."""

    __tablename__ = "log_node"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogHeadRow(Base):
    """The single row that serialises appends: size of the log and the last leaf hash."""

    __tablename__ = "log_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    last_leaf: Mapped[str] = mapped_column(String(64))
    # size (8 bytes) + last leaf (32) + the tree's perfect subtree hashes, largest first:
    # what the next append needs, read with the lock (logrows.pack_frontier)
    frontier: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class CheckpointRow(Base):
    __tablename__ = "checkpoint"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dock_id: Mapped[int] = mapped_column(ForeignKey("dock.id"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # in S3


class WitnessCosignatureRow(Base):
    """A witness's cosignature of a checkpoint (issue 15): the note signature line as the
    witness returned it, already verified against the pinned witness key."""

    __tablename__ = "witness_cosignature"
    __table_args__ = (UniqueConstraint("checkpoint_id", "witness"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"), index=True)
    witness: Mapped[str] = mapped_column(String(200), index=True)
    line: Mapped[str] = mapped_column(Text)
    cosigned_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the witness's own time
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WitnessRefusalRow(Base):
    """A witness refused a checkpoint as inconsistent with what it saw (a fork or rollback):
    an alarm that ``evidock verify`` reports as witness-fork."""

    __tablename__ = "witness_refusal"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"), index=True)
    witness: Mapped[str] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    witness_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CheckpointTimestampRow(Base):
    """An RFC 3161 time-stamp response over a checkpoint's signed note (issue 15), as the
    TSA sent it (DER), verified against the pinned TSA chain before it was stored."""

    __tablename__ = "checkpoint_timestamp"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkpoint_id: Mapped[int] = mapped_column(ForeignKey("checkpoint.id"), unique=True)
    token: Mapped[bytes] = mapped_column(LargeBinary)
    gen_time: Mapped[datetime] = mapped_column(UTCDateTime)  # the TSA's time
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


# -- cases, links and the 24-hour rule (issue 6) ----------------------------------------------


class CaseRow(Base):
    """An enforcement case (regulation Art. 3, 32): its number, kind and the officers in charge."""

    __tablename__ = "enforcement_case"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    enforcement_type: Mapped[str] = mapped_column(String(32))
    procedure: Mapped[str] = mapped_column(String(16))
    handler_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("officer.id"), nullable=True)
    confidentiality: Mapped[str] = mapped_column(String(32), default="none")
    status: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    archive_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    archived_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Art. 4: where the case stands now; each change is a 'case_stage_changed' event
    stage: Mapped[str] = mapped_column(
        String(32), default="initiation", server_default="initiation"
    )


class CaseActivityRow(Base):
    """One recorded step of a case: its stage, record type, place and time window."""

    __tablename__ = "case_activity"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id"), index=True)
    stage: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(40))
    place: Mapped[str] = mapped_column(Text, default="")
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    no_av_reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    # Art. 21: a simple-procedure act likely to cause an administrative dispute needs A/V
    disputed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CaseDecisionRow(Base):
    """One step of a case's internal approval (Art. 32): the handler's proposal with its
    reasons, the reviewer's review, the approver's decision; ``event_seq`` is its
    'case_decision' event. Rows are only added: a rejection starts a new round."""

    __tablename__ = "case_decision"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"))
    opinion: Mapped[str] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str] = mapped_column(String(200))
    event_seq: Mapped[int] = mapped_column(BigInteger)


class ActivityOfficerRow(Base):
    __tablename__ = "case_activity_officer"
    activity_id: Mapped[int] = mapped_column(ForeignKey("case_activity.id"), primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officer.id"), primary_key=True, index=True)


class CaseLinkRow(Base):
    """An item filed to a case stage. Unlinking retires the row (``retired`` = its id), so the
    history stays and (case, item, retired=0) is unique: one live link per item and case."""

    __tablename__ = "case_link"
    __table_args__ = (UniqueConstraint("case_id", "item_id", "retired", name="uq_case_link_live"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_activity.id"), nullable=True, index=True
    )
    stage: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    how: Mapped[str] = mapped_column(String(64))
    why: Mapped[str] = mapped_column(Text, default="")
    linked_by: Mapped[str] = mapped_column(String(200))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    linked_seq: Mapped[int] = mapped_column(BigInteger)
    retired: Mapped[int] = mapped_column(Integer, default=0)
    unlinked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    unlinked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    unlink_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    unlinked_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OffloadCheckRow(Base):
    """The 24-hour rule measured for one item: the recording end it is measured from (after the
    clock checks), the delay to durability, and the late_flagged event when it was late."""

    __tablename__ = "offload_check"
    item_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_item.id"), primary_key=True, autoincrement=False
    )
    reference_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reference_source: Mapped[str] = mapped_column(String(32), index=True)
    clock_problem: Mapped[str] = mapped_column(String(200), default="", index=True)
    durable_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delay_s: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    late_flag_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OffloadExcuseRow(Base):
    """A custodian's excuse of a late offload; the 'excused' custody event is the proof."""

    __tablename__ = "offload_excuse"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("dock_session.id"), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    granted_by: Mapped[str] = mapped_column(String(200))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_seq: Mapped[int] = mapped_column(BigInteger)


# Indexes the compliance report needs on tables of the foundation.
Index("ix_item_durable_at", ItemRow.durable_at)
Index("ix_item_acquired_at", ItemRow.acquired_at)
Index("ix_item_officer_recorded", ItemRow.officer_id, ItemRow.recorded_start)
Index("ix_dock_session_device_started", DockSessionRow.device_id, DockSessionRow.started_at)


class FactsPendingRow(Base):
    """Present (one row) while the facts of a catalog written before issue 14 are not yet
    recorded as ``facts_recorded`` events; see ``storage.catalog.facts``."""

    __tablename__ = "facts_pending"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class ExportRow(Base):
    """A disclosure package (Art. 30): requested, approved, built; a projection of the
    ``export_requested`` / ``export_approved`` / ``exported`` custody events."""

    __tablename__ = "export"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    items: Mapped[str] = mapped_column(Text)  # JSON array of item ids
    recipient: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(16))
    originals: Mapped[bool] = mapped_column(Boolean)
    copies: Mapped[bool] = mapped_column(Boolean)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)


# -- people and roles (issue 16) ---------------------------------------------------------------


class PersonRow(Base):
    """Someone who uses evidock; ``person_added`` and the role events are the proof."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    badge: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    unit: Mapped[str] = mapped_column(String(200), default="")
    os_user: Mapped[str | None] = mapped_column(String(100), nullable=True, unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PersonRoleRow(Base):
    """A role a person holds now (a revoked role's row is gone; its event stays)."""

    __tablename__ = "person_role"
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


# The access log reads events by type, newest first.
Index("ix_custody_event_type_seq", CustodyEventRow.type, CustodyEventRow.seq)


# -- the evidence console (issue 16) ----------------------------------------------------------


class ConsoleSessionRow(Base):
    """A signed-in browser: the SHA-256 of its cookie token (the token itself is never
    stored), its CSRF token, and when it ends or was revoked (``session_revoked``)."""

    __tablename__ = "console_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    remote: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(Text, default="")


class ConsoleLoginRow(Base):
    """One login attempt by name: the lockout counts the failures since the last success."""

    __tablename__ = "console_login"
    __table_args__ = (Index("ix_console_login_username_at", "username", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    remote: Mapped[str] = mapped_column(String(64), default="")


class ConsoleTotpRow(Base):
    """A person's TOTP secret (RFC 6238): with one, the console asks for a code at login."""

    __tablename__ = "console_totp"
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    secret: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The console's item search filters by device and time.
Index("ix_item_device_recorded", ItemRow.device_id, ItemRow.recorded_start)
# ... and by flags: the late items, the items with any flag (most have none) (0015)
Index("ix_offload_check_late_flag_seq", OffloadCheckRow.late_flag_seq)
Index("ix_item_flags", ItemRow.flags)
