"""The catalog: one object per process, transactions that hand out frozen records.

Over the ~400-line guide because ``Transaction`` is the one class through which every caller
reads and writes the core tables (items, devices, officers, sessions, docks, checkpoints);
groups of tables with their own rules live in their own modules beside it (cases, jobs, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from i18n import _
from storage import records as r
from storage.catalog import caserecords as c
from storage.catalog import doorbell
from storage.catalog.engine import (
    READ_ONLY,
    insert_or_skip,
    is_lasting,
    is_sqlite,
    make_engine,
    migrate,
    unavailable,
)
from storage.catalog.logrows import LogRows
from storage.catalog.models import (
    DeviceAssignmentRow,
    DeviceRow,
    DeviceStatusRow,
    DockRow,
    DockSessionRow,
    ItemRow,
    OfficerRow,
    StoredObjectRow,
    path_digest,
)
from storage.errors import AlreadyExists, CatalogRefused, NotFound

logger = logging.getLogger(__name__)


class Catalog:
    """Owns the engine. ``write()`` serialises writers; ``read()`` never blocks them."""

    def __init__(
        self, url: str, *, engine: Engine | None = None, sqlite_cache_kib: int | None = None
    ) -> None:
        self.url = url
        self.engine = (
            engine if engine is not None else make_engine(url, sqlite_cache_kib=sqlite_cache_kib)
        )
        self.bell = doorbell.bell_file(self.engine)  # SQLite: touched after a job is queued
        # the engine as writers and as readers bind it, made once (not per transaction)
        self._binds = {ro: self.engine.execution_options(**{READ_ONLY: ro}) for ro in (False, True)}

    @classmethod
    def open(cls, url: str) -> Catalog:
        """Open the catalog at ``url`` and migrate it to the newest schema."""
        cat = cls(url)
        migrate(cat.engine)
        return cat

    @contextlib.contextmanager
    def write(self) -> Iterator[Transaction]:
        with self._session(read_only=False) as s:
            txn = Transaction(s)
            yield txn
            # the custody events appended in it, with their tree nodes; on PostgreSQL the
            # events appended at commit go with the COMMIT (the session's finds it done)
            txn.log.flush_and_commit()
            rang = doorbell.rung(s)
        if rang and self.bell is not None:  # committed: a worker woken now sees the job
            doorbell.touch(self.bell)

    @contextlib.contextmanager
    def read(self) -> Iterator[Transaction]:
        with self._session(read_only=True) as s:
            txn = Transaction(s)
            yield txn
            if txn.log.waiting:  # never committed: a custody event would be lost unseen
                raise AssertionError("custody events appended at commit in a read transaction")

    @contextlib.contextmanager
    def _session(self, *, read_only: bool) -> Iterator[Session]:
        session = Session(bind=self._binds[read_only], expire_on_commit=False, autoflush=True)
        try:
            with session.begin():
                yield session
        except OperationalError as e:
            if is_lasting(e):
                raise CatalogRefused(
                    _("the catalog database refused it: {error}").format(error=e.orig)
                ) from e
            raise unavailable(e, _("catalog error: {error}").format(error=e.orig)) from e
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()

    @property
    def is_sqlite(self) -> bool:
        return is_sqlite(self.url)


class Transaction:
    """All catalog operations of one unit of work. Commit happens when the block ends."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.log = LogRows(session)

    # -- officers ---------------------------------------------------------------------------
    def add_officer(
        self, *, badge: str, name: str, unit: str, certificate_no: str, now: datetime
    ) -> r.Officer:
        exists = _("officer with badge {badge} already exists").format(badge=repr(badge))
        if self._officer_row(badge) is not None:
            raise AlreadyExists(exists)
        row = OfficerRow(
            badge=badge, name=name, unit=unit, certificate_no=certificate_no, created_at=now
        )
        self._add_unique(row, exists)
        return _officer(row)

    def officer(self, badge: str) -> r.Officer:
        row = self._officer_row(badge)
        if row is None:
            raise NotFound(
                _("no officer with badge {badge}").format(badge=repr(badge)),
                hint=_("Register the officer first: evidock officer add BADGE --name NAME"),
            )
        return _officer(row)

    def officers(self) -> list[r.Officer]:
        return [_officer(o) for o in self.s.scalars(select(OfficerRow).order_by(OfficerRow.badge))]

    def _officer_row(self, badge: str) -> OfficerRow | None:
        return self.s.scalars(select(OfficerRow).where(OfficerRow.badge == badge)).first()

    # -- devices ----------------------------------------------------------------------------
    def add_device(
        self,
        *,
        serial: str,
        kind: str,
        vendor: str,
        model: str,
        profile: str,
        registered: bool,
        now: datetime,
        in_service_since: datetime | None = None,
    ) -> r.Device:
        exists = _("device {serial} already exists").format(serial=repr(serial))
        if self._device_row(serial) is not None:
            raise AlreadyExists(exists)
        row = DeviceRow(
            serial=serial,
            kind=kind,
            vendor=vendor,
            model=model,
            profile=profile,
            registered=registered,
            created_at=now,
            in_service_since=in_service_since,
        )
        self._add_unique(row, exists)
        return self._device(row)

    def register_seen_device(
        self,
        *,
        serial: str,
        kind: str,
        vendor: str,
        model: str,
        in_service_since: datetime | None = None,
    ) -> r.Device:
        """Register a device that was docked (seen) before it was registered: the row it got
        then becomes a registered device, its recordings stay where they are."""
        row = self._device_row(serial)
        if row is None or row.registered:
            raise NotFound(
                _("no unregistered device with serial {serial}").format(serial=repr(serial))
            )
        row.kind, row.vendor, row.model, row.registered = kind, vendor, model, True
        if in_service_since is not None:
            row.in_service_since = in_service_since
        self.s.flush()
        return self._device(row)

    def device(self, serial: str) -> r.Device:
        row = self._device_row(serial)
        if row is None:
            raise NotFound(
                _("no device with serial {serial}").format(serial=repr(serial)),
                hint=_("Register it: evidock device add SERIAL [--officer BADGE]"),
            )
        return self._device(row)

    def find_device(self, serial: str) -> r.Device | None:
        row = self._device_row(serial)
        return None if row is None else self._device(row)

    def devices(self) -> list[r.Device]:
        rows = self.s.scalars(select(DeviceRow).order_by(DeviceRow.serial))
        return [self._device(d) for d in rows]

    def assign_device(
        self, *, serial: str, badge: str, start: datetime, reason: str | None = None
    ) -> datetime | None:
        """Hand a device to an officer from ``start`` on; the previous holder's span ends there.

        A ``start`` before the current assignment's is an earlier custody found out later: with
        a ``reason`` it is added as a span of its own, ending where the next known one begins
        (returned), and never over a span already recorded. History is added to, not rewritten.
        """
        dev = self._require_device_row(serial)
        off = self._officer_row(badge)
        if off is None:
            raise NotFound(_("no officer with badge {badge}").format(badge=repr(badge)))
        spans = list(
            self.s.scalars(
                select(DeviceAssignmentRow).where(DeviceAssignmentRow.device_id == dev.id)
            )
        )
        later = [a.start_at for a in spans if a.start_at > start]
        if later:
            return self._assign_earlier(dev, off, spans, start, min(later), reason, serial)
        for a in spans:
            if a.end_at is None:
                if a.start_at >= start:
                    raise AlreadyExists(
                        _("device {serial} is already assigned from {start}").format(
                            serial=repr(serial), start=a.start_at.isoformat()
                        ),
                        hint=_("Give a --from time after the current assignment's start."),
                    )
                a.end_at = start
        self.s.add(
            DeviceAssignmentRow(device_id=dev.id, officer_id=off.id, start_at=start, end_at=None)
        )
        self.s.flush()
        return None

    def set_device_status(
        self, *, serial: str, status: str, start: datetime, reason: str, actor: str
    ) -> str:
        """Record ``serial``'s status from ``start`` (a new row: history is kept); returns the
        status it had before. Only the newest status can be followed by a later one."""
        dev = self._require_device_row(serial)
        before = self._status_rows(dev.id)
        if before and before[-1].start_at > start:
            raise AlreadyExists(
                _("device {serial} has a status from {last}, after {start}").format(
                    serial=repr(serial),
                    last=before[-1].start_at.isoformat(),
                    start=start.isoformat(),
                ),
                hint=_("Give an --at time after the device's last status change."),
            )
        self.s.add(
            DeviceStatusRow(
                device_id=dev.id, status=status, start_at=start, reason=reason, actor=actor
            )
        )
        self.s.flush()
        return before[-1].status if before else "in-service"

    def device_statuses(self, serial: str) -> list[c.DeviceStatus]:
        """The status history of a device, oldest first (empty: in service all along)."""
        dev = self._require_device_row(serial)
        return [
            c.DeviceStatus(
                serial=serial, status=r.status, start_at=r.start_at, reason=r.reason, actor=r.actor
            )
            for r in self._status_rows(dev.id)
        ]

    def _status_rows(self, device_id: int) -> list[DeviceStatusRow]:
        q = select(DeviceStatusRow).where(DeviceStatusRow.device_id == device_id)
        return list(self.s.scalars(q.order_by(DeviceStatusRow.start_at, DeviceStatusRow.id)))

    def _assign_earlier(
        self,
        dev: DeviceRow,
        off: OfficerRow,
        spans: list[DeviceAssignmentRow],
        start: datetime,
        until: datetime,
        reason: str | None,
        serial: str,
    ) -> datetime:
        if not (reason or "").strip():
            raise AlreadyExists(
                _(
                    "device {serial} has an assignment from {until}, after {start}; history is "
                    "never rewritten"
                ).format(serial=repr(serial), until=until.isoformat(), start=start.isoformat()),
                hint=_(
                    "To record an earlier custody as a new event, say why: "
                    "--from TIME --reason 'handed out before registration, see issue log'."
                ),
            )
        for a in spans:
            if a.start_at <= start and (a.end_at is None or a.end_at > start):
                raise AlreadyExists(
                    _(
                        "device {serial} was held by another assignment at {start} (from "
                        "{held_from}); history is never rewritten"
                    ).format(
                        serial=repr(serial),
                        start=start.isoformat(),
                        held_from=a.start_at.isoformat(),
                    ),
                    hint=_("An earlier assignment can only fill time no assignment covers yet."),
                )
        self.s.add(
            DeviceAssignmentRow(device_id=dev.id, officer_id=off.id, start_at=start, end_at=until)
        )
        self.s.flush()
        return until

    def holder(self, device_id: int, at: datetime) -> r.Officer | None:
        """The officer who held the device at ``at`` (None when nobody did)."""
        row = self.s.scalars(
            select(OfficerRow)
            .join(DeviceAssignmentRow, DeviceAssignmentRow.officer_id == OfficerRow.id)
            .where(
                DeviceAssignmentRow.device_id == device_id,
                DeviceAssignmentRow.start_at <= at,
                (DeviceAssignmentRow.end_at.is_(None)) | (DeviceAssignmentRow.end_at > at),
            )
            .order_by(DeviceAssignmentRow.start_at.desc())
        ).first()
        return None if row is None else _officer(row)

    def device_holds(self, device_id: int) -> list[r.DeviceHold]:
        """Every officer's hold of the device, oldest first: what ``holder`` chooses from."""
        rows = self.s.execute(
            select(DeviceAssignmentRow.start_at, DeviceAssignmentRow.end_at, OfficerRow)
            .join(OfficerRow, DeviceAssignmentRow.officer_id == OfficerRow.id)
            .where(DeviceAssignmentRow.device_id == device_id)
            .order_by(DeviceAssignmentRow.start_at, DeviceAssignmentRow.id)
        )
        return [r.DeviceHold(officer=_officer(o), start_at=s, end_at=e) for s, e, o in rows]

    def mark_docked(self, device_id: int, at: datetime) -> None:
        row = self.s.get(DeviceRow, device_id)
        assert row is not None
        row.last_docked_at = at

    def _device_row(self, serial: str) -> DeviceRow | None:
        return self.s.scalars(select(DeviceRow).where(DeviceRow.serial == serial)).first()

    def _require_device_row(self, serial: str) -> DeviceRow:
        row = self._device_row(serial)
        if row is None:
            raise NotFound(_("no device with serial {serial}").format(serial=repr(serial)))
        return row

    def _device(self, row: DeviceRow) -> r.Device:
        holder = self.s.scalars(
            select(OfficerRow.badge)
            .join(DeviceAssignmentRow, DeviceAssignmentRow.officer_id == OfficerRow.id)
            .where(DeviceAssignmentRow.device_id == row.id, DeviceAssignmentRow.end_at.is_(None))
            .order_by(DeviceAssignmentRow.start_at.desc())
        ).first()
        return r.Device(
            id=row.id,
            serial=row.serial,
            kind=row.kind,
            vendor=row.vendor,
            model=row.model,
            profile=row.profile,
            registered=row.registered,
            officer_badge=holder,
            created_at=row.created_at,
            last_docked_at=row.last_docked_at,
            in_service_since=row.in_service_since,
        )

    # -- docks and sessions -----------------------------------------------------------------
    def ensure_dock(
        self, *, name: str, host: str, public_key: bytes, key_name: str, now: datetime
    ) -> r.Dock:
        """Register this dock or return it; a changed key is refused (it orphans checkpoints)."""
        row = self.s.scalars(select(DockRow).where(DockRow.name == name)).first()
        if row is None:
            row = DockRow(
                name=name, host=host, public_key=public_key, key_name=key_name, created_at=now
            )
            self._add_unique(row, _("dock {name} registered concurrently").format(name=repr(name)))
        elif row.public_key != public_key:
            raise AlreadyExists(
                _("dock {name} is registered with another signing key").format(name=repr(name)),
                hint=_(
                    "Each dock needs its own name; set [dock] name in the configuration, "
                    "or restore this dock's key into keys/."
                ),
            )
        else:
            if row.host != host:  # moved with its key, or a cloned host signing as this dock
                logger.warning("dock registered on another host name=%s was=%s now=%s",
                               name, row.host, host)  # fmt: skip
            row.host = host
        return _dock(row)

    def rotate_dock_key(self, *, name: str, old_public: bytes, new_public: bytes) -> None:
        """Register ``new_public`` as dock ``name``'s key in place of ``old_public`` (the
        caller records the ``key_rotated`` event in the same transaction)."""
        row = self.s.scalars(select(DockRow).where(DockRow.name == name)).first()
        if row is None or row.public_key != old_public:
            raise AlreadyExists(
                _("dock {name} is not registered with the key being rotated").format(
                    name=repr(name)
                ),
                hint=_(
                    "Rotate the key of this dock on the dock itself, with its current key file."
                ),
            )
        row.public_key = new_public
        self.s.flush()

    def docks(self) -> list[r.Dock]:
        return [_dock(d) for d in self.s.scalars(select(DockRow).order_by(DockRow.name))]

    def open_session(
        self,
        *,
        dock_id: int,
        device_id: int,
        source: str,
        now: datetime,
        owner: r.SessionOwner | None = None,
    ) -> int:
        row = DockSessionRow(dock_id=dock_id, device_id=device_id, source=source, started_at=now)
        if owner is not None:
            row.owner_host, row.owner_pid, row.owner_start = owner.host, owner.pid, owner.start
        self.s.add(row)
        self.s.flush()
        return row.id

    def open_sessions(self, dock_id: int) -> list[r.DockSession]:
        """The sessions of this dock not closed yet, oldest first."""
        q = (
            select(DockSessionRow, DockRow.name, DeviceRow.serial)
            .join(DockRow, DockRow.id == DockSessionRow.dock_id)
            .join(DeviceRow, DeviceRow.id == DockSessionRow.device_id)
            .where(DockSessionRow.dock_id == dock_id, DockSessionRow.ended_at.is_(None))
            .order_by(DockSessionRow.id)
        )
        return [_session(row, dock_name, serial) for row, dock_name, serial in self.s.execute(q)]

    def close_session(self, session_id: int, *, outcome: str, now: datetime) -> None:
        row = self.s.get(DockSessionRow, session_id)
        if row is None:
            raise NotFound(_("no dock session {session}").format(session=session_id))
        row.ended_at = now
        row.outcome = outcome

    def recent_sessions(self, *, dock: str | None = None, limit: int = 10) -> list[r.DockSession]:
        """The newest dock sessions (of one dock, or of all), newest first."""
        q = (
            select(DockSessionRow, DockRow.name, DeviceRow.serial)
            .join(DockRow, DockRow.id == DockSessionRow.dock_id)
            .join(DeviceRow, DeviceRow.id == DockSessionRow.device_id)
            .order_by(DockSessionRow.id.desc())
            .limit(limit)
        )
        if dock is not None:
            q = q.where(DockRow.name == dock)
        return [_session(row, dock_name, serial) for row, dock_name, serial in self.s.execute(q)]

    # -- items ------------------------------------------------------------------------------
    def items_at_path(self, device_id: int, original_path: bytes) -> list[r.Item]:
        """The device's items filed under exactly this path: found through the index on the
        path's digest, then compared in full."""
        rows = self.s.scalars(
            select(ItemRow)
            .where(
                ItemRow.device_id == device_id,
                ItemRow.original_path_sha256 == path_digest(original_path),
                ItemRow.original_path == original_path,
            )
            .order_by(ItemRow.id)  # oldest first, as the reasons list them
        )
        return [self._item(i) for i in rows]

    def items_at_paths(self, device_id: int, paths: Sequence[bytes]) -> dict[bytes, list[r.Item]]:
        """``items_at_path`` for each of ``paths`` at once (one query per 500 paths): the
        device's items under each, oldest first; a path without items maps to []."""
        found: dict[bytes, list[r.Item]] = {p: [] for p in paths}
        wanted = list(found)
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            rows = self.s.scalars(
                select(ItemRow)
                .where(
                    ItemRow.device_id == device_id,
                    ItemRow.original_path_sha256.in_([path_digest(p) for p in part]),
                )
                .order_by(ItemRow.id)
            )
            for row in rows:
                if row.original_path in found:  # the digest's path, compared in full
                    found[row.original_path].append(self._item(row))
        return found

    def insert_item(self, new: r.NewItem, *, state: str, durable_at: datetime | None) -> r.Item:
        """Insert ``new``; ``AlreadyExists`` when its device, path and SHA-256 are in already."""
        item_id = self.add_item(new, state=state, durable_at=durable_at)
        if item_id is None:
            raise AlreadyExists(_("this recording is already in the catalog"))
        return self.item(item_id)

    def add_item(self, new: r.NewItem, *, state: str, durable_at: datetime | None) -> int | None:
        """Insert ``new`` and return its id, or None when the item's unique key (device, path,
        SHA-256) is taken already: one Core statement, no savepoint and no ORM row (issue 19:
        the record of each acquired file)."""
        self.s.flush()  # ORM rows added before it go in first, as they would with the ORM
        conn = self.s.connection()
        f = new.facts
        row = {
            "sha256": new.sha256,
            "size": new.size,
            "device_id": new.device_id,
            "officer_id": new.officer_id,
            "session_id": new.session_id,
            "original_path": new.original_path,
            "original_path_sha256": path_digest(new.original_path),
            "original_path_display": new.original_path_display,
            "source_mtime_ns": new.source_mtime_ns,
            "source_inode": new.source_inode,
            "source_ctime_ns": new.source_ctime_ns,
            "state": state,
            "acquired_at": new.acquired_at,
            "durable_at": durable_at,
            "confidentiality": "none",
            "mime_type": f.mime_type,
            "recorded_start": f.recorded_start,
            "recorded_end": f.recorded_end,
            "time_source": f.time_source,
            "duration_s": f.duration_s,
            "video_codec": f.video_codec,
            "audio_codec": f.audio_codec,
            "width": f.width,
            "height": f.height,
            "make": f.make,
            "model": f.model,
            "camera_serial": f.camera_serial,
            "gps_lat": f.gps_lat,
            "gps_lon": f.gps_lon,
            "flags": ",".join(f.flags),
            "probe_errors": "\n".join(f.probe_errors),
        }
        return conn.execute(insert_or_skip(conn.dialect.name, ItemRow), row).scalar()

    def item(self, item_id: int) -> r.Item:
        row = self.s.get(ItemRow, item_id)
        if row is None:
            raise NotFound(_("no evidence item {item}").format(item=item_id))
        return self._item(row)

    def set_item_officer(self, item_id: int, badge: str) -> None:
        """Attribute an item to another (registered) officer: a correction (issue 20)."""
        row = self.s.get(ItemRow, item_id)
        if row is None:
            raise NotFound(_("no evidence item {item}").format(item=item_id))
        off = self._officer_row(badge)
        if off is None:
            raise NotFound(
                _("no officer with badge {badge}").format(badge=repr(badge)),
                hint=_("Register the officer: evidock officer add BADGE --name NAME"),
            )
        row.officer_id = off.id
        self.s.flush()

    def set_item_times(
        self,
        item_id: int,
        *,
        recorded_start: datetime | None,
        recorded_end: datetime | None,
        time_source: str,
    ) -> None:
        """The recording times of an item set right: a clock correction (issue 20)."""
        row = self.s.get(ItemRow, item_id)
        if row is None:
            raise NotFound(_("no evidence item {item}").format(item=item_id))
        row.recorded_start, row.recorded_end = recorded_start, recorded_end
        row.time_source = time_source
        self.s.flush()

    def items(
        self,
        *,
        device: str | None = None,
        officer: str | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[r.Item]:
        # the device's serial and the officer's badge in the same query, not two lookups
        # an item (issue 19: the end of a docking reads every item it took)
        q = (
            select(ItemRow, DeviceRow.serial, OfficerRow.badge)
            .join(DeviceRow, DeviceRow.id == ItemRow.device_id)
            .outerjoin(OfficerRow, OfficerRow.id == ItemRow.officer_id)
            .order_by(ItemRow.id)
        )
        if device is not None:
            q = q.where(DeviceRow.serial == device)
        if officer is not None:
            q = q.where(OfficerRow.badge == officer)
        if ids is not None:
            q = q.where(ItemRow.id.in_(list(ids)))
        return [_item_of(i, serial, badge) for i, serial, badge in self.s.execute(q)]

    def _item(self, row: ItemRow) -> r.Item:
        dev = self.s.get(DeviceRow, row.device_id)
        off = self.s.get(OfficerRow, row.officer_id) if row.officer_id is not None else None
        assert dev is not None
        return _item_of(row, dev.serial, off.badge if off is not None else None)

    # -- stored objects ---------------------------------------------------------------------
    def record_object(self, obj: r.StoredObject) -> r.StoredObject:
        """File a stored object; the same bytes in the same backend are filed once: the row
        filed first is the one returned (two docks filing the same bytes at once: the second
        finds the first's). One Core statement when the object is new, no savepoint."""
        self.s.flush()  # ORM rows added before it go in first, as they would with the ORM
        conn = self.s.connection()
        row = {
            "backend": obj.backend,
            "sha256": obj.sha256,
            "key": obj.key,
            "size": obj.size,
            "version_id": obj.version_id,
            "created_at": obj.created_at,
            "role": obj.role,
            "checksum": obj.checksum,
            "lock_mode": obj.lock_mode,
            "retention_until": obj.retention_until,
            "legal_hold": obj.legal_hold,
        }
        if conn.execute(insert_or_skip(conn.dialect.name, StoredObjectRow), row).scalar():
            return dataclasses.replace(obj, released_at=None)  # the row as inserted
        found = self.stored_objects(obj.sha256, backend=obj.backend)
        if not found:  # skipped for a unique key that is not (backend, sha256): none exists
            raise AlreadyExists(
                _("stored object {backend}:{sha256} already exists").format(
                    backend=obj.backend, sha256=obj.sha256
                )
            )
        return found[0]

    def stored_objects(
        self,
        sha256: str | None = None,
        *,
        backend: str | None = None,
        shas: Sequence[str] | None = None,
    ) -> list[r.StoredObject]:
        """Stored objects, all or those of one hash (or of ``shas``), in one backend or all."""
        q = select(StoredObjectRow).order_by(StoredObjectRow.id)
        if sha256 is not None:
            q = q.where(StoredObjectRow.sha256 == sha256)
        if shas is not None:
            q = q.where(StoredObjectRow.sha256.in_(list(shas)))
        if backend is not None:
            q = q.where(StoredObjectRow.backend == backend)
        return [_object(o) for o in self.s.scalars(q)]

    # -- helpers ----------------------------------------------------------------------------
    def _add_unique(self, row: object, message: str) -> None:
        """Insert ``row`` in a savepoint so that a duplicate leaves the transaction usable."""
        self.s.flush()
        try:
            with self.s.begin_nested():
                self.s.add(row)
        except IntegrityError as e:
            raise AlreadyExists(message) from e

    # -- audit reads (verify) ---------------------------------------------------------------
    def pin_snapshot(self) -> None:
        """Make every later read of this transaction see one snapshot of the catalog.

        Call it first, before any other read. SQLite's read transactions already see one
        snapshot; PostgreSQL's default (READ COMMITTED) does not, so there the transaction
        is switched to REPEATABLE READ.
        """
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.connection(execution_options={"isolation_level": "REPEATABLE READ"})

    def item_digests(self, *, after: int, limit: int) -> list[r.ItemDigest]:
        """Up to ``limit`` items with ``id > after``, by id: only what an audit compares, read
        as plain columns (keyset pages over every item of a large catalog)."""
        q = (
            select(ItemRow.id, ItemRow.sha256, ItemRow.size, ItemRow.state)
            .where(ItemRow.id > after)
            .order_by(ItemRow.id)
            .limit(limit)
        )
        return [
            r.ItemDigest(id=i, sha256=sha, size=size, state=state)
            for i, sha, size, state in self.s.execute(q)
        ]


def _item_of(row: ItemRow, serial: str, badge: str | None) -> r.Item:
    """An item from its row, its device's serial and its officer's badge."""
    return r.Item(
        id=row.id,
        sha256=row.sha256,
        size=row.size,
        device_serial=serial,
        officer_badge=badge,
        session_id=row.session_id,
        original_path=row.original_path,
        original_path_display=row.original_path_display,
        source_mtime_ns=row.source_mtime_ns,
        state=row.state,
        acquired_at=row.acquired_at,
        durable_at=row.durable_at,
        confidentiality=row.confidentiality,
        source_inode=row.source_inode,
        source_ctime_ns=row.source_ctime_ns,
        facts=r.MediaFacts(
            mime_type=row.mime_type,
            recorded_start=row.recorded_start,
            recorded_end=row.recorded_end,
            time_source=row.time_source,
            duration_s=row.duration_s,
            video_codec=row.video_codec,
            audio_codec=row.audio_codec,
            width=row.width,
            height=row.height,
            make=row.make,
            model=row.model,
            camera_serial=row.camera_serial,
            gps_lat=row.gps_lat,
            gps_lon=row.gps_lon,
            flags=tuple(x for x in row.flags.split(",") if x),
            probe_errors=tuple(x for x in row.probe_errors.split("\n") if x),
        ),
    )


def _officer(row: OfficerRow) -> r.Officer:
    return r.Officer(
        id=row.id,
        badge=row.badge,
        name=row.name,
        unit=row.unit,
        certificate_no=row.certificate_no,
    )


def _dock(row: DockRow) -> r.Dock:
    return r.Dock(
        id=row.id,
        name=row.name,
        host=row.host,
        public_key=row.public_key,
        key_name=row.key_name,
    )


def _object(row: StoredObjectRow) -> r.StoredObject:
    return r.StoredObject(
        backend=row.backend,
        sha256=row.sha256,
        key=row.key,
        size=row.size,
        version_id=row.version_id,
        created_at=row.created_at,
        role=row.role,
        checksum=row.checksum,
        lock_mode=row.lock_mode,
        retention_until=row.retention_until,
        legal_hold=row.legal_hold,
        released_at=row.released_at,
    )


def _session(row: DockSessionRow, dock_name: str, serial: str) -> r.DockSession:
    owner = None
    if row.owner_host is not None and row.owner_pid is not None:
        owner = r.SessionOwner(host=row.owner_host, pid=row.owner_pid, start=row.owner_start or "")
    return r.DockSession(
        id=row.id,
        dock_name=dock_name,
        device_serial=serial,
        source=row.source,
        started_at=row.started_at,
        ended_at=row.ended_at,
        outcome=row.outcome,
        owner=owner,
    )
