"""The case page: stages and activities with the A/V coverage of each requirement, the linked
items (restricted ones only as existing), handler/reviewer/approver (Art. 32) and deadlines:
the 24-hour offload of each linked item (Art. 28) and the 30-day archive (Art. 27)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from i18n import _
from ingest.access.guard import check_case, item_level, record_access, relation_to_item
from ingest.access.roles import Action, decide
from ingest.cases.coverage import coverages
from ingest.console.app import console, page, person, refused
from storage.catalog.caselinks import LinkOps
from storage.catalog.cases import CaseOps
from storage.catalog.offload import OffloadOps
from storage.errors import NotFound
from verify.log.events import EventType

bp = Blueprint("case", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/cases")
def cases() -> tuple[str, int]:
    with console().ctx.catalog.read() as txn:
        found = CaseOps(txn).cases()
    return page("cases.html", cases=found)


@bp.route("/cases/<path:number>")
def show(number: str) -> tuple[str, int]:
    c, me = console(), person()
    now = c.clock()
    with c.ctx.catalog.write() as txn:
        try:
            CaseOps(txn).case(number)
        except NotFound:
            return page("error.html", 404, code=404, csrf_failed=False)
        d = check_case(txn, c.ctx, me, Action.VIEW_CASE, number)
        if d.allowed:
            record_access(txn, c.ctx, me, EventType.VIEWED, case=number,
                          detail={"what": "case page"}, now=now)  # fmt: skip
    if not d.allowed:
        return refused(d, what=_("case {number}").format(number=number))
    with c.ctx.catalog.read() as txn:
        ops = CaseOps(txn)
        case = ops.case(number)
        acts = ops.activities(case.id)
        links = LinkOps(txn)
        live = links.links(case.id, live_only=True)
        cover = coverages(links, acts, now)
        checks = OffloadOps(txn).checks([ln.item_id for ln in live])
        items: list[dict[str, Any]] = []
        for ln in live:
            level = item_level(txn, ln.item_id)
            rel = relation_to_item(txn, me, ln.item_id)
            chk = checks.get(ln.item_id)
            items.append({
                "link": ln,
                "visible": decide(me.roles, Action.VIEW_ITEM, level, rel).allowed,
                "offload": "pending" if chk is None or chk.delay_s is None
                else "late" if chk.late_flag_seq is not None else "ok",
            })  # fmt: skip
    return page("case.html", case=case, acts=acts, cover=cover, items=items, now=now)
