"""The console's language is the reader's, request by request (issue 20): Chinese when nothing
says otherwise, English by Accept-Language or by the switch (?lang=, then remembered), and
readers served at the same moment in different languages never see each other's."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import i18n
from ingest.console.app import create_app
from ingest.console.server import ConsoleServer
from ingest.console.text import LANG_COOKIE
from storage.catalog import people
from tests.console.conftest import PASSWORD, World

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HTML_LANG = re.compile(r'<html lang="([^"]+)">')
CJK = re.compile(r"[\u4e00-\u9fff]")
SWITCH = "中文"  # the switch names Chinese in Chinese on every page, English ones too


@pytest.fixture(scope="module")
def app(world: World) -> Flask:
    return create_app(world.ctx)


def signed_in(app: Flask, username: str, **headers: str) -> FlaskClient:
    c = app.test_client()
    token = CSRF.search(c.get("/login", headers=headers).get_data(as_text=True))
    assert token is not None
    form = {"username": username, "password": PASSWORD[username], "csrf_token": token.group(1),
            "next": "/"}  # fmt: skip
    r = c.post("/login", headers=headers, data=form)
    assert r.status_code == 303
    return c


def text(c: FlaskClient, path: str, **headers: str) -> str:
    return c.get(path, headers=headers).get_data(as_text=True)


DATA = ("占道经营",)  # what the office wrote (a case's title) stays as written


def english(body: str) -> bool:
    """An English page: <html lang="en"> and no Chinese but the switch's own name and data."""
    found = HTML_LANG.search(body)
    for kept in (SWITCH, *DATA):
        body = body.replace(kept, "")
    return found is not None and found.group(1) == "en" and not CJK.search(body)


def test_a_page_fetched_with_no_language_is_in_chinese(app: Flask) -> None:
    """No ?lang=, no cookie, no Accept-Language: Chinese, <html lang="zh-CN">, and the switch
    offers English as a link that sets ?lang=en."""
    body = text(app.test_client(), "/login")
    assert '<html lang="zh-CN">' in body
    assert "<h1>登录</h1>" in body and "每次登录及登录失败均记入保管链日志。" in body
    assert "Sign in" not in body
    assert '<strong lang="zh" aria-current="true">中文</strong>' in body
    assert 'href="/login?lang=en"' in body and ">English</a>" in body


