"""Catalog side of the 24-hour rule: offload checks, excuses, and the report's indexed queries.

The arithmetic (which recording end to trust, what is late) is decided in ``cases.compliance``;
this module reads its inputs and files its results. Every report query starts from an index
(delay, durability, clock problem, dock sessions by device), never from a scan of all items.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, String, func, insert, or_, select, type_coerce

from storage.catalog import caserecords as c
from storage.catalog.caserecords import IN_SERVICE, LOST
from storage.catalog.cases import chunked
from storage.catalog.models import (
    DeviceAssignmentRow,
    DeviceRow,
    DeviceStatusRow,
    DockSessionRow,
    ItemRow,
    OfficerRow,
    OffloadCheckRow,
    OffloadExcuseRow,
    UTCDateTime,
)
from storage.catalog.session import Transaction


class OffloadOps:
    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.s = txn.s

    # -- what needs (re)checking ------------------------------------------------------------
    def items_to_check(self, *, limit: int, recent_since: datetime) -> list[int]:
        """Items without a check (new since the last one checked, or recent and missed), and
        checked items that were pending and have become durable since."""
        found: set[int] = set()
        mark = self.s.scalar(select(func.max(OffloadCheckRow.item_id)))
        newer = select(ItemRow.id).order_by(ItemRow.id).limit(limit)
        if mark is not None:
            newer = newer.where(ItemRow.id > mark)
        found.update(self.s.scalars(newer))
        missed = (
            select(ItemRow.id)
            .outerjoin(OffloadCheckRow, OffloadCheckRow.item_id == ItemRow.id)
            .where(ItemRow.acquired_at >= recent_since, OffloadCheckRow.item_id.is_(None))
            .limit(limit)
        )
        found.update(self.s.scalars(missed))
        now_durable = (
            select(OffloadCheckRow.item_id)
            .join(ItemRow, ItemRow.id == OffloadCheckRow.item_id)
            .where(OffloadCheckRow.delay_s.is_(None), ItemRow.durable_at.is_not(None))
            .where(OffloadCheckRow.durable_at.is_(None))
            .limit(limit)
        )
        found.update(self.s.scalars(now_durable))
        return sorted(found)[:limit]

    def session_items(self, session_id: int) -> list[int]:
        q = select(ItemRow.id).where(ItemRow.session_id == session_id).order_by(ItemRow.id)
        return list(self.s.scalars(q))

    def session_exists(self, session_id: int) -> bool:
        return self.s.get(DockSessionRow, session_id) is not None

    def inputs(self, item_ids: Sequence[int]) -> list[c.OffloadInput]:
        out: list[c.OffloadInput] = []
        since: dict[int, datetime | None] = {}  # per device
        before: dict[tuple[int, datetime], datetime | None] = {}  # per device and docking
        offsets: dict[int, tuple[float | None, int]] = {}  # per session
        for part in chunked(item_ids):
            q = (
                select(ItemRow, DeviceRow, OfficerRow.badge, DockSessionRow.started_at)
                .join(DeviceRow, DeviceRow.id == ItemRow.device_id)
                .join(DockSessionRow, DockSessionRow.id == ItemRow.session_id)
                .outerjoin(OfficerRow, OfficerRow.id == ItemRow.officer_id)
                .where(ItemRow.id.in_(part))
                .order_by(ItemRow.id)
            )
            for item, dev, badge, docked in self.s.execute(q):
                if dev.id not in since:
                    since[dev.id] = self._in_service_since(dev)
                if (dev.id, docked) not in before:
                    before[dev.id, docked] = self._dock_before(dev.id, docked)
                if item.session_id not in offsets:
                    offsets[item.session_id] = self._session_offset(item.session_id)
                out.append(
                    c.OffloadInput(
                        item_id=item.id,
                        device_serial=dev.serial,
                        officer_badge=badge,
                        session_id=item.session_id,
                        recorded_start=item.recorded_start,
                        recorded_end=item.recorded_end,
                        time_source=item.time_source,
                        flags=tuple(x for x in item.flags.split(",") if x),
                        file_mtime=datetime.fromtimestamp(item.source_mtime_ns / 1e9, UTC),
                        acquired_at=item.acquired_at,
                        durable_at=item.durable_at,
                        device_registered=dev.registered,
                        in_service_since=since[dev.id],
                        previous_dock_at=before[dev.id, docked],
                        docked_at=_aware(docked),
                        session_offset_s=offsets[item.session_id][0],
                        session_items=offsets[item.session_id][1],
                    )
                )
        return out

    def _in_service_since(self, dev: DeviceRow) -> datetime | None:
        """The documented start of service, or None: neither the registration in evidock nor
        an assignment says the camera did not record before it (issue 14)."""
        return _aware(dev.in_service_since)

    def _session_offset(self, session_id: int) -> tuple[float | None, int]:
        """The median of (recorded end - file time) over the session's items whose time is
        the camera's, and their number."""
        q = select(ItemRow.recorded_end, ItemRow.source_mtime_ns).where(
            ItemRow.session_id == session_id,
            ItemRow.recorded_end.is_not(None),
            ItemRow.time_source != c.FILE_TIME_SOURCE,
        )
        found = sorted(
            _aware(end).timestamp() - mtime_ns / 1e9  # type: ignore[union-attr]
            for end, mtime_ns in self.s.execute(q)
        )
        if not found:
            return None, 0
        return float(statistics.median(found)), len(found)

    def _dock_before(self, device_id: int, t: datetime) -> datetime | None:
        q = (
            select(DockSessionRow.started_at)
            .where(DockSessionRow.device_id == device_id, DockSessionRow.started_at < t)
            .order_by(DockSessionRow.started_at.desc())
            .limit(1)
        )
        return self.s.scalars(q).first()

    # -- checks -----------------------------------------------------------------------------
    def checks(self, item_ids: Sequence[int]) -> dict[int, c.OffloadCheck]:
        out: dict[int, c.OffloadCheck] = {}
        for part in chunked(item_ids):
            q = select(OffloadCheckRow).where(OffloadCheckRow.item_id.in_(part))
            out.update({r.item_id: _check(r) for r in self.s.scalars(q)})
        return out

    def put_check(self, check: c.OffloadCheck) -> None:
        row = self.s.get(OffloadCheckRow, check.item_id)
        if row is None:
            row = OffloadCheckRow(item_id=check.item_id)
            self.s.add(row)
        row.reference_end = check.reference_end
        row.reference_source = check.reference_source
        row.clock_problem = ",".join(check.clock_problems)
        row.durable_at = check.durable_at
        row.delay_s = check.delay_s
        row.late_flag_seq = check.late_flag_seq
        row.checked_at = check.checked_at
        self.s.flush()

    def put_checks(self, checks: Sequence[c.OffloadCheck]) -> None:
        """``put_check`` for each of ``checks`` (at most one each item): those of items never
        measured in one INSERT, not one ORM row and flush each (issue 19: the end of a
        docking measures every item it took); those measured before as ``put_check`` does."""
        ids = [ch.item_id for ch in checks]
        stored: set[int] = set()
        for part in chunked(ids):
            q = select(OffloadCheckRow.item_id).where(OffloadCheckRow.item_id.in_(part))
            stored.update(self.s.scalars(q))
        for ch in checks:
            if ch.item_id in stored:
                self.put_check(ch)
        rows = [
            {
                "item_id": ch.item_id,
                "reference_end": ch.reference_end,
                "reference_source": ch.reference_source,
                "clock_problem": ",".join(ch.clock_problems),
                "durable_at": ch.durable_at,
                "delay_s": ch.delay_s,
                "late_flag_seq": ch.late_flag_seq,
                "checked_at": ch.checked_at,
            }
            for ch in checks
            if ch.item_id not in stored
        ]
        if rows:  # a Core INSERT: no identity-map row goes stale (none was loaded for them)
            self.s.connection().execute(insert(OffloadCheckRow), rows)

    # -- excuses ----------------------------------------------------------------------------
    def add_excuse(
        self,
        *,
        item_id: int,
        session_id: int | None,
        reason: str,
        returned_at: datetime | None,
        by: str,
        at: datetime,
        seq: int,
    ) -> c.Excuse:
        row = OffloadExcuseRow(
            item_id=item_id,
            session_id=session_id,
            reason=reason,
            returned_at=returned_at,
            granted_by=by,
            granted_at=at,
            event_seq=seq,
        )
        self.s.add(row)
        self.s.flush()
        return _excuse(row)

    def excuses(self, item_ids: Sequence[int], *, at: datetime) -> dict[int, list[c.Excuse]]:
        out: dict[int, list[c.Excuse]] = {}
        for part in chunked(item_ids):
            q = (
                select(OffloadExcuseRow)
                .where(OffloadExcuseRow.item_id.in_(part), OffloadExcuseRow.granted_at <= at)
                .order_by(OffloadExcuseRow.id)
            )
            for r in self.s.scalars(q):
                out.setdefault(r.item_id, []).append(_excuse(r))
        return out

    # -- the report's queries ---------------------------------------------------------------
    def late(self, *, at: datetime, over_s: float) -> list[c.CheckedItem]:
        """Items durable by ``at`` whose delay exceeds ``over_s``, or whose recording time has
        no trusted bound (they cannot be shown to be on time).

        Only the selective index is used in SQL (delay, source); the time condition is applied
        to the few rows found, so no planner walks every item by durability.
        """
        measured = self._checked().where(OffloadCheckRow.delay_s > over_s)
        unknown = self._checked().where(OffloadCheckRow.reference_source == c.UNKNOWN_SOURCE)
        return [
            r
            for r in self._rows(measured) + self._rows(unknown)
            if r.durable_at is not None and r.durable_at <= at
        ]

    def pending(self, *, at: datetime) -> list[c.CheckedItem]:
        """Items acquired by ``at`` whose bytes were not durable at ``at``."""
        never = self._checked(outer=True).where(ItemRow.durable_at.is_(None))
        later = self._checked(outer=True).where(ItemRow.durable_at > at)
        return [r for r in self._rows(never) + self._rows(later) if r.acquired_at <= at]

    def clock_problems(self, *, at: datetime) -> list[c.CheckedItem]:
        q = self._checked().where(OffloadCheckRow.clock_problem > "")
        return [r for r in self._rows(q) if r.acquired_at <= at]

    def devices_in_service(self, *, at: datetime) -> list[c.DeviceInService]:
        """Devices assigned to an officer at ``at``, with their last docking at or before it."""
        q = (
            select(DeviceRow.id, DeviceRow.serial, OfficerRow.badge, DeviceAssignmentRow.start_at)
            .join(DeviceAssignmentRow, DeviceAssignmentRow.device_id == DeviceRow.id)
            .join(OfficerRow, OfficerRow.id == DeviceAssignmentRow.officer_id)
            .where(
                DeviceAssignmentRow.start_at <= at,
                or_(DeviceAssignmentRow.end_at.is_(None), DeviceAssignmentRow.end_at > at),
            )
            .order_by(DeviceRow.serial)
        )
        latest: dict[int, Any] = {}
        for row in self.s.execute(q):  # overlapping spans: the latest assignment holds it
            if row[0] not in latest or row[3] > latest[row[0]][3]:
                latest[row[0]] = row
        out_of_service = self.statuses_at(list(latest), at=at)
        rows = sorted(
            (r for r in latest.values() if out_of_service.get(r[0], IN_SERVICE) == IN_SERVICE),
            key=lambda r: r[1],
        )  # a retired, lost or broken device is not expected at a dock (issue 20)
        last: dict[int, Any] = {}
        for part in chunked([r[0] for r in rows]):
            q2 = (
                select(DockSessionRow.device_id, func.max(DockSessionRow.started_at))
                .where(DockSessionRow.device_id.in_(part), DockSessionRow.started_at <= at)
                .group_by(DockSessionRow.device_id)
            )
            last.update({d: t for d, t in self.s.execute(q2)})
        return [
            c.DeviceInService(
                serial=serial,
                officer_badge=badge,
                assigned_at=start,
                last_docked_at=_aware(last.get(dev_id)),
            )
            for dev_id, serial, badge, start in rows
        ]

    def statuses_at(self, device_ids: Sequence[int], *, at: datetime) -> dict[int, str]:
        """Each device's status at ``at`` (absent: never changed, in service)."""
        status: dict[int, tuple[datetime, int, str]] = {}
        for part in chunked(list(device_ids)):
            q = select(DeviceStatusRow).where(
                DeviceStatusRow.device_id.in_(part), DeviceStatusRow.start_at <= at
            )
            for r in self.s.scalars(q):
                key = (r.start_at, r.id, r.status)
                if r.device_id not in status or key > status[r.device_id]:
                    status[r.device_id] = key
        return {d: k[2] for d, k in status.items()}

    def lost_devices(self, *, at: datetime) -> list[c.LostDevice]:
        """Devices lost at ``at``: their holder then and their last docking before the loss."""
        lost = select(DeviceStatusRow.device_id).where(DeviceStatusRow.status == LOST)
        ids = list(self.s.scalars(lost.distinct()))
        now = self.statuses_at(ids, at=at)
        out = []
        for dev_id in sorted(d for d, st in now.items() if st == LOST):
            row = self.s.scalars(
                select(DeviceStatusRow)
                .where(DeviceStatusRow.device_id == dev_id, DeviceStatusRow.start_at <= at)
                .order_by(DeviceStatusRow.start_at.desc(), DeviceStatusRow.id.desc())
            ).first()
            assert row is not None
            serial = self.s.scalar(select(DeviceRow.serial).where(DeviceRow.id == dev_id))
            holder = self.s.scalar(
                select(OfficerRow.badge)
                .join(DeviceAssignmentRow, DeviceAssignmentRow.officer_id == OfficerRow.id)
                .where(
                    DeviceAssignmentRow.device_id == dev_id,
                    DeviceAssignmentRow.start_at <= row.start_at,
                    or_(DeviceAssignmentRow.end_at.is_(None),
                        DeviceAssignmentRow.end_at > row.start_at),
                )
                .order_by(DeviceAssignmentRow.start_at.desc())
            )  # fmt: skip
            docked = self.s.scalar(
                select(func.max(DockSessionRow.started_at)).where(
                    DockSessionRow.device_id == dev_id, DockSessionRow.started_at <= row.start_at
                )
            )
            out.append(
                c.LostDevice(
                    serial=str(serial),
                    officer_badge=holder,
                    lost_at=row.start_at,
                    last_docked_at=_aware(docked),
                    reason=row.reason,
                )
            )
        return out

    def _checked(self, *, outer: bool = False) -> Select[*tuple[Any, ...]]:
        """The report's columns of items with their measurement (plain columns, no ORM
        objects: a report of thousands of late items at 1M items, issue 19)."""
        q = select(*_ITEM_COLUMNS, DeviceRow.serial, OfficerRow.badge, *_CHECK_COLUMNS)
        if outer:
            q = q.outerjoin(OffloadCheckRow, OffloadCheckRow.item_id == ItemRow.id)
        else:
            q = q.join(OffloadCheckRow, OffloadCheckRow.item_id == ItemRow.id)
        # No ORDER BY: it would tempt SQLite into walking evidence_item in id order instead of
        # starting from the selective index; the few rows found are sorted in _rows.
        return q.join(DeviceRow, DeviceRow.id == ItemRow.device_id).outerjoin(
            OfficerRow, OfficerRow.id == ItemRow.officer_id
        )

    def _rows(self, q: Select[*tuple[Any, ...]]) -> list[c.CheckedItem]:
        found = []
        self.s.flush()  # what the session's own execute writes first (autoflush): none here
        for row in self.s.connection().execute(q).all():  # Core rows, no ORM loading
            (item_id, session_id, path, recorded_end, acquired_at, durable_at, flags, serial,
             badge) = row[:9]  # fmt: skip
            checked = row[9:]  # _CHECK_COLUMNS, all None without a measurement (outer join)
            check = None
            if checked[0] is not None:
                (_, reference_end, source, clock, checked_durable, delay_s, flag_seq,
                 checked_at) = checked  # fmt: skip
                check = _check_of(
                    checked[0], _stored(reference_end), source, clock,
                    _stored(checked_durable), delay_s, flag_seq, _when(checked_at),
                )  # fmt: skip
            found.append(
                c.CheckedItem(
                    item_id=item_id,
                    device_serial=serial,
                    officer_badge=badge,
                    session_id=session_id,
                    path=path,
                    recorded_end=_stored(recorded_end),
                    acquired_at=_when(acquired_at),
                    durable_at=_stored(durable_at),
                    check=check,
                    flags=tuple(x for x in flags.split(",") if x),
                )
            )
        return sorted(found, key=lambda r: r.item_id)


