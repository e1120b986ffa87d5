"""Custody events in their canonical form (RFC 8785) and their leaf hashes. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

from storage.records import Event
from verify.log.merkle import leaf_hash

EVENT_TYPES = frozenset(
    {
        "device_docked",
        "acquired",
        "verified",
        "stored",
        "replicated",
        "transcoded",
        "linked",
        "unlinked",
        "metadata_corrected",
        "late_flagged",
        "excused",
        "viewed",
        "exported",
        "fixity_checked",
        "fixity_failed",
        "wiped_from_device",
        "acquisition_failed",
        "checkpoint_taken",
        "catalog_migrated",  # evidock catalog migrate-to (issue 9)
        "legal_hold_set",  # S3 Object Lock legal hold while linked to an open case (issue 8)
        "legal_hold_released",
        "released_local",  # the local copy dropped after its S3 copy was re-hashed (issue 8)
        # issue 14: every compliance fact is an event
        "durable",  # a pending item is in every backend of its system of record
        "case_opened",
        "case_closed",
        "case_archived",
        "activity_added",
        "facts_recorded",  # the facts of a catalog written before these events, once
        "officer_registered",
        "device_registered",
        "device_assigned",
    }
)

JSON = Any


def encode_data(data: Mapping[str, JSON]) -> str:
    """The canonical JSON text of an event's ``data`` object, as stored in the catalog."""
    return rfc8785.dumps(dict(data)).decode("utf-8")


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
    """RFC 8785 bytes of an event object as read back from a report (the eight fields)."""
    return rfc8785.dumps(dict(obj))


def event_leaf(ev: Event) -> bytes:
    return leaf_hash(canonical(ev))


def format_time(t: datetime) -> str:
    """Event times: UTC, microseconds, 'Z' (fixed width, so they sort as text)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
