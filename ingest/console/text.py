"""Chinese first, English one click away: the language of a request and the strings every
page shares. Each page module keeps its own strings in one table, ``{key: (zh, en)}``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"
LANG_COOKIE = "evidock_lang"

Table = Mapping[str, tuple[str, str]]
Translate = Callable[[str], str]

COMMON: Table = {
    "title": ("证据管理控制台", "Evidence console"),
    "nav.search": ("检索", "Search"),
    "nav.cases": ("案件", "Cases"),
    "nav.overdue": ("逾期", "Overdue"),
    "nav.verify": ("校验", "Verify"),
    "nav.access": ("访问日志", "Access log"),
    "nav.sessions": ("会话", "Sessions"),
    "nav.logout": ("退出", "Sign out"),
    "lang.other": ("English", "中文"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "roles": ("角色", "Roles"),
    "restricted": ("受限", "Restricted"),
    "restricted.exists": ("此项存在，但您的角色无权查看其内容。",
                          "This exists, but your role may not see what it holds."),
    "restricted.ask": ("请联系", "Ask"),
    "refused": ("访问被拒绝", "Access refused"),
    "refused.logged": ("此次拒绝已记入保管日志。", "This refusal is recorded in the custody log."),
    "not_found": ("未找到", "Not found"),
    "bad_request": ("请求无效", "Bad request"),
    "csrf": ("表单已过期或被伪造，请重新打开页面后再提交。",
             "The form expired or was forged: open the page again and resubmit."),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}  # fmt: skip


def pick_lang(query: str | None, cookie: str | None) -> str:
    """?lang= wins, then the cookie, then Chinese."""
    for choice in (query, cookie):
        if choice in LANGS:
            return choice
    return DEFAULT_LANG


def translator(lang: str, *tables: Table) -> Translate:
    """``t(key)`` in ``lang`` from the page's tables, then the shared one; an unknown key
    shows itself (a missing string is visible, never a crash)."""
    index = 0 if lang == "zh" else 1

    def t(key: str) -> str:
        for table in (*tables, COMMON):
            if key in table:
                return table[key][index]
        return key

    return t
