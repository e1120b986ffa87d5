"""The console end to end in a real browser: Playwright driving Debian's chromium against the
console served by cheroot on 127.0.0.1, on a catalog with real ingested, transcoded clips.

One browser for the module; each test opens its own browser context (its own cookies)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ingest.console.app import create_app
from ingest.console.server import ConsoleServer
from tests.console.conftest import PASSWORD, RESTRICTED_CASE, World

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="chromium is not installed (scripts/system-deps.sh test)"
    ),
]


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    server = ConsoleServer(create_app(world.ctx), host="127.0.0.1", port=0, threads=4)
    server.start()
    yield server.url.rstrip("/")
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # launch() gives chromium a fresh temporary profile (--user-data-dir) of its own
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    p = context.new_page()
    p.set_default_timeout(15_000)
    yield p
    context.close()


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")


def test_a_wrong_password_fails_and_the_right_one_signs_in(page: Page, base_url: str) -> None:
    """The login page refuses a wrong password and lets the right one in."""
    sign_in(page, base_url, "li.na", "not-her-password")
    assert page.locator("#login-failed").is_visible()
    sign_in(page, base_url, "li.na", PASSWORD["li.na"])
    page.wait_for_selector("#me")
    assert "li.na" in page.inner_text("#me")


def test_search_by_case_and_by_officer(page: Page, base_url: str, world: World) -> None:
    """The custodian finds the restricted case's clip by case and the other by officer."""
    sign_in(page, base_url, "wang.fang", PASSWORD["wang.fang"])
    page.wait_for_selector("#me")
    page.fill("#q-case", RESTRICTED_CASE)
    page.click("#q-submit")
    rows = page.locator("tr.hit")
    assert rows.count() == 1 and rows.first.get_attribute("data-item") == str(world.restricted_item)
    page.fill("#q-case", "")
    page.fill("#q-officer", "J1")
    page.click("#q-submit")
    rows = page.locator("tr.hit")
    assert rows.count() == 1 and rows.first.get_attribute("data-item") == str(world.open_item)


def test_the_proxy_of_an_ingested_clip_plays(page: Page, base_url: str, world: World) -> None:
    """On the item page the review proxy plays: the video element's time advances."""
    sign_in(page, base_url, "li.na", PASSWORD["li.na"])
    page.wait_for_selector("#me")
    page.goto(f"{base_url}/items/{world.open_item}")
    page.wait_for_selector("video#player")
    page.eval_on_selector("video#player", "v => { v.muted = true; return v.play(); }")
    # polled from here: wait_for_function evaluates a string, which the strict CSP forbids
    played = 0.0
    for _ in range(100):
        played = page.eval_on_selector("video#player", "v => v.currentTime")
        if played > 0.3:
            break
        page.wait_for_timeout(100)
    assert played > 0.3
    assert page.eval_on_selector("video#player", "v => v.error") is None


def test_an_officer_is_refused_and_the_custodian_sees_it_in_the_access_log(
    browser: Browser, base_url: str, world: World
) -> None:
    """li.na cannot open zhang.wei's restricted clip; the custodian can, and the access log
    shows both the refusal and the custodian's view."""
    officer = browser.new_context().new_page()
    sign_in(officer, base_url, "li.na", PASSWORD["li.na"])
    officer.wait_for_selector("#me")
    response = officer.goto(f"{base_url}/items/{world.restricted_item}")
    assert response is not None and response.status == 403
    assert officer.locator("#refused").is_visible() and officer.locator("#ask").is_visible()
    officer.context.close()

    custodian = browser.new_context().new_page()
    sign_in(custodian, base_url, "wang.fang", PASSWORD["wang.fang"])
    custodian.wait_for_selector("#me")
    response = custodian.goto(f"{base_url}/items/{world.restricted_item}")
    assert response is not None and response.status == 200
    custodian.goto(f"{base_url}/access?item={world.restricted_item}")
    denied = custodian.locator('tr[data-type="access_denied"][data-actor="person:li.na"]')
    viewed = custodian.locator('tr[data-type="viewed"][data-actor="person:wang.fang"]')
    assert denied.count() >= 1 and viewed.count() >= 1
    custodian.context.close()


def test_a_forged_csrf_token_and_a_missing_session_are_refused(
    page: Page, base_url: str, world: World
) -> None:
    """A POST with a forged token is 403; without a session an item page is the login."""
    sign_in(page, base_url, "wang.fang", PASSWORD["wang.fang"])
    page.wait_for_selector("#me")
    page.eval_on_selector("input[name=csrf_token]", "e => { e.value = 'forged'; }")
    with page.expect_navigation():
        page.click("#logout")
    assert page.locator("#csrf-refused").is_visible()
    page.goto(f"{base_url}/")
    assert page.locator("#me").is_visible()  # the forged sign-out changed nothing

    page.context.clear_cookies()
    page.goto(f"{base_url}/items/{world.open_item}")
    assert page.url.startswith(f"{base_url}/login")
    assert page.locator("#login").is_visible()


def test_the_language_switch_on_every_page(browser: Browser, base_url: str) -> None:
    """A browser set to Chinese gets Chinese pages (<html lang="zh-CN">); 中文 | English is on
    each, and a click on English turns this page and the next ones (after sign-in) English,
    until 中文 is clicked."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base_url}/login")
    assert page.get_attribute("html", "lang") == "zh-CN"
    assert page.inner_text("h1") == "登录" and page.inner_text("#lang") == "中文 | English"
    page.click("#lang-en")
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("h1") == "Sign in"
    page.fill("#username", "wang.fang")
    page.fill("#password", PASSWORD["wang.fang"])
    page.click("#login")
    page.wait_for_selector("#me")
    assert page.inner_text("h1") == "Search evidence" and "Signed in as" in page.inner_text("#me")
    page.goto(f"{base_url}/cases")
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("h1") == "Cases"
    assert page.inner_text("#lang") == "中文 | English"
    page.click("#lang-zh")
    assert page.get_attribute("html", "lang") == "zh-CN" and page.inner_text("h1") == "案件"
    page.goto(f"{base_url}/verify")
    assert page.inner_text("h1") == "校验" and "当前用户" in page.inner_text("#me")
    context.close()
