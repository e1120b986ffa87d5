"""The Flask application: wiring, the checks every request passes, and page rendering.

Every request but the login page and the static files needs a live session (else: to the
login page); every POST carries the session's CSRF token (else: 403); every response carries
the strict CSP and its companions (``security.HEADERS``) and evidence pages are never cached.
Each request is in its reader's language (``text.request_language``): the whole of it, error
pages included, runs inside ``i18n.speaking``, so readers served at the same time in different
languages never see each other's; the templates say their words with ``_()`` and
``{% trans %}`` (Jinja's i18n extension on the catalog). The page modules (``login``,
``search``, ``item``, ``case``, ``reports``, ``accesslog``, ``admin``) register their routes on
this app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, g, redirect, render_template, request, url_for
from werkzeug.exceptions import Forbidden, HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response as BaseResponse

import i18n
from i18n import _
from ingest.access.guard import deny
from ingest.access.roles import (
    LIST_SEPARATOR,
    Action,
    Decision,
    Level,
    Relation,
    decide,
    role_name,
)
from ingest.cases import vocab
from ingest.config import ConsoleSettings
from ingest.console.auth import Auth, Client, Signed
from ingest.console.security import HEADERS, HSTS, same_secret
from ingest.console.text import HTML_LANG, LANG_COOKIE, SWITCH, asked, request_language, term
from ingest.context import Context
from ingest.metrics.prometheus import ConsoleMetrics
from storage.records import Person

SESSION_COOKIE = "evidock_session"
LOGIN_CSRF_COOKIE = "evidock_login_csrf"
CSRF_FIELD = "csrf_token"
PUBLIC = frozenset({"login.login", "static"})
HERE = Path(__file__).parent


class CsrfRefused(Forbidden):
    """A POST without its form's token: forged, or the form expired (403)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Console:
    """What every page uses: the context, sign-in, counters, [console] settings, clock."""

    ctx: Context
    auth: Auth
    metrics: ConsoleMetrics
    settings: ConsoleSettings
    clock: Callable[[], datetime]

    @property
    def secure_cookies(self) -> bool:
        return self.settings.tls or request.is_secure


def create_app(
    ctx: Context,
    *,
    metrics: ConsoleMetrics | None = None,
    clock: Callable[[], datetime] | None = None,
    settings: ConsoleSettings | None = None,
) -> Flask:
    from ingest.console import accesslog, admin, case, item, login, reports, search

    conf = settings if settings is not None else ctx.settings.console
    counters = metrics if metrics is not None else ConsoleMetrics()
    now = clock if clock is not None else ctx.clock
    app = Flask("ingest.console", template_folder=str(HERE / "templates"),
                static_folder=str(HERE / "static"))  # fmt: skip
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, TEMPLATES_AUTO_RELOAD=False)
    app.extensions["evidock"] = Console(
        ctx=ctx,
        auth=Auth(ctx, metrics=counters, session_minutes=conf.session_minutes, clock=now),
        metrics=counters,
        settings=conf,
        clock=now,
    )
    if conf.behind_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    app.wsgi_app = _Speaking(app.wsgi_app)  # type: ignore[method-assign]
    app.before_request(_before)
    app.after_request(_after)
    # _() and {% trans %} in the templates: the catalog, in the language of the request
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n._, ngettext=i18n.n_, newstyle=True
    )
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["term"] = term
    app.jinja_env.globals["vocab"] = vocab  # the words of the regulation, for ``term``
    app.context_processor(_frame)
    app.register_error_handler(HTTPException, _error)
    for module in (login, search, item, case, reports, accesslog, admin):
        module.register(app)
    return app


def console() -> Console:
    from flask import current_app

    found: Console = current_app.extensions["evidock"]
    return found