_AS_STORED = String()
"""The report's times are read as the driver gives them and made aware UTC by ``_stored``:
one C call each on SQLite instead of the column type's chain of conversions, six times a row
for thousands of late items (issue 19)."""

_ITEM_COLUMNS = (
    ItemRow.id,
    ItemRow.session_id,
    ItemRow.original_path_display,
    type_coerce(ItemRow.recorded_end, _AS_STORED).label("item_recorded_end"),
    type_coerce(ItemRow.acquired_at, _AS_STORED).label("item_acquired_at"),
    type_coerce(ItemRow.durable_at, _AS_STORED).label("item_durable_at"),
    ItemRow.flags,
)
_CHECK_COLUMNS = (
    OffloadCheckRow.item_id,
    type_coerce(OffloadCheckRow.reference_end, _AS_STORED).label("check_reference_end"),
    OffloadCheckRow.reference_source,
    OffloadCheckRow.clock_problem,
    type_coerce(OffloadCheckRow.durable_at, _AS_STORED).label("check_durable_at"),
    OffloadCheckRow.delay_s,
    OffloadCheckRow.late_flag_seq,
    type_coerce(OffloadCheckRow.checked_at, _AS_STORED).label("check_checked_at"),
)


def _aware(t: datetime | None) -> datetime | None:
    """Aggregates (max, min) come back without the column type's conversion on SQLite."""
    if t is None:
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _stored(t: datetime | str | None) -> datetime | None:
    """A time read as ``_AS_STORED``: the value ``models.UTCDateTime`` hands out for it."""
    if isinstance(t, str):  # SQLite: naive UTC text, as UTCDateTime writes it
        try:
            return datetime.fromisoformat(t + "+00:00")
        except ValueError:  # not as written (a hand-edited row): as UTCDateTime reads it
            t = datetime.fromisoformat(t)
    return None if t is None else UTCDateTime.as_utc(t)


