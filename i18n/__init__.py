"""Messages people read, in their language (issue 20): Chinese by default, English available.

Every string a person reads (CLI lines, errors and hints, reports, receipts, the console) is
written in English in the source and marked for translation; the Chinese text is in the
gettext catalog ``locale/zh_CN/LC_MESSAGES/evidock.po``, which Babel extracts from the source
(``make locale``) and compiles to ``evidock.mo`` (``make``, ``debian/rules``). This package is
standard library only and imports nothing of ours, so every subsystem may use it.

- ``_("text")`` translates now; values go in afterwards with ``str.format`` and named fields
  (``_("item {item} is not stored").format(item=i)``), so the translator sees one sentence
  and may move the values. Never an f-string inside ``_()``: it cannot be extracted.
- ``n_("{n} recording", "{n} recordings", n)`` for counts (Chinese has one form).
- ``NP_("sense", "word")`` / ``p_("sense", word)``: a word that has two meanings in English
  (a case type ``inspection``, a party's ``inspection`` of a disclosure) gets one per sense.
- ``N_("text")`` only marks a constant (class attributes, tables built at import); whoever
  shows it calls ``_()`` on it then, in the reader's language.

The language of the process is English (the source) until an entry point ``activate``s the
one the reader asked for (``--lang``, ``EVIDOCK_LANG``, ``LANG``; Chinese when none says);
``speaking`` overrides it for one thread or request (the console serves several readers).
JSON keys, event types, codes and log lines stay English: programs and the journal read them.
"""

from __future__ import annotations

import gettext
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Final

DOMAIN: Final = "evidock"
LOCALE_DIR: Final = Path(__file__).parent / "locale"
LANGUAGES: Final[Mapping[str, str]] = {"zh": "zh_CN", "en": "en"}
"""The languages a reader may ask for, and the catalog that holds each."""
DEFAULT: Final = "zh"
"""What a reader gets when nothing asks for a language: the office works in Chinese."""
SOURCE: Final = "en"

logger = logging.getLogger(__name__)

_process: str = SOURCE
_thread: ContextVar[str | None] = ContextVar("evidock_language", default=None)


@cache
def _catalog(lang: str) -> gettext.NullTranslations:
    if lang == SOURCE:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[LANGUAGES[lang]])
    except OSError:
        # a checkout where 'make' has not compiled the catalog yet: say so once, show English
        logger.warning("message catalog for %s missing under %s: run make", lang, LOCALE_DIR)
        return gettext.NullTranslations()


class Text(str):
    """A message in the reader's language that keeps its English (``english``): a record
    (a custody event, a stored job error, a journal line) takes the English whatever the
    language of the person the message was shown to. ``format`` keeps both."""

    english: str

    def __new__(cls, shown: str, english: str) -> Text:
        text = super().__new__(cls, shown)
        text.english = english
        return text

    def format(self, *args: object, **kwargs: object) -> Text:
        """Both forms filled; a value that is itself a ``Text`` goes in as its English."""
        return Text(
            str.format(self, *args, **kwargs),
            self.english.format(
                *(_source(a) for a in args), **{k: _source(v) for k, v in kwargs.items()}
            ),
        )

    def __reduce__(self) -> tuple[type[Text], tuple[str, str]]:
        return (Text, (str(self), self.english))


def _source(value: object) -> object:
    return value.english if isinstance(value, Text) else value


def english(message: object) -> str:
    """The English of ``message`` (a ``Text``, or an error whose message is one); anything
    else as it is. For what is recorded, never for what is shown."""
    if isinstance(message, BaseException):
        args = message.args
        if len(args) == 1:
            return english(args[0])
        return str(message)
    found = getattr(message, "english", None)
    return found if isinstance(found, str) else str(message)


def current() -> str:
    """The language messages are given in now, in this thread."""
    return _thread.get() or _process


def _(message: str) -> str:
    """``message`` in the reader's language (a ``Text``: it keeps its English)."""
    return Text(_catalog(current()).gettext(message), message)


def n_(singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` for ``n``, in the reader's language."""
    return Text(_catalog(current()).ngettext(singular, plural, n), singular if n == 1 else plural)


def p_(context: str, message: str) -> str:
    """``message`` in the sense ``context`` gives it, where one English word has two
    (``inspection``: a case type, or a party's reading of a disclosure)."""
    return Text(_catalog(current()).pgettext(context, message), message)


def NP_(context: str, message: str) -> str:
    """Marks ``message`` in its ``context`` without translating it; shown with ``p_``."""
    return message


def N_(message: str) -> str:
    """Marks ``message`` for the catalog without translating it (see the module docstring)."""
    return message


def activate(lang: str) -> str:
    """Makes ``lang`` the language of the process; returns the one it replaces."""
    global _process
    check(lang)
    previous, _process = _process, lang
    return previous


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """``lang`` for what this thread (or request) says inside the block."""
    token = _thread.set(check(lang))
    try:
        yield
    finally:
        _thread.reset(token)


def check(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: use one of {', '.join(LANGUAGES)}")
    return lang


def from_locale(value: str | None) -> str | None:
    """The language a locale setting names (``zh_CN.UTF-8`` -> ``zh``, ``en_US`` -> ``en``),
    or None for one that names none we have (``C``, ``POSIX``, ``C.UTF-8``, empty)."""
    if not value:
        return None
    for part in value.split(":"):  # LANGUAGE may list several
        code = part.split(".")[0].split("@")[0].split("_")[0].split("-")[0].lower()
        if code in LANGUAGES:
            return code
    return None


def choose(requested: str | None, environ: Mapping[str, str], *, accept: str | None = None) -> str:
    """The reader's language: ``requested`` (``--lang``, checked), else ``EVIDOCK_LANG``, else
    the locale as gettext reads it (``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES``, ``LANG``, the
    first one set), else ``accept`` (a browser's Accept-Language), else ``DEFAULT``."""
    if requested:
        return check(requested)
    explicit = environ.get("EVIDOCK_LANG")
    if explicit:
        return check(from_locale(explicit) or explicit)
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(var)
        if value:
            return from_locale(value) or _from_accept(accept) or DEFAULT
    return _from_accept(accept) or DEFAULT


def _from_accept(header: str | None) -> str | None:
    """The first language of an Accept-Language header that we have (by order, not q)."""
    if not header:
        return None
    for part in header.split(","):
        lang = from_locale(part.split(";")[0].strip())
        if lang is not None:
            return lang
    return None