class _Speaking:
    """WSGI middleware: the whole request (view, redirects, error pages) in its reader's
    language, in this thread only."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        r = Request(environ)
        lang = request_language(r.args.get("lang"), r.cookies.get(LANG_COOKIE),
                                r.headers.get("Accept-Language"))  # fmt: skip
        with i18n.speaking(lang):
            body: Iterable[bytes] = self.app(environ, start_response)
            return body


def _before() -> BaseResponse | None:
    if request.endpoint in PUBLIC:
        return None
    signed = console().auth.current(request.cookies.get(SESSION_COOKIE))
    if signed is None:
        if request.method == "GET":
            return redirect(url_for("login.login", next=request.full_path.rstrip("?")))
        return redirect(url_for("login.login"), code=303)
    g.signed = signed
    if request.method == "POST" and not same_secret(
        request.form.get(CSRF_FIELD), signed.session.csrf
    ):
        raise CsrfRefused()
    return None


def _after(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if console().settings.tls:
        response.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
        response.vary.update(("Accept-Language", "Cookie"))  # what chose the page's language
    chosen = asked(request.args.get("lang"), None)
    if chosen is not None:  # the reader chose: remembered for the next pages
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, httponly=True,
                            samesite="Strict", secure=console().secure_cookies)  # fmt: skip
    return response


def _error(e: HTTPException) -> tuple[str, int]:
    code = e.code or 500
    return page("error.html", code, code=code, csrf_failed=isinstance(e, CsrfRefused))


def when(t: datetime | str | None) -> str:
    if t is None:
        return "-"
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return t.astimezone(console().ctx.settings.zone).strftime("%Y-%m-%d %H:%M:%S")


# -- what the page modules share --------------------------------------------------------------


def signed() -> Signed:
    found: Signed = g.signed
    return found


def person() -> Person:
    return signed().person


def client() -> Client:
    return Client(remote=request.remote_addr or "", agent=request.headers.get("User-Agent", ""))


def page(template: str, status: int = 200, **values: Any) -> tuple[str, int]:
    """Render a page (in the request's language: see ``_frame``)."""
    return render_template(template, **values), status


def _frame() -> dict[str, Any]:
    """What every page's frame shows: its language and the switch, who is signed in, the
    session's CSRF token."""
    lang = i18n.current()
    s = g.get("signed")
    return {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "switch": [(code, name, _with_lang(code)) for code, name in SWITCH],
        "me": s.person if s is not None else None,
        "role_names": _role_names,
        "csrf": s.session.csrf if s is not None else "",
        "csrf_field": CSRF_FIELD,
    }


def _role_names(roles: Iterable[str]) -> str:
    return _(LIST_SEPARATOR).join(role_name(r) for r in sorted(roles)) or "-"


def _with_lang(lang: str) -> str:
    """This page in ``lang``: the same path and query, with ``?lang=``."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    return f"{request.path}?{urlencode([*args, ('lang', lang)])}"


def refused(decision: Decision, *, what: str) -> tuple[str, int]:
    """The page of a refusal (the ``access_denied`` event is already appended): that the
    thing exists (``what``, as the reader reads it), why not, and who to ask."""
    console().metrics.refused()
    return page("refused.html", 403, decision=decision, what=what)


def require(action: Action, *, what: str) -> tuple[str, int] | None:
    """A page that is no item's or case's (reports, logs, sessions): allowed by the role
    alone, else refused and recorded as ``access_denied``. None when allowed. ``what`` is
    marked with ``N_``: the event records it, the page says it in the reader's language."""
    me = person()
    d = decide(me.roles, action, Level.NONE, Relation.NONE)
    if d.allowed:
        return None
    c = console()
    with c.ctx.catalog.write() as txn:
        deny(txn, c.ctx, me, action, d, Level.NONE, what=what)
    return refused(d, what=_(what))


def safe_next(target: str | None) -> str:
    """Where to go after login: a path of this site only (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("search.search")
    parts = urlsplit(target)
    return target if not parts.netloc and not parts.scheme else url_for("search.search")


def int_arg(name: str, default: int = 0) -> int:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else default
