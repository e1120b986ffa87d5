"""The login page (password, and the TOTP code when the person enrolled one) and sign-out.

The login form has no session yet, so its CSRF token is a double-submit cookie: a random
value in an HttpOnly, SameSite=Strict cookie that the form must repeat."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, g, make_response, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from ingest.console.app import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    client,
    console,
    page,
    safe_next,
    signed,
)
from ingest.console.auth import BAD_CODE, DISABLED, LOCKED
from ingest.console.security import new_token, same_secret
from ingest.console.text import Table

TEXT: Table = {
    "heading": ("登录", "Sign in"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "code": ("动态验证码（如已启用）", "One-time code (if enrolled)"),
    "submit": ("登录", "Sign in"),
    "failed.password": ("用户名或密码错误。", "Wrong user name or password."),
    "failed.totp": ("动态验证码错误。", "Wrong one-time code."),
    "failed.disabled": ("账户已停用，请联系系统管理员。",
                        "This account is disabled: ask the system administrator."),
    "failed.locked": ("连续失败次数过多，账户已锁定至",
                      "Too many failures: this name is locked until"),
    "note": ("每次登录及失败都记入保管日志。",
             "Every login and every failure is recorded in the custody log."),
}  # fmt: skip

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
        body, status = page("login.html", TEXT, next=request.args.get("next", ""),
                            login_csrf=token, failure=None, until=None)  # fmt: skip
        first: BaseResponse = make_response(body, status)
        first.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                         secure=c.secure_cookies, path="/login")  # fmt: skip
        return first
    if not same_secret(request.form.get(CSRF_FIELD), request.cookies.get(LOGIN_CSRF_COOKIE)):
        abort(403, description="csrf")
    result = c.auth.login(
        request.form.get("username", ""),
        request.form.get("password", ""),
        request.form.get("code", ""),
        client(),
    )
    if result.token is None:
        key = {LOCKED: "failed.locked", BAD_CODE: "failed.totp", DISABLED: "failed.disabled"}
        return page("login.html", TEXT, 401, next=request.form.get("next", ""),
                    login_csrf=request.cookies.get(LOGIN_CSRF_COOKIE, ""),
                    failure=key.get(result.failure or "", "failed.password"),
                    until=result.locked_until)  # fmt: skip
    response = redirect(safe_next(request.form.get("next")), code=303)
    response.set_cookie(SESSION_COOKIE, result.token, httponly=True, samesite="Strict",
                        secure=c.secure_cookies, path="/")  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> BaseResponse:
    s = signed()
    console().auth.revoke(s.session.id, by=s.person, reason="signed-out")
    response = redirect(url_for("login.login", lang=g.lang), code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
