"""The console through Flask's test client: sign-in, sessions, CSRF, CSP, refusals recorded,
range requests, the access log and its CSV, on a real catalog with a real transcoded clip."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ingest.access.passwords import DUMMY_HASH, N, P, R, verify_password
from ingest.console import auth as auth_module
from ingest.console.app import SESSION_COOKIE, create_app
from ingest.console.auth import enrol_totp, totp_code
from ingest.console.security import CSP, locked_until
from ingest.metrics.prometheus import ConsoleMetrics, exposition, parse_exposition
from storage.catalog import people
from storage.catalog.search import ItemQuery, search_items
from tests.console.conftest import OPEN_CASE, PASSWORD, RESTRICTED_CASE, World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def metrics() -> ConsoleMetrics:
    return ConsoleMetrics()


@pytest.fixture(scope="module")
def app(world: World, metrics: ConsoleMetrics) -> Flask:
    return create_app(world.ctx, metrics=metrics)


def login(app: Flask, username: str, password: str | None = None, code: str = "") -> FlaskClient:
    c = app.test_client()
    page = c.get("/login")
    token = CSRF.search(page.get_data(as_text=True))
    assert token is not None
    form = {"username": username, "password": password or PASSWORD[username], "code": code,
            "csrf_token": token.group(1), "next": "/"}  # fmt: skip
    r = c.post("/login", data=form)
    assert r.status_code == 303, r.get_data(as_text=True)
    return c


def csrf_of(c: FlaskClient, path: str = "/") -> str:
    found = CSRF.search(c.get(path).get_data(as_text=True))
    assert found is not None
    return found.group(1)


def fetch(c: FlaskClient, path: str, **headers: str) -> TestResponse:
    """GET a file response, read it whole and close it (send_file leaves a file open)."""
    r = c.get(path, headers=headers)
    r.get_data()
    r.close()
    return r


def events(world: World, type: str) -> list[dict[str, object]]:
    with world.ctx.catalog.read() as txn:
        found = people.access_events(txn, types=(type,), limit=1000)
    return [{"actor": e.actor, "item": e.item, **json.loads(e.data)} for e in found]


def test_every_page_carries_the_strict_csp(app: Flask) -> None:
    """The login page and the static files carry the CSP: self only, no inline script."""
    for path in ("/login", "/static/console.css"):
        r = app.test_client().get(path)
        r.close()
        assert r.headers["Content-Security-Policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "default-src 'self'" in CSP
        assert r.headers["X-Frame-Options"] == "DENY"
    assert "<script" not in app.test_client().get("/login").get_data(as_text=True)


def test_a_page_without_session_goes_to_the_login(app: Flask, world: World) -> None:
    """No cookie (or an unknown one): every page redirects to the login, nothing is shown."""
    c = app.test_client()
    r = c.get(f"/items/{world.open_item}")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    c.set_cookie(SESSION_COOKIE, "made-up-token")
    assert c.get("/access").status_code == 302
    assert c.post("/logout", data={"csrf_token": "x"}).status_code == 303


def test_login_sets_a_strict_httponly_cookie_and_records_the_event(
    app: Flask, world: World
) -> None:
    """A good password opens a session: HttpOnly, SameSite=Strict; a 'login' event."""
    c = app.test_client()
    token = CSRF.search(c.get("/login").get_data(as_text=True))
    assert token is not None
    r = c.post("/login", data={"username": "li.na", "password": PASSWORD["li.na"],
                               "csrf_token": token.group(1), "next": "/cases"})  # fmt: skip
    assert r.status_code == 303 and r.headers["Location"] == "/cases"
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert any(e["person"] == "li.na" for e in events(world, "login"))
    assert c.get("/").status_code == 200


def test_login_form_without_its_csrf_cookie_is_refused(app: Flask) -> None:
    """A login POSTed from elsewhere (no double-submit cookie) is refused before any check."""
    r = app.test_client().post("/login", data={"username": "li.na", "password": "x",
                                               "csrf_token": "forged"})  # fmt: skip
    assert r.status_code == 403


def test_forged_csrf_token_is_refused_and_the_session_survives(app: Flask) -> None:
    """A POST with a wrong CSRF token (or none) is 403 and changes nothing."""
    c = login(app, "wang.fang")
    assert c.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert c.post("/logout", data={}).status_code == 403
    assert c.get("/").status_code == 200  # still signed in
    r = c.post("/logout", data={"csrf_token": csrf_of(c)})
    assert r.status_code == 303
    assert c.get("/").status_code == 302  # signed out


def test_five_failures_lock_the_name_even_for_the_right_password(
    app: Flask, world: World, metrics: ConsoleMetrics
) -> None:
    """Five wrong passwords within 15 minutes: the right one is refused, 'locked' counted."""
    c = app.test_client()
    token = CSRF.search(c.get("/login").get_data(as_text=True))
    assert token is not None
    for _ in range(5):
        r = c.post("/login", data={"username": "lock.me", "password": "wrong",
                                   "csrf_token": token.group(1)})  # fmt: skip
        assert r.status_code == 401
    r = c.post("/login", data={"username": "lock.me", "password": PASSWORD["lock.me"],
                               "csrf_token": token.group(1)})  # fmt: skip
    assert r.status_code == 401 and "login-failed" in r.get_data(as_text=True)
    reasons = [e["reason"] for e in events(world, "login_failed") if e["username"] == "lock.me"]
    assert reasons.count("password") == 5 and reasons.count("locked") == 1
    samples = parse_exposition(exposition(metrics.registry))
    assert samples[("evidock_console_logins_total", (("outcome", "locked"),))] >= 1


def test_an_unknown_name_costs_one_scrypt_like_a_known_one(
    app: Flask, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The response time does not tell whether a name exists: an unknown name is verified
    against the dummy hash (same scrypt cost), a known one against its own; one each."""
    checked: list[str] = []

    def counting(password: str, stored: str) -> bool:
        checked.append(stored)
        return verify_password(password, stored)  # the real scrypt, counted

    monkeypatch.setattr(auth_module, "verify_password", counting)
    c = app.test_client()
    token = CSRF.search(c.get("/login").get_data(as_text=True))
    assert token is not None
    for name in ("nobody.here", "li.na"):
        r = c.post("/login", data={"username": name, "password": "wrong-password",
                                   "csrf_token": token.group(1)})  # fmt: skip
        assert r.status_code == 401
    with world.ctx.catalog.read() as txn:
        li = people.person_by_username(txn, "li.na")
        assert li is not None
        li_hash = people.password_hash(txn, li.id)
    assert checked == [DUMMY_HASH, li_hash]
    assert DUMMY_HASH.split("$")[1:4] == [str(x) for x in (N, R, P)]
    assert li_hash is not None and li_hash.split("$")[1:4] == DUMMY_HASH.split("$")[1:4]
    assert not verify_password("", DUMMY_HASH) and not verify_password("x", DUMMY_HASH)


