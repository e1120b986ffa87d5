"""The case page: stages and activities with the A/V coverage of each requirement, the linked
items (restricted ones only as existing), handler/reviewer/approver (Art. 32) and deadlines:
the 24-hour offload of each linked item (Art. 28) and the 30-day archive (Art. 27)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from ingest.access.guard import check_case, item_level, record_access, relation_to_item
from ingest.access.roles import Action, decide
from ingest.cases.coverage import coverages
from ingest.cases.vocab import RECORD_TYPES, STAGES
from ingest.console.app import console, page, person, refused
from ingest.console.text import Table
from storage.catalog.caselinks import LinkOps
from storage.catalog.cases import CaseOps
from storage.catalog.offload import OffloadOps
from storage.errors import NotFound
from verify.log.events import EventType

TEXT: Table = {
    "heading": ("案件", "Case"),
    "list": ("案件列表", "Cases"),
    "title": ("案由", "Title"),
    "status": ("状态", "Status"),
    "type": ("执法类别", "Enforcement type"),
    "procedure": ("程序", "Procedure"),
    "handler": ("承办人", "Handler"),
    "reviewer": ("审核人", "Reviewer"),
    "approver": ("批准人", "Approver"),
    "confidentiality": ("密级", "Confidentiality"),
    "opened": ("立案时间", "Opened"),
    "closed": ("结案时间", "Closed"),
    "archive_due": ("归档期限（30日）", "Archive due (30 days)"),
    "archived": ("归档时间", "Archived"),
    "overdue": ("已逾期", "overdue"),
    "activities": ("执法活动", "Activities"),
    "col.stage": ("阶段", "Stage"),
    "col.record": ("记录类型", "Record type"),
    "col.window": ("时间", "Window"),
    "col.av": ("须音视频记录", "A/V required"),
    "col.coverage": ("音视频覆盖", "A/V coverage"),
    "col.exempt": ("不宜录制理由", "Why no A/V"),
    "items": ("关联证据", "Linked items"),
    "col.item": ("证据", "Item"),
    "col.linked": ("关联方式", "Linked how"),
    "col.offload": ("24小时上传", "24-hour offload"),
    "offload.late": ("逾期", "late"),
    "offload.ok": ("按时", "in time"),
    "offload.pending": ("待测", "not measured"),
    "no_case": ("没有此案件。", "No such case."),
    "restricted_item": ("受限证据", "restricted item"),
}  # fmt: skip

bp = Blueprint("case", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/cases")
def cases() -> tuple[str, int]:
    with console().ctx.catalog.read() as txn:
        found = CaseOps(txn).cases()
    return page("cases.html", TEXT, cases=found)


@bp.route("/cases/<path:number>")
def show(number: str) -> tuple[str, int]:
    c, me = console(), person()
    now = c.clock()
    with c.ctx.catalog.write() as txn:
        try:
            CaseOps(txn).case(number)
        except NotFound:
            return page("error.html", TEXT, 404, code=404, csrf_failed=False)
        d = check_case(txn, c.ctx, me, Action.VIEW_CASE, number)
        if d.allowed:
            record_access(txn, c.ctx, me, EventType.VIEWED, case=number,
                          detail={"what": "case page"}, now=now)  # fmt: skip
    if not d.allowed:
        return refused(d, TEXT, what=number)
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
    return page("case.html", TEXT, case=case, acts=acts, cover=cover, items=items,
                stages=STAGES, record_types=RECORD_TYPES, now=now)  # fmt: skip
