"""The overdue view (``evidock overdue``'s report, ``ingest.cases.overdue.build_report``) and
the verify page: the custody log, its newest signed checkpoint and the last fixity sweep."""

from __future__ import annotations

from flask import Blueprint, Flask

from i18n import N_
from ingest.access.roles import Action
from ingest.cases.compliance import format_span
from ingest.cases.overdue import build_report
from ingest.console.app import console, page, person, require
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.search import last_fixity_sweep

bp = Blueprint("reports", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/overdue")
def overdue() -> tuple[str, int]:
    no = require(Action.VIEW_COMPLIANCE, what=N_("overdue report"))
    if no is not None:
        return no
    c = console()
    # measuring is the audit timer's job (it writes events): the page reads what it measured
    report = build_report(c.ctx, at=c.clock(), actor=person().actor, measure_first=False)
    return page("overdue.html", r=report, span=format_span)


@bp.route("/verify")
def verify() -> tuple[str, int]:
    no = require(Action.RUN_VERIFY, what=N_("verify page"))
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
    return page("verify.html", size=size, cp=newest, cosigned=cosigned, sweep=sweep)
