"""Typed configuration keys: per section, a table of each key's type, range and default.

A value of the wrong type is refused, never coerced: ``"false"`` is not false, a string is not
a list of one string, ``true`` is not a number. An unknown key or section is refused with the
nearest known one. Every message names the file, the key as ``[section] key`` and what to
write instead, in the reader's language (``i18n``); a key's ``hint`` is marked with ``N_`` and
translated when it is shown. Pure: no file, no environment.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from i18n import N_, _
from ingest.errors import ConfigError

Kind = Literal["bool", "int", "number", "text", "path", "texts", "paths", "tables"]
Check = Callable[[str], str | None]
"""What is wrong with a text (said after the value, e.g. 'is not a known time zone', in the
reader's language), or None."""

_EXPECTED: dict[Kind, str] = {  # marked: shown with _()
    "bool": N_("true or false"),
    "int": N_("a whole number"),
    "number": N_("a number"),
    "text": N_("a string"),
    "path": N_("a path (a string)"),
    "texts": N_("a list of strings"),
    "paths": N_("a list of paths (strings)"),
    "tables": N_("a list of inline tables"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    kind: Kind
    default: Any = None  # already in the type the reader returns (float, Path, tuple, ...)
    low: float | None = None  # inclusive bounds of a number
    high: float | None = None
    positive: bool = False  # a number that must be more than 0
    choices: tuple[str, ...] = ()  # the texts allowed (each text of a list, for a list)
    check: Check | None = None  # a further rule for a text (or each text of a list)
    required: bool = False
    example: str | None = None  # what to write when the default does not show it
    hint: str | None = None  # marked with N_ where the schema is written; shown with _()
    fields: tuple[str, ...] = ()  # the keys of each table of a list of tables, all strings
    optional_fields: tuple[str, ...] = ()  # keys a table of the list may leave out


Schema = Mapping[str, Mapping[str, Key]]
"""Section name ("" for the top level) -> key -> Key."""


def flag(default: bool) -> Key:
    return Key(kind="bool", default=default)


def whole(default: int, low: int, high: int | None = None) -> Key:
    return Key(kind="int", default=default, low=low, high=high)


def number(
    default: float, *, low: float | None = None, high: float | None = None, positive: bool = False
) -> Key:
    return Key(kind="number", default=default, low=low, high=high, positive=positive)


def text(
    default: str | None,
    *,
    choices: tuple[str, ...] = (),
    check: Check | None = None,
    required: bool = False,
    example: str | None = None,
    hint: str | None = None,
) -> Key:
    return Key(kind="text", default=default, choices=choices, check=check, required=required,
               example=example, hint=hint)  # fmt: skip


def path(default: Path | None) -> Key:
    return Key(kind="path", default=default)


def texts(
    default: tuple[str, ...],
    *,
    choices: tuple[str, ...] = (),
    check: Check | None = None,
    example: str | None = None,
    hint: str | None = None,
) -> Key:
    return Key(kind="texts", default=default, choices=choices, check=check, example=example,
               hint=hint)  # fmt: skip


def paths(default: tuple[Path, ...], *, example: str | None = None) -> Key:
    return Key(kind="paths", default=default, example=example)


def tables(
    fields: tuple[str, ...], *, optional: tuple[str, ...] = (), example: str, hint: str
) -> Key:
    """A list of inline tables, each with ``fields`` (and perhaps ``optional``) as strings (the
    [trust] witnesses); what the strings mean is checked by whoever reads the section."""
    return Key(kind="tables", default=(), fields=fields, optional_fields=optional,
               example=example, hint=hint)  # fmt: skip


def read(raw: Mapping[str, Any], schema: Schema, *, source: str) -> dict[str, dict[str, Any]]:
    """Every section of ``schema`` (absent ones with their defaults), checked and converted:
    bool, int, float (from an int too), str, Path, and tuples for lists. A required key is
    required in a section that is there."""
    tables: dict[str, Mapping[str, Any]] = {}
    top: dict[str, Any] = {}
    for name, value in raw.items():
        if name and name in schema:
            if not isinstance(value, dict):
                raise ConfigError(
                    _(
                        "{source}: {name} = {value} is {a}, not a section: "
                        "write it as a [{name}] section"
                    ).format(source=source, name=name, value=_toml(value), a=_a(value))
                )
            tables[name] = value
        else:
            top[name] = value
    values = {"": _read_keys(top, "", schema, source, present=True)}
    for section in schema:
        if section:
            raw_section = tables.get(section, {})
            values[section] = _read_keys(
                raw_section, section, schema, source, present=section in tables
            )
    return values


def where(section: str, name: str) -> str:
    """How a message names a key: ``[dock] watch``, or ``timezone`` at the top level."""
    return f"[{section}] {name}" if section else name


def _read_keys(
    raw: Mapping[str, Any], section: str, schema: Schema, source: str, *, present: bool
) -> dict[str, Any]:
    keys = schema[section]
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in keys:
            raise _unknown(source, section, name, value, schema)
        out[name] = _value(value, keys[name], section, name, source)
    for name, key in keys.items():
        if name in out:
            continue
        if key.required and present:
            raise ConfigError(
                _("{source}: [{section}] has no {name}: write {name} = {example}").format(
                    source=source, section=section, name=name, example=_example(key)
                ),
                hint=_hint(key),
            )
        out[name] = key.default
    return out


def _unknown(source: str, section: str, name: str, value: object, schema: Schema) -> ConfigError:
    if not section and isinstance(value, dict):
        sections = [s for s in schema if s]
        near = difflib.get_close_matches(name, sections, n=1)
        if near:
            fix = _("did you mean {name}?").format(name=f"[{near[0]}]")
        else:
            fix = _("the sections are: {names}").format(names=", ".join(f"[{s}]" for s in sections))
        return ConfigError(
            _("{source}: [{name}] is an unknown section; {fix}").format(
                source=source, name=name, fix=fix
            )
        )
    here = list(schema[section])
    near = difflib.get_close_matches(name, here, n=1)
    if near:
        fix = _("did you mean {name}?").format(name=near[0])
    else:  # a key of another section, or a typo of one: name it with its section
        elsewhere = {where(s, k): k for s, keys in schema.items() if s != section for k in keys}
        hits = difflib.get_close_matches(name, list(elsewhere.values()), n=1)
        qualified = [q for q, k in elsewhere.items() if hits and k == hits[0]]
        if qualified:
            fix = _("did you mean {name}?").format(name=qualified[0])
        elif section:
            fix = _("the keys of [{section}] are: {names}").format(
                section=section, names=", ".join(here)
            )
        else:
            fix = _("the keys of the top level are: {names}").format(names=", ".join(here))
    return ConfigError(
        _("{source}: {key} is an unknown key; {fix}").format(
            source=source, key=where(section, name), fix=fix
        )
    )


def _hint(key: Key) -> str | None:
    """The key's hint in the reader's language (None when it has none)."""
    return _(key.hint) if key.hint else None


def _write(name: str, value: str) -> str:
    """'write NAME = VALUE', the fix most messages end with."""
    return _("write {name} = {value}").format(name=name, value=value)


def _value(value: object, key: Key, section: str, name: str, source: str) -> Any:
    at = where(section, name)
    kind = key.kind
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        _in_range(value, key, at, source)
        return value
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        _in_range(value, key, at, source)
        return float(value)
    if kind in ("text", "path") and isinstance(value, str):
        _text_rules(value, key, f"{at} = {_toml(value)}", name, source)
        return Path(value) if kind == "path" else value
    if kind in ("texts", "paths") and isinstance(value, list):
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(
                    _("{source}: {said} is {a}, not a string: {fix}").format(
                        source=source,
                        said=_item(f"{at} = {_toml(value)}", i, item),
                        a=_a(item),
                        fix=_write(name, _example(key)),
                    ),
                    hint=_hint(key),
                )
            _text_rules(item, key, _item(at, i, item), name, source)
        return tuple(Path(v) for v in value) if kind == "paths" else tuple(value)
    if kind == "tables" and isinstance(value, list):
        said = f"{at} = {_toml(value)}"
        return tuple(_table(i, item, key, said, name, source) for i, item in enumerate(value))
    raise ConfigError(
        _("{source}: {key} = {value} is {a}, not {expected}: {fix}").format(
            source=source, key=at, value=_toml(value), a=_a(value),
            expected=_(_EXPECTED[kind]), fix=_fix(name, key, value),
        ),
        hint=_hint(key),
    )  # fmt: skip


def _item(said_list: str, i: int, item: object) -> str:
    """How a message shows item ``i`` of a list: ``[dock] watch: item 2, 7,``."""
    return _("{list}: item {n}, {item},").format(list=said_list, n=i + 1, item=_toml(item))


def _table(
    i: int, item: object, key: Key, said_list: str, name: str, source: str
) -> dict[str, str]:
    """One table of a list of tables: ``key.fields`` and perhaps ``key.optional_fields``, each
    a string."""
    said = _item(said_list, i, item)
    fix = _write(name, _example(key))
    if not isinstance(item, dict):
        raise ConfigError(
            _("{source}: {said} is {a}, not a table: {fix}").format(
                source=source, said=said, a=_a(item), fix=fix
            ),
            hint=_hint(key),
        )
    allowed = set(key.fields) | set(key.optional_fields)
    if not set(key.fields) <= set(item) <= allowed or not all(
        isinstance(v, str) for v in item.values()
    ):
        keys = ", ".join(key.fields)
        if key.optional_fields:
            message = _(
                "{source}: {said} must have exactly the string keys {keys} "
                "(and perhaps {optional}): {fix}"
            )
        else:
            message = _("{source}: {said} must have exactly the string keys {keys}: {fix}")
        optional = ", ".join(key.optional_fields)
        raise ConfigError(
            message.format(source=source, said=said, keys=keys, optional=optional, fix=fix),
            hint=_hint(key),
        )
    return dict(item)


def _in_range(value: float, key: Key, at: str, source: str) -> None:
    shown = {"source": source, "key": at, "value": _toml(value)}
    if not math.isfinite(value):
        raise ConfigError(_("{source}: {key} = {value} is not a finite number").format(**shown))
    if key.positive and value <= 0:
        raise ConfigError(_("{source}: {key} = {value} must be more than 0").format(**shown))
    low, high = key.low, key.high
    if (low is not None and value < low) or (high is not None and value > high):
        if high is not None:
            message = _("{source}: {key} = {value} is out of range: it takes from {low} to {high}")
        else:
            message = _("{source}: {key} = {value} is out of range: it takes at least {low}")
        raise ConfigError(message.format(**shown, low=_g(low), high=_g(high)))


def _g(bound: float | None) -> str:
    return "" if bound is None else f"{bound:g}"


def _text_rules(value: str, key: Key, said: str, name: str, source: str) -> None:
    """``said`` is how the message shows the value: ``[dock] name = "x"``, or an item of a list."""
    if key.kind in ("path", "paths") and not value.strip():
        raise ConfigError(
            _("{source}: {said} is empty: {fix}").format(
                source=source, said=said, fix=_write(name, _example(key))
            )
        )
    if key.choices and value not in key.choices:
        folded = {c.lower(): c for c in key.choices}
        near = [folded[n] for n in difflib.get_close_matches(value.lower(), list(folded), n=1)]
        allowed = ", ".join(_toml(c) for c in key.choices)
        if near:
            message = _("{source}: {said} is not one of {allowed}; did you mean {near}?")
        else:
            message = _("{source}: {said} is not one of {allowed}")
        raise ConfigError(
            message.format(
                source=source, said=said, allowed=allowed, near=_toml(near[0]) if near else ""
            ),
            hint=_hint(key),
        )
    problem = key.check(value) if key.check is not None else None
    if problem is not None:
        raise ConfigError(f"{source}: {said} {problem}", hint=_hint(key))


def _fix(name: str, key: Key, value: object) -> str:
    """What to write instead of a value of the wrong type, made from the value where it can be."""
    kind = key.kind
    if kind == "bool":
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return _unquoted(name, value.strip().lower())
        if isinstance(value, int) and value in (0, 1):
            return _write(name, "true" if value else "false")
        return _("write {name} = true or {name} = false").format(name=name)
    if kind in ("int", "number") and isinstance(value, str):
        meant = _number_in(value, whole=kind == "int")
        if meant is not None:
            return _unquoted(name, meant)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return _write(name, str(int(value)))
    if kind in ("texts", "paths") and isinstance(value, str):
        return _write(name, f"[{_toml(value)}]")
    if kind in ("text", "path") and isinstance(value, int | float) and not isinstance(value, bool):
        return _write(name, _toml(str(value)))
    return _write(name, _example(key))


def _unquoted(name: str, value: str) -> str:
    return _("write {name} = {value} without quotes").format(name=name, value=value)


def _number_in(value: str, *, whole: bool) -> str | None:
    try:
        n = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(n) or (whole and not n.is_integer()):
        return None
    return str(int(n)) if whole or n.is_integer() else repr(n)


def _example(key: Key) -> str:
    if key.example is not None:
        return key.example
    if isinstance(key.default, float) and key.default.is_integer():
        return str(int(key.default))  # 24, not 24.0
    if key.default is not None and key.default != ():
        return _toml(key.default)
    generic: dict[Kind, str] = {"bool": "false", "int": "1", "number": "1", "text": '"..."',
                                "path": '"/path"', "texts": '["..."]',
                                "paths": '["/path"]', "tables": "[{...}]"}  # fmt: skip
    return generic[key.kind]


def _toml(value: object) -> str:
    """A value as it would be written in the file (cut short when long)."""
    if isinstance(value, bool):
        shown = "true" if value else "false"
    elif isinstance(value, int | float):
        shown = repr(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    elif isinstance(value, str | Path):
        shown = json.dumps(str(value), ensure_ascii=False)
    elif isinstance(value, list | tuple):
        shown = "[" + ", ".join(_toml(v) for v in value) + "]"
    elif isinstance(value, dict):
        shown = "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, dt.date | dt.time):
        shown = value.isoformat()
    else:
        shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _a(value: object) -> str:
    """What a TOML value is, as a message says it (in the reader's language)."""
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, int):
        return _("a whole number")
    if isinstance(value, float):
        return _("a number")
    if isinstance(value, str):
        return _("a string")
    if isinstance(value, list):
        return _("a list")
    if isinstance(value, dict):
        return _("a table")
    if isinstance(value, dt.date | dt.time):
        return _("a date or time")
    return type(value).__name__
