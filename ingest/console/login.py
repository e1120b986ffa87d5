"""The login page (password, and the TOTP code when the person enrolled one) and sign-out.

The login form has no session yet, so its CSRF token is a double-submit cookie: a random
value in an HttpOnly, SameSite=Strict cookie that the form must repeat."""

from __future__ import annotations

from flask import Blueprint, Flask, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from i18n import N_, _
from ingest.console.app import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    client,
    console,
    page,
    safe_next,
    signed,
    when,
)
from ingest.console.auth import BAD_CODE, BAD_PASSWORD, DISABLED, LOCKED
from ingest.console.security import new_token, same_secret

FAILURES = {
    BAD_PASSWORD: N_("Wrong user name or password."),
    BAD_CODE: N_("Wrong one-time code."),
    DISABLED: N_("This account is disabled: ask the system administrator."),
}

bp = Blueprint("login", __name__)


def register(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int]:
    c = console()
    if request.method == "GET":
        # kept while the browser has one: a second GET (a favicon sent here) must not change
        # the token of a form already shown
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()
        body, status = page("login.html", next=request.args.get("next", ""), login_csrf=token,
                            failure=None)  # fmt: skip
        first: BaseResponse = make_response(body, status)
        first.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                         secure=c.secure_cookies, path="/login")  # fmt: skip
        return first
    if not same_secret(request.form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)):
        raise CsrfRefused()
    result = c.auth.login(
        request.form.get("username", ""),
        request.form.get("password", ""),
        request.form.get("code", ""),
        client(),
    )
    if result.token is None:
        if result.failure == LOCKED:
            failure = _("Too many failures: this name is locked until {time}.").format(
                time=when(result.locked_until)
            )
        else:
            message = FAILURES.get(result.failure or "", FAILURES[BAD_PASSWORD])
            failure = _(message)
        return page("login.html", 401, next=request.form.get("next", ""),
                    login_csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                    failure=failure)  # fmt: skip
    response = redirect(safe_next(request.form.get("next")), code=303)
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="Strict",
                        secure=c.secure_cookies, path="/")  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    s = signed()
    console().auth.revoke(s.session.id, by=s.person, reason="signed-out")
    response = redirect(url_for("login.login"), code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
