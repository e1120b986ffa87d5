"""Custody events of a case's life (opened, closed, archived) and of devices and officers
(registered, assigned), each naming its actor (issue 14).

The catalog's rows are a projection of these events; ``verify`` compares the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ingest.context import Context
from storage.catalog.caserecords import Activity, Case
from storage.catalog.session import Transaction
from storage.records import Device, Event, Officer
from verify.log.events import EventType, data_time


def log_case(
    txn: Transaction, ctx: Context, case: Case, type: str, *, package: Mapping[str, Any] = {}
) -> Event:
    """Append the ``case_opened`` / ``case_closed`` / ``case_archived`` event of ``case`` as the
    catalog now holds it, in the transaction that changed the row. ``package``: what the
    archive package is (its sha256, where it is kept), added to ``case_archived``'s data
    (issue 17; older events have only the case and the time)."""
    match type:
        case "case_opened":
            actor = case.opened_by
            data = {
                "case": case.number,
                "title": case.title,
                "enforcement_type": case.enforcement_type,
                "procedure": case.procedure,
                "handler": case.handler,
                "reviewer": case.reviewer,
                "approver": case.approver,
                "confidentiality": case.confidentiality,
                "opened_at": data_time(case.opened_at),
                "stage": case.stage,
            }
        case "case_closed":
            actor = case.closed_by or ""
            data = {
                "case": case.number,
                "closed_at": data_time(case.closed_at),
                "archive_due_at": data_time(case.archive_due_at),
            }
        case "case_archived":
            actor = case.archived_by or ""
            data = {"case": case.number, "archived_at": data_time(case.archived_at), **package}
        case _:
            raise ValueError(f"not a case event: {type!r}")
    return ctx.custody.append(txn, type=EventType(type), actor=actor, data=data)


def log_officer(txn: Transaction, ctx: Context, officer: Officer, *, actor: str) -> Event:
    return ctx.custody.append(
        txn,
        type=EventType.OFFICER_REGISTERED,
        actor=actor,
        data={"badge": officer.badge, "name": officer.name, "unit": officer.unit,
              "certificate_no": officer.certificate_no},
    )  # fmt: skip


def log_device(txn: Transaction, ctx: Context, device: Device, *, actor: str) -> Event:
    return ctx.custody.append(
        txn,
        type=EventType.DEVICE_REGISTERED,
        actor=actor,
        data={"serial": device.serial, "kind": device.kind, "vendor": device.vendor,
              "model": device.model, "registered": device.registered},
    )  # fmt: skip


def log_assignment(
    txn: Transaction,
    ctx: Context,
    *,
    serial: str,
    badge: str,
    start: datetime,
    actor: str,
    until: datetime | None = None,
    reason: str | None = None,
) -> Event:
    """``device_assigned``: ``badge`` holds the device from ``start`` (the previous holder's span
    ends there, as ``assign_device`` records it). An earlier custody recorded later (``device
    assign --from EARLIER --reason``) also names where it ends and why it comes only now."""
    data: dict[str, Any] = {"serial": serial, "officer": badge, "start_at": data_time(start)}
    if until is not None:
        data.update(until=data_time(until), reason=reason)
    return ctx.custody.append(txn, type=EventType.DEVICE_ASSIGNED, actor=actor, data=data)


def log_activity(txn: Transaction, ctx: Context, activity: Activity) -> Event:
    """``activity_added``: a recorded step of a case, its window and officers (Art. 16 gaps
    are measured against it); ``disputed``: an Art. 21 act that needs A/V (absent in events
    written before it existed: not disputed)."""
    return ctx.custody.append(
        txn,
        type=EventType.ACTIVITY_ADDED,
        actor=activity.created_by,
        data={"case": activity.case_number, "activity": activity.id, "stage": activity.stage,
              "record_type": activity.record_type, "officers": list(activity.officers),
              "place": activity.place, "start_at": data_time(activity.start_at),
              "end_at": data_time(activity.end_at), "no_av_reason": activity.no_av_reason,
              "disputed": activity.disputed},
    )  # fmt: skip


def log_device_status(
    txn: Transaction,
    ctx: Context,
    *,
    serial: str,
    status: str,
    was: str,
    start: datetime,
    reason: str,
    actor: str,
) -> Event:
    """``device_status_changed``: a device retired, lost, sent to repair or back in service
    from ``start``, with its reason (issue 20)."""
    return ctx.custody.append(
        txn,
        type=EventType.DEVICE_STATUS_CHANGED,
        actor=actor,
        data={"serial": serial, "status": status, "from": was, "start_at": data_time(start),
              "reason": reason},
    )  # fmt: skip
