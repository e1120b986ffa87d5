"""Which language a reader gets, and that a catalog answers in it (issue 20)."""

from __future__ import annotations

import threading

import pytest
from babel.messages.pofile import read_po

import i18n
from i18n import _, n_
from tests.i18n.test_catalog import PO


def test_chinese_when_nothing_asks_for_a_language() -> None:
    """The office reads Chinese: no flag, no EVIDOCK_LANG and a C locale give zh."""
    assert i18n.choose(None, {}) == "zh"
    assert i18n.choose(None, {"LANG": "C.UTF-8"}) == "zh"
    assert i18n.choose(None, {"LANG": "POSIX", "LC_ALL": ""}) == "zh"


def test_the_flag_wins_then_evidock_lang_then_the_locale() -> None:
    """--lang over EVIDOCK_LANG over LANGUAGE/LC_ALL/LC_MESSAGES/LANG, as gettext reads them."""
    env = {"EVIDOCK_LANG": "en", "LANG": "zh_CN.UTF-8"}
    assert i18n.choose("zh", env) == "zh"
    assert i18n.choose(None, env) == "en"
    assert i18n.choose(None, {"LANG": "en_US.UTF-8"}) == "en"
    assert i18n.choose(None, {"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}) == "zh"
    assert i18n.choose(None, {"LANGUAGE": "fr:en", "LANG": "zh_CN.UTF-8"}) == "en"


def test_a_browser_language_counts_only_when_nothing_else_says() -> None:
    """The console passes Accept-Language; its first language we have is taken."""
    assert i18n.choose(None, {}, accept="fr-FR,en-US;q=0.8,zh;q=0.5") == "en"
    assert i18n.choose(None, {}, accept="de") == "zh"


def test_an_unknown_language_is_refused() -> None:
    """--lang fr is a mistake to report, not a silent fallback."""
    with pytest.raises(ValueError, match="zh, en"):
        i18n.choose("fr", {})
    with pytest.raises(ValueError):
        i18n.activate("fr")


def _plural() -> tuple[str, str]:
    with PO.open("rb") as f:
        for m in read_po(f):
            if isinstance(m.id, tuple | list):
                return m.id[0], m.id[1]
    raise AssertionError("the catalog has no message with a count")


def test_messages_are_chinese_when_active_and_english_otherwise() -> None:
    """The compiled catalog answers; the source language is English."""
    message = "hint: {hint}"
    one, many = _plural()
    assert _(message) == message
    assert n_(one, many, 3) == many
    previous = i18n.activate("zh")
    try:
        assert _(message) != message
        assert "{hint}" in _(message)
        assert n_(one, many, 3) == n_(one, many, 1) != many  # Chinese has one form
    finally:
        i18n.activate(previous)
    assert _(message) == message


def test_speaking_is_for_one_thread_only() -> None:
    """A console request in English does not change what another thread says."""
    seen: list[str] = []
    with i18n.speaking("zh"):
        t = threading.Thread(target=lambda: seen.append(i18n.current()))
        t.start()
        t.join()
        assert i18n.current() == "zh"
    assert seen == [i18n.SOURCE]
    assert i18n.current() == i18n.SOURCE


def test_a_message_shown_in_chinese_keeps_its_english_for_records() -> None:
    """What is recorded (custody events, stored errors) is English whatever the reader's
    language: a message keeps its English through format, pickling and an exception."""
    import pickle

    previous = i18n.activate("zh")
    try:
        shown = _("hint: {hint}").format(hint="x")
        assert str(shown) != "hint: x" and i18n.english(shown) == "hint: x"
        assert i18n.english(pickle.loads(pickle.dumps(shown))) == "hint: x"
        assert i18n.english(RuntimeError(shown)) == "hint: x"
        assert i18n.english("plain") == "plain"
    finally:
        i18n.activate(previous)


def test_a_translated_value_inside_a_message_is_english_in_the_record() -> None:
    """'cannot read {what}' with {what} itself translated: the record says it all in English."""
    previous = i18n.activate("zh")
    try:
        what = _("hint: {hint}").format(hint="x")
        outer = _("evidock: {message}").format(message=what)
        assert i18n.english(outer) == "evidock: hint: x"
        assert str(outer) != i18n.english(outer)
    finally:
        i18n.activate(previous)
