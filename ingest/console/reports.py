"""The overdue view (``evidock overdue``'s report, ``ingest.cases.overdue.build_report``) and
the verify page: the custody log, its newest signed checkpoint and the last fixity sweep."""

from __future__ import annotations

from flask import Blueprint, Flask

from ingest.access.roles import Action
from ingest.cases.compliance import format_span
from ingest.cases.overdue import build_report
from ingest.console.app import console, page, person, require
from ingest.console.text import Table
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.search import last_fixity_sweep

TEXT: Table = {
    "overdue": ("逾期与合规", "Overdue and compliance"),
    "at": ("截至", "As of"),
    "count": ("逾期且未获豁免", "overdue and not excused"),
    "late": ("逾期上传（超过24小时）", "Offloaded late (over 24 hours)"),
    "pending": ("尚未上传且已逾期", "Not offloaded and past the deadline"),
    "devices": ("超过24小时未接入的设备", "Devices not docked for 24 hours"),
    "archives": ("逾期未归档案件（30日）", "Cases not archived within 30 days"),
    "gaps": ("缺少音视频记录", "Missing A/V records"),
    "clock": ("时钟问题", "Clock problems"),
    "excused": ("已豁免", "excused"),
    "col.item": ("证据", "Item"),
    "col.device": ("设备", "Device"),
    "col.delay": ("延迟", "Delay"),
    "col.case": ("案件", "Case"),
    "col.activity": ("活动", "Activity"),
    "col.coverage": ("覆盖", "Coverage"),
    "col.due": ("期限", "Due"),
    "col.undocked": ("未接入时长", "Not docked for"),
    "col.problem": ("问题", "Problem"),
    "nothing": ("无", "none"),
    "verify": ("完整性校验", "Verification"),
    "log": ("保管日志", "Custody log"),
    "events": ("事件数", "events"),
    "checkpoint": ("最新签名检查点", "Newest signed checkpoint"),
    "cp.size": ("树大小", "tree size"),
    "cp.root": ("根哈希", "root hash"),
    "cp.time": ("签名时间", "signed at"),
    "cp.cosigned": ("见证人联署", "witness cosignatures"),
    "sweep": ("最近一次完整性巡检", "Last fixity sweep"),
    "sweep.none": ("尚未巡检：请运行 evidock audit。", "No sweep yet: run evidock audit."),
    "sweep.checked": ("校验通过", "checked, matching"),
    "sweep.failed": ("校验失败", "FAILED"),
    "sweep.when": ("时间", "time"),
}  # fmt: skip

bp = Blueprint("reports", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/overdue")
def overdue() -> tuple[str, int]:
    no = require(Action.VIEW_COMPLIANCE, TEXT, what="overdue report")
    if no is not None:
        return no
    c = console()
    # measuring is the audit timer's job (it writes events): the page reads what it measured
    report = build_report(c.ctx, at=c.clock(), actor=person().actor, measure_first=False)
    return page("overdue.html", TEXT, r=report, span=format_span)


@bp.route("/verify")
def verify() -> tuple[str, int]:
    no = require(Action.RUN_VERIFY, TEXT, what="verify page")
    if no is not None:
        return no
    c = console()
    with c.ctx.catalog.read() as txn:
        size = txn.log.head().size
        checkpoints = txn.log.checkpoints()
        newest = max(checkpoints, key=lambda cp: (cp.size, cp.id), default=None)
        cosigned = 0
        if newest is not None:
            cosigned = sum(1 for x in CosignatureOps(txn).cosignatures()
                           if x.checkpoint_id == newest.id)  # fmt: skip
        sweep = last_fixity_sweep(txn)
    return page("verify.html", TEXT, size=size, cp=newest, cosigned=cosigned, sweep=sweep)