def test_lockout_rule_counts_five_failures_within_the_window() -> None:
    """Pure rule: 5 in 15 min lock for 15 min from the fifth; spread out, they do not."""
    t0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
    quick = [t0 + timedelta(minutes=i) for i in range(5)]
    assert locked_until(quick, now=t0 + timedelta(minutes=5)) == quick[-1] + timedelta(minutes=15)
    assert locked_until(quick, now=quick[-1] + timedelta(minutes=16)) is None
    spread = [t0 + timedelta(minutes=5 * i) for i in range(5)]
    assert locked_until(spread, now=spread[-1]) is None


def test_totp_is_required_once_enrolled(app: Flask, world: World) -> None:
    """A person with a TOTP secret needs the current code besides the password."""
    with world.ctx.catalog.read() as txn:
        sun = people.person_by_username(txn, "sun.li")
        assert sun is not None
    uri = enrol_totp(world.ctx, sun, actor="person:zhao.min")
    secret = uri.split("secret=")[1].split("&")[0]
    [changed] = events(world, "second_factor_changed")
    assert changed["actor"] == "person:zhao.min" and changed["person"] == "sun.li"
    c = app.test_client()
    token = CSRF.search(c.get("/login").get_data(as_text=True))
    assert token is not None
    r = c.post("/login", data={"username": "sun.li", "password": PASSWORD["sun.li"],
                               "code": "000000", "csrf_token": token.group(1)})  # fmt: skip
    assert r.status_code == 401
    login(app, "sun.li", code=totp_code(secret, datetime.now(UTC)))


