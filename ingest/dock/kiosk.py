"""The kiosk page (issue 20): the small screen beside the bays shows each bay's last receipt.

Served by the dock's metrics endpoint (``ingest.metrics.prometheus.serve``, its ``pages``) at
``/kiosk`` (every bay) and ``/kiosk/<bay>`` (one bay; an unknown bay is 404). The page is
server-rendered HTML that reloads itself every 10 s: no script, no media, no login, no form,
and a Content-Security-Policy that allows nothing but its inline style. It shows only the
last docking of each bay; names from a device are escaped for the terminal first
(``for_terminal``: no control or bidi character reaches the screen), then for HTML.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from ingest.dock.receipt import BayReceipt, receipt_pairs
from ingest.metrics.prometheus import Page
from ingest.output import for_terminal

REFRESH_S = 10
HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)
STYLE = (
    "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;margin:1em;"
    "background:#fff;color:#111}section{border:2px solid #444;border-radius:6px;padding:.5em 1em;"
    "margin-bottom:1em}h2{margin:.2em 0}p{margin:.25em 0}.en{color:#555;font-size:.85em}"
    ".alert{color:#a00;font-weight:bold}.detail{margin-left:2em;font-size:.9em}"
)


def _h(text: str) -> str:
    return escape(for_terminal(text), quote=True)


def render(receipts: Sequence[BayReceipt], *, dock: str, zone: ZoneInfo, title: str) -> str:
    """The page for ``receipts`` (pure)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_S}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_h(title)}</h1>",
    ]
    if not receipts:
        parts.append('<p>还没有停靠记录</p><p class="en" lang="en">no docking yet</p>')
    for r in receipts:
        parts.append(f'<section id="bay-{_h(quote(r.bay, safe=""))}">')
        parts.append(f"<h2>{_h(r.bay)}</h2>")
        for line in receipt_pairs(r, zone):
            cls = " ".join(
                c for c in ("detail" if line.level else "", "alert" if line.alert else "") if c
            )
            attr = f' class="{cls}"' if cls else ""
            parts.append(f"<div{attr}><p>{_h(line.zh)}</p>")
            if line.en:
                parts.append(f'<p class="en" lang="en">{_h(line.en)}</p>')
            parts.append("</div>")
        parts.append("</section>")
    parts.append(f'<footer class="en">{_h(dock)}</footer></body></html>')
    return "\n".join(parts)


def kiosk_pages(
    receipts: Callable[[], Sequence[BayReceipt]], *, dock: str, zone: ZoneInfo
) -> Callable[[str], Page | None]:
    """The endpoint's ``pages``: ``/kiosk`` and ``/kiosk/<bay>``; None for any other path."""

    def page(path: str) -> Page | None:
        if path.rstrip("/") == "/kiosk":
            shown = list(receipts())
            title = f"停靠站 {dock} 卸载回执 / dock {dock} receipts"
        elif path.startswith("/kiosk/"):
            bay = unquote(path.removeprefix("/kiosk/").rstrip("/"), errors="surrogateescape")
            shown = [r for r in receipts() if r.bay == bay]
            if not shown:
                return _not_found(bay)
            title = f"{bay} 卸载回执 / receipt of {bay}"
        else:
            return None
        body = render(shown, dock=dock, zone=zone, title=title)
        return Page(status=200, body=body.encode("utf-8"), headers=HEADERS)

    return page


def _not_found(bay: str) -> Page:
    body = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>404</title></head>'
        f"<body><p>没有这个停靠位：{_h(bay)}</p>"
        f'<p lang="en">no such bay: {_h(bay)}</p></body></html>'
    )
    return Page(status=404, body=body.encode("utf-8"), headers=HEADERS)
