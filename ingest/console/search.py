"""The search page: items by case number, officer, device, recording time and flags, a page
at a time (``storage.catalog.search``). A restricted item is listed as existing, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, request

from i18n import _
from ingest.access.guard import item_level, relation_to_item
from ingest.access.roles import Action, decide
from ingest.console.app import console, int_arg, page, person
from storage.catalog.search import SEARCH_FLAGS, ItemQuery, search_items

PAGE = 25

bp = Blueprint("search", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def _day(text: str) -> datetime:
    """A date typed in the form, as the start of that day in the configured zone."""
    day = datetime.strptime(text, "%Y-%m-%d")
    return day.replace(tzinfo=console().ctx.settings.zone).astimezone(UTC)


@bp.route("/")
def search() -> tuple[str, int]:
    a = request.args
    form = {k: a.get(k, "").strip() for k in ("case", "officer", "device", "since", "until")}
    flags = frozenset(f for f in a.getlist("flag") if f in SEARCH_FLAGS)
    problem = None
    since = until = None
    try:
        since = _day(form["since"]) if form["since"] else None
        until = _day(form["until"]) + timedelta(days=1) if form["until"] else None
    except ValueError:
        problem = _("Write dates like 2026-12-01.")
    offset = int_arg("offset")
    asked = any(form.values()) or bool(flags) or "all" in a
    rows: list[tuple[object, bool]] = []
    more = False
    if asked and problem is None:
        q = ItemQuery(case=form["case"] or None, officer=form["officer"] or None,
                      device=form["device"] or None, since=since, until=until, flags=flags,
                      limit=PAGE, offset=offset)  # fmt: skip
        me = person()
        with console().ctx.catalog.read() as txn:
            found = search_items(txn, q)
            for hit in found.hits:
                level = item_level(txn, hit.id)
                d = decide(me.roles, Action.VIEW_ITEM, level, relation_to_item(txn, me, hit.id))
                rows.append((hit, d.allowed))
        more = found.more
    return page("search.html", form=form, flags=flags, all_flags=SEARCH_FLAGS,
                rows=rows, asked=asked, problem=problem, offset=offset, page_size=PAGE,
                more=more, query=_query_without_offset())  # fmt: skip


def _query_without_offset() -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