def test_officer_is_refused_another_officers_restricted_item_and_it_is_recorded(
    app: Flask, world: World, metrics: ConsoleMetrics
) -> None:
    """li.na opens zhang.wei's restricted clip: 403, who to ask, an access_denied event."""
    before = parse_exposition(exposition(metrics.registry))[("evidock_console_refusals_total", ())]
    c = login(app, "li.na")
    r = c.get(f"/items/{world.restricted_item}")
    body = r.get_data(as_text=True)
    assert r.status_code == 403 and 'id="ask"' in body
    with world.ctx.catalog.read() as txn:
        assert txn.item(world.restricted_item).sha256 not in body
    assert fetch(c, f"/items/{world.restricted_item}/media/proxy").status_code == 403
    denied = [e for e in events(world, "access_denied")
              if e["item"] == world.restricted_item and e["person"] == "li.na"]  # fmt: skip
    assert {e["action"] for e in denied} >= {"view-item", "stream"}
    after = parse_exposition(exposition(metrics.registry))[("evidock_console_refusals_total", ())]
    assert after - before == 2


def test_custodian_views_and_streams_with_range_requests(app: Flask, world: World) -> None:
    """The custodian's item page shows the player; a Range request answers 206; events."""
    c = login(app, "wang.fang")
    page = c.get(f"/items/{world.restricted_item}").get_data(as_text=True)
    assert 'id="player"' in page and "proof-proven" in page
    full = fetch(c, f"/items/{world.restricted_item}/media/proxy")
    assert full.status_code == 200 and full.mimetype == "video/mp4"
    r = fetch(c, f"/items/{world.restricted_item}/media/proxy", Range="bytes=100-199")
    assert r.status_code == 206 and len(r.data) == 100 and r.data == full.data[100:200]
    assert r.headers["Content-Range"].startswith("bytes 100-199/")
    mine = [e for e in events(world, "streamed") if e["person"] == "wang.fang"]
    assert len(mine) == 1  # the 206 continues the same playback
    assert any(e["person"] == "wang.fang" for e in events(world, "viewed"))


def test_each_download_of_an_original_is_an_event(app: Flask, world: World) -> None:
    """Two downloads, two 'downloaded' events (downloads never coalesce), same bytes."""
    c = login(app, "wang.fang")
    got = [fetch(c, f"/items/{world.open_item}/original") for _ in range(2)]
    with world.ctx.catalog.read() as txn:
        sha = txn.item(world.open_item).sha256
    assert all(r.status_code == 200 for r in got)
    assert got[0].data == world.ctx.store.path_for(sha).read_bytes()
    mine = [e for e in events(world, "downloaded") if e["item"] == world.open_item]
    assert len(mine) >= 2


def test_search_by_case_and_flags_pages_with_limit_and_offset(world: World) -> None:
    """The search query filters by case and pages; the restricted case finds its item."""
    with world.ctx.catalog.read() as txn:
        by_case = search_items(txn, ItemQuery(case=RESTRICTED_CASE))
        by_officer = search_items(txn, ItemQuery(officer="J1"))
        first = search_items(txn, ItemQuery(limit=1))
        second = search_items(txn, ItemQuery(limit=1, offset=1))
        late = search_items(txn, ItemQuery(flags=frozenset({"late"})))
    assert [h.id for h in by_case.hits] == [world.restricted_item]
    assert [h.id for h in by_officer.hits] == [world.open_item]
    assert first.more and not second.more and first.hits[0].id != second.hits[0].id
    assert late.hits == ()


def test_search_page_lists_restricted_items_only_as_existing(app: Flask, world: World) -> None:
    """li.na searching the restricted case sees its item's number and nothing of it."""
    c = login(app, "li.na")
    body = c.get(f"/?case={RESTRICTED_CASE}").get_data(as_text=True)
    assert f'data-item="{world.restricted_item}"' in body and "restricted" in body
    assert "BWC-2" not in body