def test_accept_language_english_gives_english_and_chinese_gives_chinese(app: Flask) -> None:
    """The browser's Accept-Language decides when the reader has not chosen: its first
    language that the console has."""
    c = app.test_client()
    assert english(text(c, "/login", **{"Accept-Language": "en-GB,en;q=0.9,zh;q=0.8"}))
    assert english(text(c, "/login", **{"Accept-Language": "fr-FR, en;q=0.5"}))
    zh = text(c, "/login", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-CN">' in zh and "<h1>登录</h1>" in zh
    assert "<h1>登录</h1>" in text(c, "/login", **{"Accept-Language": "fr-FR"})
    r = c.get("/login", headers={"Accept-Language": "en"})
    assert "Accept-Language" in r.headers["Vary"] and LANG_COOKIE not in str(r.headers)


def test_the_switch_chooses_english_and_the_cookie_remembers_it(app: Flask) -> None:
    """?lang=en: English, remembered by a cookie over a Chinese browser, until ?lang=zh; a
    language the console does not have is ignored."""
    c = app.test_client()
    zh_browser = {"Accept-Language": "zh-CN"}
    r = c.get("/login?lang=en", headers=zh_browser)
    assert english(r.get_data(as_text=True))
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(LANG_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert english(text(c, "/login", **zh_browser))
    assert '<html lang="zh-CN">' in text(c, "/login?lang=zh")
    assert "<h1>登录</h1>" in text(c, "/login", **{"Accept-Language": "en"})
    assert "<h1>登录</h1>" in text(c, "/login?lang=xx")  # ignored: the cookie (zh) holds


def test_signed_in_pages_are_chinese_by_default_and_english_on_request(
    app: Flask, world: World
) -> None:
    """The custodian's pages: each in Chinese with no language asked for, each in English with
    ?lang=en; the switch keeps the query of the page it is on."""
    zh = signed_in(app, "wang.fang")
    en = signed_in(app, "wang.fang")
    pages = {
        "/": ("检索证据", "Search evidence"),
        f"/items/{world.open_item}": ("保管链记录", "Custody timeline"),
        "/cases": ("案由", "Case title"),
        "/cases/2026-0002": ("关联的证据条目", "Linked items"),
        "/overdue": ("项逾期且无逾期说明", "overdue without an excuse"),
        "/verify": ("最新已签名检查点", "Newest signed checkpoint"),
        "/access": ("访问日志", "Access log"),
        "/no-such-page": ("未找到。", "Not found."),
    }
    for path, (chinese, english_words) in pages.items():
        body = text(zh, path)
        assert '<html lang="zh-CN">' in body and chinese in body, path
        assert english_words not in body and "Sign out" not in body, path
        assert "当前用户：wang.fang（wang.fang；证据保管员）" in body, path
        body = text(en, f"{path}?lang=en")
        assert english(body) and english_words in body, path
    assert 'href="/?case=2026-0002&amp;lang=en"' in text(zh, "/?case=2026-0002")
    assert "行政处罚" in text(zh, "/cases/2026-0002")  # the regulation's words: vocab, zh
    assert "penalty" in text(en, "/cases/2026-0002?lang=en")


def test_a_refusal_reads_chinese_and_the_custody_log_keeps_english(
    app: Flask, world: World
) -> None:
    """li.na opens zhang.wei's restricted clip: the refusal page says why and who to ask in
    Chinese; the access_denied event keeps the reason in English."""
    body = text(signed_in(app, "li.na"), f"/items/{world.restricted_item}")
    assert f"访问被拒绝：证据条目 #{world.restricted_item}" in body
    assert "查看证据条目及其保管记录仅限执法人员（限本人录像或所办案件）、证据保管员、" in body
    assert '<strong id="ask">证据保管员或案件承办人</strong>' in body
    with world.ctx.catalog.read() as txn:
        found = people.access_events(txn, types=("access_denied",), item_id=world.restricted_item)
    whys = {json.loads(e.data)["why"] for e in found}
    assert whys and all(not CJK.search(w) for w in whys), whys
    english_page = text(signed_in(app, "li.na"), f"/items/{world.restricted_item}?lang=en")
    assert english(english_page)
    assert "viewing an item and its custody is for officers (own recordings or their cases), " in (
        english_page
    )


def test_a_failed_login_says_why_in_the_readers_language(app: Flask) -> None:
    """A wrong password: 用户名或密码错误 for a Chinese reader, the English for an English one."""
    for lang, said in (("zh", "用户名或密码错误。"), ("en", "Wrong user name or password.")):
        c = app.test_client()
        token = CSRF.search(text(c, f"/login?lang={lang}"))
        assert token is not None
        r = c.post("/login", data={"username": "li.na", "password": "not-hers",
                                   "csrf_token": token.group(1)})  # fmt: skip
        assert r.status_code == 401 and f'<p class="problem" id="login-failed">{said}</p>' in (
            r.get_data(as_text=True)
        )


def test_two_requests_at_once_in_different_languages_do_not_mix(world: World) -> None:
    """Two readers, one Chinese and one English, are both mid-page at the same moment (a
    barrier holds each in the middle of rendering until the other has chosen its language):
    each page is wholly in its reader's language."""
    app = create_app(world.ctx)
    barrier = threading.Barrier(2, timeout=10)
    seen: dict[str, str] = {}

    @app.context_processor
    def hold() -> dict[str, Any]:  # runs as each page renders, after its language is set
        barrier.wait()
        return {}

    def fetch(name: str, path: str) -> None:
        seen[name] = text(app.test_client(), path)
        seen[f"{name}.lang"] = i18n.current()  # this thread, after its request: unchanged

    readers = [threading.Thread(target=fetch, args=("zh", "/login")),
               threading.Thread(target=fetch, args=("en", "/login?lang=en"))]  # fmt: skip
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    assert '<html lang="zh-CN">' in seen["zh"] and "<h1>登录</h1>" in seen["zh"]
    assert "Sign in" not in seen["zh"]
    assert english(seen["en"]) and "<h1>Sign in</h1>" in seen["en"]
    assert seen["zh.lang"] == seen["en.lang"] == i18n.current()


@pytest.fixture(scope="module")
def served(world: World) -> Iterator[str]:
    server = ConsoleServer(create_app(world.ctx), host="127.0.0.1", port=0, threads=8)
    server.start()
    yield server.url.rstrip("/")
    server.stop()


def test_many_readers_at_once_through_the_server_each_get_their_language(served: str) -> None:
    """Sixty pages fetched eight at a time from the real server, half asked in English (by
    ?lang= or Accept-Language), half in Chinese: no page mixes or takes another's language."""

    def fetch(n: int) -> tuple[str, str]:
        want = "en" if n % 2 else "zh"
        path = "/login?lang=en" if n % 4 == 1 else "/login"
        asked = "en-US,en;q=0.9" if want == "en" else "zh-CN,zh;q=0.9"
        req = urllib.request.Request(f"{served}{path}", headers={"Accept-Language": asked})
        with urllib.request.urlopen(req, timeout=10) as r:
            return want, r.read().decode("utf-8")

    with ThreadPoolExecutor(max_workers=8) as pool:
        pages = list(pool.map(fetch, range(60)))
    for want, body in pages:
        if want == "en":
            assert english(body) and "<h1>Sign in</h1>" in body
        else:
            assert '<html lang="zh-CN">' in body and "<h1>登录</h1>" in body
            assert "Sign in" not in body
