"""Sessions: the admin sees who is signed in and revokes a session (``session_revoked``)."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from i18n import N_
from ingest.access.roles import Action
from ingest.console.app import console, page, person, require
from storage.catalog import people
from storage.catalog.console import ConsoleOps

bp = Blueprint("admin", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/sessions")
def sessions() -> tuple[str, int]:
    no = require(Action.MANAGE_PEOPLE, what=N_("sessions"))
    if no is not None:
        return no
    c = console()
    with c.ctx.catalog.read() as txn:
        live = ConsoleOps(txn).live_sessions(at=c.clock())
        names = {p.id: p.username for p in people.list_people(txn)}
    return page("sessions.html", sessions=live, names=names)


@bp.route("/sessions/<sid>/revoke", methods=["POST"])
def revoke(sid: str) -> BaseResponse | tuple[str, int]:
    no = require(Action.MANAGE_PEOPLE, what=N_("revoke session"))
    if no is not None:
        return no
    console().auth.revoke(sid, by=person(), reason="revoked")
    return redirect(url_for("admin.sessions"), code=303)
