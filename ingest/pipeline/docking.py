"""The session of one docking and what it records besides items: the device (registered on
first sight), the session row and its 'device_docked' event, and every 'acquisition_failed'
event, the record of a file or entry that stays on the device and why: in English in the event,
in the reader's language in the file's result (``pipeline.said``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from devices.profiles import DeviceProfile
from devices.walk import FileEntry, display_path
from i18n import english
from ingest.cases.links import after_ingest
from ingest.context import Context, os_actor
from ingest.liveness import gone, this_process
from ingest.output import exact_name
from ingest.pipeline import space
from ingest.pipeline.results import FAILED, NOT_ACQUIRED, OUTCOME_INTERRUPTED, FileResult
from ingest.pipeline.said import Said, as_said
from storage.catalog.session import Transaction
from storage.errors import AlreadyExists
from storage.records import Device, DeviceHold, Officer
from verify.log.events import EventType

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Docking:
    """Under whom and what a docking records: its device, officer, session and actor."""

    device: Device
    officer_id: int | None
    officer_badge: str | None
    session: int
    actor: str
    # who held the device when, read as the docking opens (issue 19: not once per file); a
    # docking without an officer attributes each file to its holder at the recording time
    holds: tuple[DeviceHold, ...]

    def holder(self, at: datetime) -> Officer | None:
        """The officer who held the device at ``at`` (None when nobody did)."""
        return holder_at(self.holds, at)


def holder_at(holds: Sequence[DeviceHold], at: datetime) -> Officer | None:
    """The officer of the latest-starting hold that covers ``at`` (from its start, up to but
    not including its end), as ``Transaction.holder`` chooses; None when none covers it."""
    covering = [h for h in holds if h.start_at <= at and (h.end_at is None or h.end_at > at)]
    return max(covering, key=lambda h: h.start_at).officer if covering else None


def open_docking(
    ctx: Context,
    root: Path,
    *,
    serial: str,
    badge: str | None,
    actor: str,
    profile: DeviceProfile | None,
    claims: dict[bytes, str],
) -> Docking:
    """Open the session of this docking with its 'device_docked' event, in one transaction."""
    now = ctx.clock()
    with ctx.catalog.write() as txn:
        device = txn.find_device(serial)
        if device is None:
            device = _first_sight(
                txn,
                serial=serial,
                vendor="",
                model="",
                kind=profile.kind if profile else "unknown",
                profile=profile.name if profile else "",
                registered=False,
                now=now,
            )
        officer = txn.officer(badge) if badge is not None else None
        holds = () if officer is not None else tuple(txn.device_holds(device.id))
        session = txn.open_session(
            dock_id=ctx.dock.id, device_id=device.id, source=str(root), now=now,
            owner=this_process(),  # a later start closes it if this process is killed
        )  # fmt: skip
        txn.mark_docked(device.id, now)
        ctx.custody.append(
            txn,
            type=EventType.DEVICE_DOCKED,
            actor=actor,
            data={
                "device": serial,
                "registered": device.registered,
                "session": session,
                "source": str(root),
                "profile": profile.name if profile else None,
                **_claims_note(claims),
            },
        )
    if claims:
        logger.warning(
            "files named for another device device=%s session=%s files=%d claimed=%s",
            serial, session, len(claims), ",".join(sorted(set(claims.values()))),
        )  # fmt: skip
    return Docking(
        device=device,
        officer_id=officer.id if officer else None,
        officer_badge=officer.badge if officer else None,
        session=session,
        actor=actor,
        holds=holds,
    )


def _claims_note(claims: dict[bytes, str]) -> dict[str, list[dict[str, str]]]:
    """For the 'device_docked' event: the files whose names claim another device's serial."""
    if not claims:
        return {}
    note = [{"path": display_path(p), "serial": c, **exact_name(p)} for p, c in claims.items()]
    return {"serial_mismatch": note}


def _first_sight(txn: Transaction, *, serial: str, **fields: Any) -> Device:
    """Register a device seen for the first time; another bay may be doing the same right now,
    in which case its row is the one (the unique serial decides, the savepoint keeps us going)."""
    try:
        return txn.add_device(serial=serial, **fields)
    except AlreadyExists:
        return txn.device(serial)


def log_not_acquired(
    ctx: Context,
    docking: Docking,
    *,
    item: int | None = None,
    name: bytes | None = None,
    **data: str | int,
) -> None:
    """The one 'acquisition_failed' writer: what stays on the device, and why; ``name``, the
    device path as raw bytes, is recorded as ``path`` (and ``path_hex`` when not UTF-8)."""
    if name is not None:
        data = {"path": display_path(name), **exact_name(name), **data}
    with ctx.catalog.write() as txn:
        ctx.custody.append(
            txn,
            type=EventType.ACQUISITION_FAILED,
            actor=docking.actor,
            item=item,
            data={"device": docking.device.serial, "session": docking.session, **data},
        )


def left_on_device(
    ctx: Context, docking: Docking, raw: bytes, kind: str, reason: str | Said
) -> FileResult:
    """A file or entry that stays on the device, recorded with its reason."""
    path, said = display_path(raw), as_said(reason)
    log_not_acquired(ctx, docking, name=raw, kind=kind, reason=said.logged)
    return FileResult(path=path, result=NOT_ACQUIRED, reason=said.text, raw_path=raw)


def no_space(ctx: Context, docking: Docking, entry: FileEntry, reason: Said) -> FileResult:
    """A file not started for want of room: it stays on the device, nothing of it written."""
    log_not_acquired(ctx, docking, name=entry.path, kind=space.NO_SPACE, reason=reason.logged)
    return FileResult(
        path=entry.display, result=FAILED, reason=f"{reason.text} ({space.NO_SPACE})",
        code=space.NO_SPACE, raw_path=entry.path,
    )  # fmt: skip


def failed(ctx: Context, docking: Docking, entry: FileEntry, err: Exception) -> FileResult:
    """A file whose acquisition failed: the error recorded, the file stays on the device. The
    event keeps the error's stable ``code`` and its message in English (``i18n.english``),
    whatever the language of the person the result is shown to."""
    code = getattr(err, "code", "error")
    reason = f"{err} ({code})"
    log_not_acquired(ctx, docking, name=entry.path, kind="error", code=code, reason=english(err))
    return FileResult(path=entry.display, result=FAILED, reason=reason, code=code,
                      raw_path=entry.path)  # fmt: skip


def close_killed_sessions(ctx: Context, *, host: str | None = None) -> list[int]:
    """Close the sessions of this dock whose process is gone (killed: SIGKILL, power loss) as
    'interrupted', each with the 24-hour measurement and case links of its items that a live
    session gets when it ends. Sessions of a live process, of another host, or recorded before
    sessions named their process are left as they are. Returns the ids closed."""
    with ctx.catalog.read() as txn:
        killed = [
            s.id
            for s in txn.open_sessions(ctx.dock.id)
            if s.owner is not None and gone(s.owner, host=host)
        ]
    for session in killed:
        after_ingest(ctx, session, actor=os_actor(), close_as=OUTCOME_INTERRUPTED)
        logger.warning(
            "closed a session whose process is gone session=%d outcome=%s",
            session, OUTCOME_INTERRUPTED,
        )  # fmt: skip
    return killed
