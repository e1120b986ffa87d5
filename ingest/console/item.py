"""The item page (metadata, proxy player, poster, contact sheet, custody timeline with each
event's inclusion proof checked, derivation chain original -> proxy), the media it plays (HTTP
range requests) and the original's download.

Each is checked by ``ingest.access.guard`` (a refusal is an ``access_denied`` event) and each
access is an event: the page ``viewed`` (within a minute: one event), a derivative
``streamed`` (when it is fetched from its first byte: a player's later range requests are the
same playback), the original ``downloaded`` (every time).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, abort, request, send_file
from werkzeug.wrappers import Response as BaseResponse

from i18n import N_, _
from ingest.access.guard import check_item, item_level, record_access, relation_to_item
from ingest.access.roles import Action, decide
from ingest.console.app import console, page, person, refused
from ingest.console.timeline import item_timeline
from ingest.jobs.proxies import POSTER, PROXY, SHEET, WAVEFORM, derived_store
from ingest.media.kinds import AUDIO, PHOTO, VIDEO, media_kind
from storage.catalog.derived import DerivedOps
from storage.errors import NotFound
from storage.records import DerivedMedia
from verify.log.events import EventType

MIME = {
    (PROXY, VIDEO): "video/mp4",
    (PROXY, AUDIO): "audio/mp4",
    (PROXY, PHOTO): "image/jpeg",
    (POSTER, None): "image/jpeg",
    (SHEET, None): "image/jpeg",
    (WAVEFORM, None): "image/png",
}
KINDS = (PROXY, POSTER, SHEET, WAVEFORM)
KIND_NAMES = {
    PROXY: N_("review copy"),
    POSTER: N_("poster"),
    SHEET: N_("contact sheet"),
    WAVEFORM: N_("waveform"),
}

bp = Blueprint("item", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/items/<int:item_id>")
def show(item_id: int) -> tuple[str, int]:
    c, me = console(), person()
    with c.ctx.catalog.write() as txn:
        try:
            txn.item(item_id)
        except NotFound:
            return page("error.html", 404, code=404, csrf_failed=False)
        d = check_item(txn, c.ctx, me, Action.VIEW_ITEM, item_id)
        if d.allowed:
            record_access(txn, c.ctx, me, EventType.VIEWED, item_id=item_id,
                          detail={"what": "item page"}, now=c.clock())  # fmt: skip
    if not d.allowed:
        return refused(d, what=_("item #{item}").format(item=item_id))
    with c.ctx.catalog.read() as txn:
        item = txn.item(item_id)
        derived = _latest(DerivedOps(txn).for_items([item_id]).get(item_id, []))
        timeline = item_timeline(txn, c.ctx, item_id)
        level = item_level(txn, item_id)
        stream = decide(me.roles, Action.STREAM, level, relation_to_item(txn, me, item_id))
        download = decide(me.roles, Action.DOWNLOAD_ORIGINAL, level,
                          relation_to_item(txn, me, item_id))  # fmt: skip
    return page("item.html", item=item, kind=media_kind(item.facts), derived=derived,
                kind_names=KIND_NAMES,
                chain=_chain(derived), timeline=timeline, stream=stream.allowed,
                download=download.allowed, level=level.value)  # fmt: skip


@bp.route("/items/<int:item_id>/media/<kind>")
def media(item_id: int, kind: str) -> BaseResponse | tuple[str, int]:
    if kind not in KINDS:
        abort(404)
    c, me = console(), person()
    first = _from_start(request.headers.get("Range"))
    with c.ctx.catalog.write() as txn:
        item = txn.item(item_id)
        found = _latest(DerivedOps(txn).for_items([item_id]).get(item_id, [])).get(kind)
        if found is None:
            abort(404)
        d = check_item(txn, c.ctx, me, Action.STREAM, item_id)
        if d.allowed and first:
            record_access(txn, c.ctx, me, EventType.STREAMED, item_id=item_id,
                          detail={"kind": kind, "sha256": found.sha256}, now=c.clock())  # fmt: skip
    if not d.allowed:
        return refused(
            d, what=_("item #{item}: {kind}").format(item=item_id, kind=_(KIND_NAMES[kind]))
        )
    path = derived_store(c.ctx).path_for(found.sha256)
    mime = MIME.get((kind, media_kind(item.facts) if kind == PROXY else None))
    return _send(path, mime or "application/octet-stream", etag=found.sha256)


@bp.route("/items/<int:item_id>/original")
def original(item_id: int) -> BaseResponse | tuple[str, int]:
    c, me = console(), person()
    with c.ctx.catalog.write() as txn:
        item = txn.item(item_id)
        d = check_item(txn, c.ctx, me, Action.DOWNLOAD_ORIGINAL, item_id)
        if d.allowed:
            detail = {"what": "original", "sha256": item.sha256}
            record_access(txn, c.ctx, me, EventType.DOWNLOADED, item_id=item_id,
                          detail=detail, now=c.clock())  # fmt: skip
    if not d.allowed:
        return refused(d, what=_("item #{item}: the original").format(item=item_id))
    name = Path(item.original_path_display).name or f"item-{item_id}"
    return _send(c.ctx.store.path_for(item.sha256), item.facts.mime_type or
                 "application/octet-stream", etag=item.sha256, download=name)  # fmt: skip


def _send(path: Path, mime: str, *, etag: str, download: str | None = None) -> BaseResponse:
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=mime, conditional=True, etag=etag,
                         as_attachment=download is not None, download_name=download,
                         max_age=0)  # fmt: skip
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _from_start(header: str | None) -> bool:
    """A fetch from the first byte: no Range, or one that starts at 0."""
    if not header:
        return True
    return header.replace(" ", "").startswith("bytes=0-")


def _latest(derived: list[DerivedMedia]) -> dict[str, DerivedMedia]:
    """The newest derivative of each kind (a re-made proxy replaces the older one)."""
    found: dict[str, DerivedMedia] = {}
    for d in derived:
        found[d.kind] = d
    return found


def _chain(derived: dict[str, DerivedMedia]) -> list[dict[str, Any]]:
    """original -> each derivative, with the tool and its arguments as recorded."""
    out = []
    for kind, d in derived.items():
        try:
            params = json.loads(d.params) if d.params else {}
        except ValueError:
            params = {}
        args = params.get("args") if isinstance(params, dict) else None
        out.append({"kind": kind, "sha256": d.sha256, "size": d.size,
                    "tool": params.get("tool", "") if isinstance(params, dict) else "",
                    "args": " ".join(args) if isinstance(args, list) else "",
                    "created_at": d.created_at})  # fmt: skip
    return out
