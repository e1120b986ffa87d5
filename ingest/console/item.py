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

from ingest.access.guard import check_item, item_level, record_access, relation_to_item
from ingest.access.roles import Action, decide
from ingest.console.app import console, page, person, refused
from ingest.console.text import Table
from ingest.console.timeline import item_timeline
from ingest.jobs.proxies import POSTER, PROXY, SHEET, WAVEFORM, derived_store
from ingest.media.kinds import AUDIO, PHOTO, VIDEO, media_kind
from storage.catalog.derived import DerivedOps
from storage.errors import NotFound
from storage.records import DerivedMedia
from verify.log.events import EventType

TEXT: Table = {
    "heading": ("证据", "Evidence item"),
    "metadata": ("元数据", "Metadata"),
    "sha256": ("SHA-256", "SHA-256"),
    "size": ("大小（字节）", "Size (bytes)"),
    "device": ("设备", "Device"),
    "officer": ("执法人员", "Officer"),
    "path": ("原始路径", "Original path"),
    "recorded": ("录制时间", "Recorded"),
    "time_source": ("时间来源", "Time source"),
    "durable": ("可靠存储时间", "Durable at"),
    "state": ("状态", "State"),
    "confidentiality": ("密级", "Confidentiality"),
    "codec": ("编码", "Codecs"),
    "flags": ("标记", "Flags"),
    "gps": ("位置", "GPS"),
    "player": ("播放（审阅副本）", "Playback (review proxy)"),
    "no_proxy": ("尚无审阅副本。", "No review proxy yet."),
    "no_media_role": ("您的角色不可播放媒体。", "Your role may not play media."),
    "poster": ("封面", "Poster"),
    "sheet": ("缩略图页", "Contact sheet"),
    "waveform": ("波形", "Waveform"),
    "download": ("下载原始文件（记入日志）", "Download the original (logged)"),
    "derivation": ("派生链", "Derivation chain"),
    "original": ("原始文件", "Original"),
    "timeline": ("保管记录", "Custody timeline"),
    "col.seq": ("序号", "Seq"),
    "col.time": ("时间", "Time"),
    "col.type": ("事件", "Event"),
    "col.actor": ("操作者", "Actor"),
    "col.proof": ("包含证明", "Inclusion proof"),
    "col.detail": ("详情", "Detail"),
    "proof.proven": ("已验证", "verified"),
    "proof.pending": ("待下一签名检查点", "awaiting the next signed checkpoint"),
    "proof.failed": ("验证失败", "FAILED"),
    "checkpoint": ("签名检查点大小", "Signed checkpoint of size"),
    "no_checkpoint": ("尚无签名检查点。", "No signed checkpoint yet."),
    "item_missing": ("没有此证据。", "No such item."),
    "not_local": ("此文件不在本机存储中（仅在对象存储中）。",
                  "This file is not in the local store (only in the object store)."),
}  # fmt: skip

MIME = {
    (PROXY, VIDEO): "video/mp4",
    (PROXY, AUDIO): "audio/mp4",
    (PROXY, PHOTO): "image/jpeg",
    (POSTER, None): "image/jpeg",
    (SHEET, None): "image/jpeg",
    (WAVEFORM, None): "image/png",
}
KINDS = (PROXY, POSTER, SHEET, WAVEFORM)

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
            return page("error.html", TEXT, 404, code=404, csrf_failed=False)
        d = check_item(txn, c.ctx, me, Action.VIEW_ITEM, item_id)
        if d.allowed:
            record_access(txn, c.ctx, me, EventType.VIEWED, item_id=item_id,
                          detail={"what": "item page"}, now=c.clock())  # fmt: skip
    if not d.allowed:
        return refused(d, TEXT, what=f"#{item_id}")
    with c.ctx.catalog.read() as txn:
        item = txn.item(item_id)
        derived = _latest(DerivedOps(txn).for_items([item_id]).get(item_id, []))
        timeline = item_timeline(txn, c.ctx, item_id)
        level = item_level(txn, item_id)
        stream = decide(me.roles, Action.STREAM, level, relation_to_item(txn, me, item_id))
        download = decide(me.roles, Action.DOWNLOAD_ORIGINAL, level,
                          relation_to_item(txn, me, item_id))  # fmt: skip
    return page("item.html", TEXT, item=item, kind=media_kind(item.facts), derived=derived,
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
        return refused(d, TEXT, what=f"#{item_id} {kind}")
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
        return refused(d, TEXT, what=f"#{item_id} original")
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
