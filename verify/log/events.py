"""Custody events in their canonical form (RFC 8785) and their leaf hashes. Pure."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import rfc8785

from storage.records import Event
from verify.log import jcs
from verify.log.merkle import leaf_hash


class EventType(enum.StrEnum):
    """Every kind of custody event; the value is the ``type`` written in the log."""

    DEVICE_DOCKED = "device_docked"
    ACQUIRED = "acquired"
    VERIFIED = "verified"
    STORED = "stored"
    REPLICATED = "replicated"
    TRANSCODED = "transcoded"
    LINKED = "linked"
    UNLINKED = "unlinked"
    METADATA_CORRECTED = "metadata_corrected"
    LATE_FLAGGED = "late_flagged"
    LATE_CLEARED = "late_cleared"  # a correction of the recording time made it on time (issue 20)
    EXCUSED = "excused"
    VIEWED = "viewed"
    EXPORTED = "exported"
    FIXITY_CHECKED = "fixity_checked"
    FIXITY_FAILED = "fixity_failed"
    WIPED_FROM_DEVICE = "wiped_from_device"
    ACQUISITION_FAILED = "acquisition_failed"
    CHECKPOINT_TAKEN = "checkpoint_taken"
    CATALOG_MIGRATED = "catalog_migrated"  # evidock catalog migrate-to (issue 9)
    LEGAL_HOLD_SET = (
        "legal_hold_set"  # S3 Object Lock legal hold while linked to an open case (issue 8)
    )
    LEGAL_HOLD_RELEASED = "legal_hold_released"
    RELEASED_LOCAL = (
        "released_local"  # the local copy dropped after its S3 copy was re-hashed (issue 8)
    )
    DEVICE_ASSIGNED = "device_assigned"  # an earlier custody recorded later, with its reason
    GAPS_ACCEPTED = "gaps_accepted"  # a case archived with A/V gaps, and why (Art. 27)
    KEY_ROTATED = "key_rotated"  # a dock's signing key replaced, signed by both keys (issue 15)
    # issue 14: every compliance fact is an event
    DURABLE = "durable"  # a pending item is in every backend of its system of record
    CASE_OPENED = "case_opened"
    CASE_CLOSED = "case_closed"
    CASE_ARCHIVED = "case_archived"
    ACTIVITY_ADDED = "activity_added"
    FACTS_RECORDED = "facts_recorded"  # the facts of a catalog written before these events, once
    OFFICER_REGISTERED = "officer_registered"
    DEVICE_REGISTERED = "device_registered"
    DEVICE_STATUS_CHANGED = "device_status_changed"  # retired, lost, in repair, back (issue 20)
    CASE_DECISION = "case_decision"  # Art. 32: a proposal, review or approval by its person
    CASE_STAGE_CHANGED = "case_stage_changed"  # Art. 4: a case moved to another stage
    # issue 17: disclosure packages (Art. 30), requested, approved, then built (EXPORTED)
    EXPORT_REQUESTED = "export_requested"
    EXPORT_APPROVED = "export_approved"
    # issue 16: people, roles, confidentiality and every access
    PERSON_ADDED = "person_added"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    PERSON_DISABLED = "person_disabled"
    CONFIDENTIALITY_CHANGED = "confidentiality_changed"  # of an item or a case (Art. 31)
    STREAMED = "streamed"
    DOWNLOADED = "downloaded"
    ACCESS_DENIED = "access_denied"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    SESSION_REVOKED = "session_revoked"
    SECOND_FACTOR_CHANGED = "second_factor_changed"  # a person's TOTP enrolled or replaced


EVENT_TYPES = frozenset(EventType)

JSON = Any


def encode_data(data: Mapping[str, JSON]) -> str:
    """The canonical JSON text of an event's ``data`` object, as stored in the catalog."""
    return canonical_object(data).decode("utf-8")


def event_object(ev: Event) -> dict[str, JSON]:
    return {
        "seq": ev.seq,
        "time": ev.time,
        "type": ev.type,
        "item": ev.item,
        "actor": ev.actor,
        "dock": ev.dock,
        "data": json.loads(ev.data),
        "prev": ev.prev,
    }


def canonical(ev: Event) -> bytes:
    """The exact bytes that are hashed: RFC 8785 of the eight fields of design.md."""
    return canonical_object(event_object(ev))


def canonical_object(obj: Mapping[str, JSON]) -> bytes:
    """RFC 8785 bytes of an event object as read back from a report (the eight fields), or of
    any JSON object: ``verify.log.jcs`` for the shapes it knows, else ``rfc8785`` itself."""
    value = dict(obj)
    try:
        return jcs.dumps(value, _float)
    except jcs.Unsupported:
        return rfc8785.dumps(value)


def reference_canonical(obj: Mapping[str, JSON]) -> bytes:
    """RFC 8785 bytes by the ``rfc8785`` package alone: the definition ``canonical_object``
    is tested against, and the baseline of ``bench verify``."""
    return rfc8785.dumps(dict(obj))


def _float(f: float) -> bytes:
    return rfc8785.dumps(f)


def event_leaf(ev: Event) -> bytes:
    return leaf_hash(canonical(ev))


_PREV_KEY = b'"prev":"'
_AROUND = _PREV_KEY + b"0" * 64 + b'","seq":0,"time":'


def canonical_parts(ev: Event) -> tuple[bytes, bytes, bytes]:
    """``canonical(ev)`` around its two fields that only the log's head knows: for every
    ``prev`` (64 hex digits) and ``seq`` >= 0, ``canonical`` of ``ev`` with them is
    ``head + prev + middle + str(seq) + tail`` (RFC 8785 sorts the members: ``prev`` and
    ``seq`` are adjacent, and neither needs escaping). ``ev.seq`` and ``ev.prev`` are ignored.
    The catalog's append statement joins the parts under the lock (issue 19)."""
    text = canonical(replace(ev, seq=0, prev="0" * 64))
    at = text.rfind(_AROUND)  # the last: a ``data`` object may hold the same text before it
    if at < 0:  # pragma: no cover - the eight fields always hold it
        raise AssertionError("canonical event without prev and seq")
    tail_at = at + len(_AROUND) - len(b',"time":')
    return text[: at + len(_PREV_KEY)], b'","seq":', text[tail_at:]


def format_time(t: datetime) -> str:
    """Event times: UTC, microseconds, 'Z' (fixed width, so they sort as text)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def data_time(t: datetime | None) -> str | None:
    """Times inside an event's ``data`` (recorded start, durable at, returned at, ...): ISO 8601
    as the datetime holds it (``isoformat``). Logs written since the first release use this
    form, so it can never change; the envelope's own ``time`` is ``format_time``."""
    return None if t is None else t.isoformat()


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
