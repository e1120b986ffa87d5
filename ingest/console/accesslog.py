"""The access log: who saw what, when (Art. 29), filterable by person, item, case and time,
a page at a time, and exportable as CSV (``storage.catalog.people.access_events``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Flask, Response, request

from i18n import N_
from ingest.access.roles import Action
from ingest.console.app import console, int_arg, page, require
from storage.catalog.people import access_events
from storage.records import Event

PAGE = 50
CSV_MAX = 100_000
CSV_CHUNK = 1000
CSV_COLUMNS = ("seq", "time", "type", "actor", "person", "roles", "item", "case", "action",
               "what", "detail")  # fmt: skip

bp = Blueprint("accesslog", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


def _filters() -> tuple[dict[str, Any], dict[str, str], bool]:
    a = request.args
    form = {k: a.get(k, "").strip() for k in ("person", "item", "case", "since", "until")}
    zone = console().ctx.settings.zone
    bad = False
    times: dict[str, datetime | None] = {"since": None, "until": None}
    for key in times:
        if form[key]:
            try:
                day = datetime.strptime(form[key], "%Y-%m-%d").replace(tzinfo=zone)
            except ValueError:
                bad = True
                continue
            times[key] = (day + timedelta(days=1 if key == "until" else 0)).astimezone(UTC)
    filters: dict[str, Any] = {
        "person": form["person"] or None,
        "item_id": int(form["item"]) if form["item"].isdigit() else None,
        "case": form["case"] or None,
        **times,
    }
    return filters, form, bad


@bp.route("/access")
def log() -> tuple[str, int]:
    no = require(Action.VIEW_ACCESS_LOG, what=N_("access log"))
    if no is not None:
        return no
    filters, form, bad = _filters()
    offset = int_arg("offset")
    with console().ctx.catalog.read() as txn:
        found = access_events(txn, **filters, limit=PAGE + 1, offset=offset)
    rows = [(e, _data(e)) for e in found[:PAGE]]
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "offset"]
    return page("access.html", rows=rows, form=form, bad=bad, offset=offset,
                page_size=PAGE, more=len(found) > PAGE, query=query)  # fmt: skip


@bp.route("/access.csv")
def export() -> Response | tuple[str, int]:
    no = require(Action.VIEW_ACCESS_LOG, what=N_("access log CSV"))
    if no is not None:
        return no
    filters, _, _ = _filters()
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel reads UTF-8 (Chinese names) only with the BOM
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    with console().ctx.catalog.read() as txn:
        for offset in range(0, CSV_MAX, CSV_CHUNK):
            batch = access_events(txn, **filters, limit=CSV_CHUNK, offset=offset)
            for e in batch:
                w.writerow(_csv_row(e))
            if len(batch) < CSV_CHUNK:
                break
    stamp = console().clock().strftime("%Y%m%dT%H%M%SZ")
    return Response(buf.getvalue(), mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="evidock-access-{stamp}.csv"'})  # fmt: skip


def _data(e: Event) -> dict[str, Any]:
    parsed = json.loads(e.data)
    return parsed if isinstance(parsed, dict) else {}


def _csv_row(e: Event) -> list[str]:
    d = _data(e)
    known = {"person", "roles", "case", "action", "what"}
    rest = {k: v for k, v in d.items() if k not in known}
    return [str(e.seq), e.time, e.type, e.actor, str(d.get("person", "")),
            " ".join(d.get("roles", []) or []), "" if e.item is None else str(e.item),
            str(d.get("case", "")), str(d.get("action", "")), str(d.get("what", "")),
            json.dumps(rest, ensure_ascii=False, sort_keys=True)]  # fmt: skip
