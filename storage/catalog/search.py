"""The console's item search (issue 16): case number, officer, device, time range and flags,
one page at a time (LIMIT/OFFSET over indexed columns), newest recording first.

Filters join only what they need: the case through ``case_link`` (live links), the officer by
badge, the device by serial, the time on ``recorded_start`` (indexed alone and with the device
and the officer); flags: ``late`` and ``clock`` from ``offload_check``, ``damaged`` from the
item's probe flags, ``fixity`` from a ``fixity_failed`` custody event of the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import aliased

from storage.catalog.models import (
    CaseLinkRow,
    CaseRow,
    CustodyEventRow,
    DeviceRow,
    ItemRow,
    OfficerRow,
    OffloadCheckRow,
)
from storage.catalog.session import Transaction

LATE, DAMAGED, CLOCK, FIXITY, UNLINKED = "late", "damaged", "clock", "fixity", "unlinked"
SEARCH_FLAGS = (LATE, DAMAGED, CLOCK, FIXITY)  # the console's; the CLI adds UNLINKED
DAMAGE_FLAGS = ("media_damaged", "media_unreadable")
MAX_PAGE = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemQuery:
    case: str | None = None
    officer: str | None = None  # a badge
    device: str | None = None  # a serial
    since: datetime | None = None  # recorded_start >= since
    until: datetime | None = None  # recorded_start < until
    flags: frozenset[str] = frozenset()  # every one must hold
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemHit:
    id: int
    sha256: str
    size: int
    device_serial: str
    officer_badge: str | None
    recorded_start: datetime | None
    recorded_end: datetime | None
    mime_type: str | None
    path: str
    state: str
    confidentiality: str
    flags: tuple[str, ...]
    late: bool
    clock_problem: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemPage:
    hits: tuple[ItemHit, ...]
    offset: int
    limit: int
    more: bool  # another page follows


def search_items(txn: Transaction, q: ItemQuery) -> ItemPage:
    limit = max(1, min(q.limit, MAX_PAGE))
    order = (ItemRow.recorded_start.desc(), ItemRow.id.desc())
    page = _matching_ids(q).order_by(*order).limit(limit + 1).offset(max(0, q.offset))
    page = page.correlate(None)  # its own evidence_item, not the outer one
    stmt = (
        select(ItemRow, DeviceRow.serial, OfficerRow.badge, OffloadCheckRow)
        .join(DeviceRow, DeviceRow.id == ItemRow.device_id)
        .outerjoin(OfficerRow, OfficerRow.id == ItemRow.officer_id)
        .outerjoin(OffloadCheckRow, OffloadCheckRow.item_id == ItemRow.id)
        .where(ItemRow.id.in_(page))
        .order_by(*order)
    )
    rows = list(txn.s.execute(stmt))
    hits = tuple(
        ItemHit(
            id=item.id, sha256=item.sha256, size=item.size, device_serial=serial,
            officer_badge=badge, recorded_start=item.recorded_start,
            recorded_end=item.recorded_end, mime_type=item.mime_type,
            path=item.original_path_display, state=item.state,
            confidentiality=item.confidentiality,
            flags=tuple(x for x in item.flags.split(",") if x),
            late=chk is not None and chk.late_flag_seq is not None,
            clock_problem=chk.clock_problem if chk is not None else "",
        )
        for item, serial, badge, chk in rows[:limit]
    )  # fmt: skip
    return ItemPage(hits=hits, offset=max(0, q.offset), limit=limit, more=len(rows) > limit)


def _matching_ids(q: ItemQuery) -> Select[int]:
    """The ids of the matching items, every filter on an index: the page is cut from these
    (only index entries are skipped for a deep page) before whole rows are read. A flag is a
    small set of item ids (``offload_check`` by ``late_flag_seq`` or ``clock_problem``, the
    items with any flag by ``flags``, the ``fixity_failed`` events by type), never a scan."""
    stmt = select(ItemRow.id)
    if q.case is not None:
        linked = (
            select(CaseLinkRow.item_id)
            .join(CaseRow, CaseRow.id == CaseLinkRow.case_id)
            .where(CaseRow.number == q.case, CaseLinkRow.retired == 0)
        )
        stmt = stmt.where(ItemRow.id.in_(linked))
    if q.officer is not None:  # badges and serials are unique: one id each
        officer = select(OfficerRow.id).where(OfficerRow.badge == q.officer)
        stmt = stmt.where(ItemRow.officer_id == officer.scalar_subquery())
    if q.device is not None:
        device = select(DeviceRow.id).where(DeviceRow.serial == q.device)
        stmt = stmt.where(ItemRow.device_id == device.scalar_subquery())
    if q.since is not None:
        stmt = stmt.where(ItemRow.recorded_start >= q.since)
    if q.until is not None:
        stmt = stmt.where(ItemRow.recorded_start < q.until)
    if LATE in q.flags:
        late = select(OffloadCheckRow.item_id).where(OffloadCheckRow.late_flag_seq.is_not(None))
        stmt = stmt.where(ItemRow.id.in_(late))
    if CLOCK in q.flags:  # '' sorts first: "> ''" is "not empty" as an index range
        clock = select(OffloadCheckRow.item_id).where(OffloadCheckRow.clock_problem > "")
        stmt = stmt.where(ItemRow.id.in_(clock))
    if DAMAGED in q.flags:  # most items have no flag: the range skips them in the index
        flagged = aliased(ItemRow)
        damaged = select(flagged.id).where(
            flagged.flags > "", or_(*(flagged.flags.contains(f) for f in DAMAGE_FLAGS))
        )
        stmt = stmt.where(ItemRow.id.in_(damaged))
    if FIXITY in q.flags:
        failed = select(CustodyEventRow.item_id).where(CustodyEventRow.type == "fixity_failed")
        stmt = stmt.where(ItemRow.id.in_(failed))
    if UNLINKED in q.flags:  # in no case (issue 20): what still needs filing
        live = select(CaseLinkRow.item_id).where(CaseLinkRow.retired == 0)
        stmt = stmt.where(ItemRow.id.not_in(live))
    return stmt


@dataclass(frozen=True, slots=True, kw_only=True)
class FixitySweep:
    checked: int  # fixity_checked events
    failed_items: tuple[int, ...]  # items of its fixity_failed events
    first: str  # event times (UTC text)
    last: str


def last_fixity_sweep(txn: Transaction) -> FixitySweep | None:
    """The run of ``fixity_checked``/``fixity_failed`` events that ends with the newest one
    (a sweep appends them back to back); None before the first sweep."""
    txn.log.flush()
    kinds = ("fixity_checked", "fixity_failed")
    last = txn.s.scalar(
        select(CustodyEventRow.seq)
        .where(CustodyEventRow.type.in_(kinds))
        .order_by(CustodyEventRow.seq.desc())
        .limit(1)
    )
    if last is None:
        return None
    before = txn.s.scalar(
        select(CustodyEventRow.seq)
        .where(CustodyEventRow.seq < last, CustodyEventRow.type.not_in(kinds))
        .order_by(CustodyEventRow.seq.desc())
        .limit(1)
    )
    start = -1 if before is None else before
    rows = txn.s.execute(
        select(CustodyEventRow.type, CustodyEventRow.item_id, CustodyEventRow.time)
        .where(CustodyEventRow.seq > start, CustodyEventRow.seq <= last)
        .order_by(CustodyEventRow.seq)
    ).all()
    failed = tuple(i for t, i, _ in rows if t == "fixity_failed" and i is not None)
    checked = sum(1 for t, _, _ in rows if t == "fixity_checked")
    return FixitySweep(checked=checked, failed_items=failed, first=rows[0][2], last=rows[-1][2])
