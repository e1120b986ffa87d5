"""Sessions: the admin sees who is signed in and revokes a session (``session_revoked``)."""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from ingest.access.roles import Action
from ingest.console.app import console, page, person, require
from ingest.console.text import Table
from storage.catalog import people
from storage.catalog.console import ConsoleOps

TEXT: Table = {
    "heading": ("在线会话", "Live sessions"),
    "col.person": ("人员", "Person"),
    "col.since": ("登录时间", "Since"),
    "col.seen": ("最近活动", "Last seen"),
    "col.expires": ("到期", "Expires"),
    "col.remote": ("来源地址", "From"),
    "revoke": ("撤销", "Revoke"),
    "empty": ("没有在线会话。", "No live session."),
}  # fmt: skip

bp = Blueprint("admin", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/sessions")
def sessions() -> tuple[str, int]:
    no = require(Action.MANAGE_PEOPLE, TEXT, what="sessions")
    if no is not None:
        return no
    c = console()
    with c.ctx.catalog.read() as txn:
        live = ConsoleOps(txn).live_sessions(at=c.clock())
        names = {p.id: p.username for p in people.list_people(txn)}
    return page("sessions.html", TEXT, sessions=live, names=names)


@bp.route("/sessions/<sid>/revoke", methods=["POST"])
def revoke(sid: str) -> BaseResponse | tuple[str, int]:
    no = require(Action.MANAGE_PEOPLE, TEXT, what="revoke session")
    if no is not None:
        return no
    console().auth.revoke(sid, by=person(), reason="revoked")
    return redirect(url_for("admin.sessions"), code=303)