def test_case_page_shows_handler_and_is_refused_off_the_case(app: Flask, world: World) -> None:
    """The handler sees the restricted case; an officer not on it is refused (recorded)."""
    body = login(app, "zhang.wei").get(f"/cases/{RESTRICTED_CASE}").get_data(as_text=True)
    assert 'id="handler">J2<' in body and f'data-item="{world.restricted_item}"' in body
    assert login(app, "li.na").get(f"/cases/{RESTRICTED_CASE}").status_code == 403
    assert any(e.get("case") == RESTRICTED_CASE and e["person"] == "li.na"
               for e in events(world, "access_denied"))  # fmt: skip
    assert login(app, "li.na").get(f"/cases/{OPEN_CASE}").status_code == 200


def test_access_log_filters_and_exports_csv(app: Flask, world: World) -> None:
    """The auditor filters by person and item and exports the same rows as CSV."""
    login(app, "wang.fang").get(f"/items/{world.open_item}")
    c = login(app, "wang.fang")
    page = c.get(f"/access?person=wang.fang&item={world.open_item}").get_data(as_text=True)
    assert 'data-type="viewed"' in page and 'data-actor="person:wang.fang"' in page
    r = c.get(f"/access.csv?person=wang.fang&item={world.open_item}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows and {row["person"] for row in rows} == {"wang.fang"}
    assert {row["item"] for row in rows} == {str(world.open_item)}


def test_officer_may_not_read_the_access_log_nor_admin_the_sessions(app: Flask) -> None:
    """Reports by role: an officer is refused the access log and the sessions page."""
    c = login(app, "li.na")
    assert c.get("/access").status_code == 403
    assert c.get("/sessions").status_code == 403
    assert c.get("/verify").status_code == 403


def test_admin_revokes_a_session_and_it_is_an_event(app: Flask, world: World) -> None:
    """The admin revokes zhang.wei's session: his next request goes to the login page."""
    victim = login(app, "zhang.wei")
    admin = login(app, "zhao.min")
    page = admin.get("/sessions").get_data(as_text=True)
    sid = re.search(r'data-person="zhang.wei">.*?/sessions/([0-9a-f]{64})/revoke', page, re.S)
    assert sid is not None
    r = admin.post(f"/sessions/{sid.group(1)}/revoke", data={"csrf_token": csrf_of(admin)})
    assert r.status_code == 303
    assert victim.get("/").status_code == 302
    assert any(e["of"] == "zhang.wei" and e["reason"] == "revoked"
               for e in events(world, "session_revoked"))  # fmt: skip


def test_english_is_one_click_away_and_remembered(app: Flask) -> None:
    """?lang=en switches the page to English and sets a cookie; Chinese is the default."""
    c = app.test_client()
    assert "登录" in c.get("/login").get_data(as_text=True)
    assert "Sign in" in c.get("/login?lang=en").get_data(as_text=True)
    assert "Sign in" in c.get("/login").get_data(as_text=True)


def test_verify_and_overdue_pages_for_the_custodian(app: Flask) -> None:
    """The verify page shows the log and its checkpoint; the overdue page its count."""
    c = login(app, "wang.fang")
    v = c.get("/verify").get_data(as_text=True)
    assert 'id="log-size"' in v and 'id="checkpoint"' in v
    o = c.get("/overdue")
    assert o.status_code == 200 and 'id="overdue-count"' in o.get_data(as_text=True)


def test_console_config_needs_both_tls_files() -> None:
    """[console] tls_cert without tls_key is refused with a fix; both make it HTTPS."""
    from ingest.config import parse
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError, match="tls_cert and tls_key go together"):
        parse({"console": {"tls_cert": "/etc/evidock/c.crt"}}, env={}, source="t")
    both = {"tls_cert": "/etc/evidock/c.crt", "tls_key": "/etc/evidock/c.key", "port": 443}
    assert parse({"console": both}, env={}, source="t").console.tls