def _when(t: datetime | str) -> datetime:
    """``_stored`` of a column that is never NULL."""
    aware = _stored(t)
    assert aware is not None
    return aware


def _check(r: OffloadCheckRow) -> c.OffloadCheck:
    return _check_of(r.item_id, r.reference_end, r.reference_source, r.clock_problem,
                     r.durable_at, r.delay_s, r.late_flag_seq, r.checked_at)  # fmt: skip


def _check_of(
    item_id: int,
    reference_end: datetime | None,
    reference_source: str,
    clock_problem: str,
    durable_at: datetime | None,
    delay_s: float | None,
    late_flag_seq: int | None,
    checked_at: datetime,
) -> c.OffloadCheck:
    """A measurement from its columns, in ``_CHECK_COLUMNS`` order."""
    return c.OffloadCheck(
        item_id=item_id,
        reference_end=reference_end,
        reference_source=reference_source,
        clock_problems=tuple(x for x in clock_problem.split(",") if x),
        durable_at=durable_at,
        delay_s=delay_s,
        late_flag_seq=late_flag_seq,
        checked_at=checked_at,
    )


def _excuse(r: OffloadExcuseRow) -> c.Excuse:
    return c.Excuse(
        id=r.id,
        item_id=r.item_id,
        session_id=r.session_id,
        reason=r.reason,
        returned_at=r.returned_at,
        granted_by=r.granted_by,
        granted_at=r.granted_at,
        event_seq=r.event_seq,
    )
