"""A fast RFC 8785 (JCS) encoder for the JSON values custody events hold. Pure.

``rfc8785.dumps`` writes through a ``BytesIO`` one call per value and costs ~28 us for an
event; this one builds the text with the C string escaper of ``json`` and costs a few us.
It knows exactly the shapes ``json.loads`` gives back and ``CustodyLog`` writes: ``None``,
``bool``, ``int`` (and its subclasses, e.g. an ``IntEnum``), ``str`` (and ``StrEnum``),
``list``/``tuple`` and ``dict`` with ``str`` keys. Everything it is not sure of raises
``Unsupported`` and the caller serialises the whole value with ``rfc8785`` instead, so any
error (an integer beyond 2**53, a lone surrogate, a non-string key) is rfc8785's own.
Floats between 1e-4 and 1e16 (a delay in seconds) are their ``repr`` (see ``_float``); any
other float is written by the ``number`` function the caller passes (``rfc8785`` again): the
rest of the ECMAScript number form is not worth a second implementation.

Why the output is the same bytes (RFC 8785 section 3.2.2): strings escape exactly ``"``,
``\\`` and the controls U+0000..U+001F (``\\b \\f \\n \\r \\t`` by name, the rest as
lowercase ``\\u00xx``) and everything else is literal UTF-8, which is what
``json.encoder.encode_basestring`` (not ``_ascii``) does; integers in the I-JSON range are
their decimal digits; object members are sorted by the UTF-16 code units of their names,
which is code-point order unless a name holds a character beyond U+FFFF (then the names are
sorted by their UTF-16BE bytes, as rfc8785 does). ``tests/verify/test_jcs.py`` checks it
against rfc8785 on every event of the test corpus and by property tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["INT_MAX", "Unsupported", "dumps"]

INT_MAX = 2**53 - 1
"""Largest integer RFC 8785 (I-JSON) writes; ``-INT_MAX`` is the smallest."""

_quote: Callable[[str], str] = json.encoder.encode_basestring
Number = Callable[[float], bytes]


class Unsupported(Exception):
    """A value this encoder does not serialise itself; use the reference encoder."""


def dumps(obj: Any, number: Number) -> bytes:
    """RFC 8785 bytes of ``obj``; raises ``Unsupported`` for anything outside the shapes above."""
    try:
        return _value(obj, number).encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: rfc8785 raises its own error for it
        # untranslated: a signal to the caller (rfc8785 then), never shown
        raise Unsupported("not UTF-8") from e


def _value(v: Any, number: Number) -> str:
    t = type(v)
    if t is str:
        return _quote(v)
    if t is dict:
        return _object(v, number)
    if t is int:
        if -INT_MAX <= v <= INT_MAX:
            return int.__repr__(v)
        # untranslated: a signal to the caller (rfc8785 then), never shown
        raise Unsupported("integer beyond the I-JSON range")
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if t is list or t is tuple:
        return "[" + ",".join([_value(x, number) for x in v]) + "]"
    if t is float:
        return _float(v, number)
    return _subclass(v, number)


def _float(f: float, number: Number) -> str:
    """Python's ``repr`` and ECMAScript's Number::toString both give the shortest digits that
    round-trip (the nearest when several do); both print them without exponent for
    1e-4 <= |f| < 1e16, where they differ only by repr's trailing ".0". Elsewhere: ``number``."""
    if 1e-4 <= abs(f) < 1e16:
        text = float.__repr__(f)
        return text[:-2] if text.endswith(".0") else text
    return number(f).decode("utf-8")


def _subclass(v: Any, number: Number) -> str:
    """Values of a subclass of a JSON type, as rfc8785 treats them (by their base value)."""
    if isinstance(v, str):
        return _quote(v)
    if isinstance(v, int):
        return _value(int(v), number)
    if isinstance(v, float):
        return _float(float(v), number)
    if isinstance(v, list | tuple):
        return _value(list(v), number)
    if isinstance(v, dict):
        return _object(dict(v), number)
    # untranslated: a signal to the caller (rfc8785 then), never shown
    raise Unsupported(f"type {type(v).__name__}")


def _object(d: dict[Any, Any], number: Number) -> str:
    try:
        names = "".join(d)
    except TypeError as e:
        # untranslated: a signal to the caller (rfc8785 then), never shown
        raise Unsupported("object keys must be strings") from e
    # Names are unique, so values are never compared. UTF-16 code-unit order differs from
    # code-point order only above U+FFFF, never for ASCII.
    members = sorted(d.items()) if names.isascii() else sorted(d.items(), key=_utf16)
    return "{" + ",".join([_quote(k) + ":" + _value(v, number) for k, v in members]) + "}"


def _utf16(member: tuple[str, Any]) -> bytes:
    try:
        return member[0].encode("utf-16-be")
    except UnicodeEncodeError as e:
        # untranslated: a signal to the caller (rfc8785 then), never shown
        raise Unsupported("not UTF-16") from e
