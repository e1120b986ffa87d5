"""The language of a request (issue 20): Chinese unless the reader asks for English.

A reader asks with ``?lang=zh|en`` (the switch on every page), which a cookie remembers; else
the browser's Accept-Language decides (``i18n.choose``), else Chinese. The process's own
language is not the reader's: the console serves several readers at once, each request in its
own (``i18n.speaking``). Pure: the words themselves are in the templates and the catalog.
"""

from __future__ import annotations

import i18n
from ingest.cases.vocab import Term

LANG_COOKIE = "evidock_lang"
HTML_LANG = {"zh": "zh-CN", "en": "en"}
"""The ``<html lang>`` of each language."""
SWITCH = (("zh", "中文"), ("en", "English"))
"""The languages of the switch, each in its own words (so it never needs translating)."""


def asked(query: str | None, cookie: str | None) -> str | None:
    """The language the reader chose: ``?lang=`` now, else the one the cookie remembers;
    None when neither names one we have (the browser's then decides)."""
    for choice in (query, cookie):
        if choice in i18n.LANGUAGES:
            return choice
    return None


def request_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """The language of one request. The host's environment is no reader's: it is not read."""
    return i18n.choose(asked(query, cookie), {}, accept=accept)


def term(t: Term | None, code: str | None = None) -> str:
    """A word of the regulation (``ingest.cases.vocab``) in the request's language, or the
    stored code when the vocabulary does not know it."""
    if t is None:
        return code or "-"
    return t.zh if i18n.current() == "zh" else t.en
