"""The kiosk page (issue 20): the small screen beside the bays shows each bay's last receipt.

Served by the dock's metrics endpoint (``ingest.metrics.prometheus.serve``, its ``pages``) at
``/kiosk`` (every bay) and ``/kiosk/<bay>`` (one bay; an unknown bay is 404). The page is
server-rendered HTML that reloads itself every 10 s: no script, no media, no login, no form,
and a Content-Security-Policy that allows nothing but its inline style. It shows only the
last docking of each bay; names from a device are escaped for the terminal first
(``for_terminal``: no control or bidi character reaches the screen), then for HTML. Each
request is answered in one language (issue 20): ``?lang=zh|en``, else the browser's
Accept-Language, else Chinese, whatever the dock's own language; the page links to the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from urllib.parse import parse_qs, quote, unquote
from zoneinfo import ZoneInfo

import i18n
from i18n import _
from ingest.dock.receipt import BayReceipt, receipt_parts
from ingest.metrics.prometheus import Page, PageRequest
from ingest.output import for_terminal

REFRESH_S = 10
HEADERS = (
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Vary", "Accept-Language"),
)
STYLE = (
    "body{font-family:'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;margin:1em;"
    "background:#fff;color:#111}section{border:2px solid #444;border-radius:6px;padding:.5em 1em;"
    "margin-bottom:1em}h2{margin:.2em 0}p{margin:.25em 0}footer{color:#555;font-size:.85em}"
    ".alert{color:#a00;font-weight:bold}.detail{margin-left:2em;font-size:.9em}"
)
HTML_LANG = {"zh": "zh-CN", "en": "en"}  # the page's lang attribute, by i18n language
OTHER = {"zh": ("en", "English"), "en": ("zh", "中文")}  # the link to the other language


def _h(text: str) -> str:
    return escape(for_terminal(text), quote=True)


def page_language(request: PageRequest) -> str:
    """The language a kiosk request reads: ``?lang=`` (``zh``, ``en``, ``zh-CN``...; one we
    lack is not asked), else the browser's Accept-Language, else Chinese; never the dock
    process's own language or locale."""
    asked = i18n.from_locale(parse_qs(request.query).get("lang", [""])[-1])
    return i18n.choose(asked, {}, accept=request.accept_language)


def render(receipts: Sequence[BayReceipt], *, dock: str, zone: ZoneInfo, title: str) -> str:
    """The page for ``receipts`` (pure), in the reader's language (``i18n.current()``)."""
    lang = i18n.current()
    other, other_name = OTHER[lang]
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{HTML_LANG[lang]}"><head><meta charset="utf-8">',
        f'<meta http-equiv="refresh" content="{REFRESH_S}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_h(title)}</h1>",
    ]
    if not receipts:
        none_yet = _("no docking yet")
        parts.append(f"<p>{_h(none_yet)}</p>")
    for r in receipts:
        parts.append(f'<section id="bay-{_h(quote(r.bay, safe=""))}">')
        parts.append(f"<h2>{_h(r.bay)}</h2>")
        for line in receipt_parts(r, zone):
            cls = " ".join(
                c for c in ("detail" if line.level else "", "alert" if line.alert else "") if c
            )
            attr = f' class="{cls}"' if cls else ""
            parts.append(f"<p{attr}>{_h(line.text)}</p>")
        parts.append("</section>")
    parts.append(
        f'<footer>{_h(dock)} · <a href="?lang={other}" hreflang="{HTML_LANG[other]}" '
        f'lang="{HTML_LANG[other]}">{other_name}</a></footer></body></html>'
    )
    return "\n".join(parts)


def kiosk_pages(
    receipts: Callable[[], Sequence[BayReceipt]], *, dock: str, zone: ZoneInfo
) -> Callable[[PageRequest], Page | None]:
    """The endpoint's ``pages``: ``/kiosk`` and ``/kiosk/<bay>``, each in the language the
    request asks for (``page_language``); None for any other path."""

    def page(request: PageRequest) -> Page | None:
        path = request.path
        if path.rstrip("/") != "/kiosk" and not path.startswith("/kiosk/"):
            return None
        with i18n.speaking(page_language(request)):
            if path.rstrip("/") == "/kiosk":
                shown = list(receipts())
                title = _("receipts of dock {dock}").format(dock=dock)
            else:
                bay = unquote(path.removeprefix("/kiosk/").rstrip("/"), errors="surrogateescape")
                shown = [r for r in receipts() if r.bay == bay]
                if not shown:
                    return _not_found(bay)
                title = _("receipt of bay {bay}").format(bay=bay)
            body = render(shown, dock=dock, zone=zone, title=title)
        return Page(status=200, body=body.encode("utf-8"), headers=HEADERS)

    return page


def _not_found(bay: str) -> Page:
    missing = _("no such bay: {bay}").format(bay=bay)
    body = (
        f'<!DOCTYPE html><html lang="{HTML_LANG[i18n.current()]}"><head><meta charset="utf-8">'
        f"<title>404</title></head><body><p>{_h(missing)}</p></body></html>"
    )
    return Page(status=404, body=body.encode("utf-8"), headers=HEADERS)
