"""The search page: items by case number, officer, device, recording time and flags, a page
at a time (``storage.catalog.search``). A restricted item is listed as existing, nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Blueprint, Flask, request

from ingest.access.guard import item_level, relation_to_item
from ingest.access.roles import Action, decide
from ingest.console.app import console, int_arg, page, person
from ingest.console.text import Table
from storage.catalog.search import SEARCH_FLAGS, ItemQuery, search_items

PAGE = 25

TEXT: Table = {
    "heading": ("检索证据", "Search evidence"),
    "case": ("案件编号", "Case number"),
    "officer": ("执法人员（警号）", "Officer (badge)"),
    "device": ("设备编号", "Device serial"),
    "since": ("录制起始日期", "Recorded from"),
    "until": ("录制截止日期", "Recorded until"),
    "flags": ("标记", "Flags"),
    "flag.late": ("逾期上传", "late"),
    "flag.damaged": ("文件损坏", "damaged"),
    "flag.clock": ("时钟问题", "clock problem"),
    "flag.fixity": ("完整性校验失败", "fixity failed"),
    "submit": ("检索", "Search"),
    "col.id": ("编号", "ID"),
    "col.recorded": ("录制时间", "Recorded"),
    "col.device": ("设备", "Device"),
    "col.officer": ("执法人员", "Officer"),
    "col.file": ("文件", "File"),
    "col.flags": ("标记", "Flags"),
    "empty": ("没有符合条件的证据。", "No item matches."),
    "bad_date": ("日期格式应为 2026-12-01。", "Write dates like 2026-12-01."),
    "open_case": ("打开案件页", "Open the case page"),
}  # fmt: skip

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
        problem = "bad_date"
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
    return page("search.html", TEXT, form=form, flags=flags, all_flags=SEARCH_FLAGS,
                rows=rows, asked=asked, problem=problem, offset=offset, page_size=PAGE,
                more=more, query=_query_without_offset())  # fmt: skip


def _query_without_offset() -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
