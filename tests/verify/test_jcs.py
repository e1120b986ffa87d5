"""The fast canonical encoder writes exactly the bytes of rfc8785 (the definition), or fails
exactly as it does: on every event of the test corpus and on generated JSON values."""

from __future__ import annotations

import enum
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ingest.context import Context
from storage.records import Event
from tests.verify.tamper import Cli, events
from verify.log import jcs
from verify.log.events import (
    canonical,
    canonical_object,
    encode_data,
    event_object,
    reference_canonical,
)

FIXTURE_DB = Path(__file__).resolve().parents[1] / "data" / "catalog-v1" / "home" / "catalog.db"


class _Kind(enum.StrEnum):
    PHOTO = "photo"


class _Level(enum.IntEnum):
    HIGH = 3


def _outcome(fn: Callable[[], bytes]) -> bytes | type[BaseException]:
    try:
        return fn()
    except ValueError as e:  # rfc8785's errors (and UnicodeEncodeError) are ValueErrors
        return type(e)


def _assert_same(obj: dict[str, Any]) -> None:
    assert _outcome(lambda: canonical_object(obj)) == _outcome(lambda: reference_canonical(obj))


# Characters where RFC 8785 is easy to get wrong: controls, the two escaped printables, DEL and
# the line separators (literal), the last BMP characters, the private-use area that sorts after
# surrogates in UTF-16, characters beyond U+FFFF, and a lone surrogate (not UTF-8: an error).
_TRICKY = '\x00\x01\x08\x09\x0a\x0c\x0d\x1f "\\/\x7f\x80\u00e9\u2028\u2029\ud7ff\ue000\uffff'
_chars = st.characters(codec="utf-8") | st.sampled_from(
    [*_TRICKY, "\U00010000", "\U0001f600", "\U0010ffff", "\ud800", "\udfff"]
)
_text = st.text(_chars, max_size=12)
_ints = (
    st.integers(-(2**64), 2**64)
    | st.integers(jcs.INT_MAX - 2, jcs.INT_MAX + 2)
    | st.integers(-jcs.INT_MAX - 2, -jcs.INT_MAX + 2)
)
_scalars = (
    st.none()
    | st.booleans()
    | _ints
    | st.floats()
    | _text
    | st.sampled_from([_Kind.PHOTO, _Level.HIGH])
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(_text, inner, max_size=5)
    ),
    max_leaves=24,
)


@given(obj=st.dictionaries(_text, _json, max_size=8))
@settings(max_examples=1000)
@example(obj={"\ue000": 1, "\U00010000": 2, "a": 3})  # UTF-16 order: U+10000 before U+E000
@example(obj={"x": 2**53 - 1, "y": -(2**53) + 1})
@example(obj={"x": 2**53})
@example(obj={"x": 1.0, "y": -0.0, "z": 1e21, "w": 1e-7, "v": 0.000001, "u": 123.456})
@example(obj={"x": float("nan")})
@example(obj={"\ud800": 1})
@example(obj={"x": '\x00\x1f\x7f\u2028"\\'})
def test_fast_encoder_equals_rfc8785_on_json_values(obj: dict[str, Any]) -> None:
    """Same bytes for every value; the same error where rfc8785 refuses one."""
    _assert_same(obj)


@given(
    obj=st.dictionaries(st.one_of(_ints, st.none(), st.tuples(_text)), _json, min_size=1)
    | st.dictionaries(_text, st.sets(_ints, min_size=1) | st.binary(min_size=1), min_size=1)
)
def test_values_outside_json_fail_as_rfc8785_fails(obj: dict[Any, Any]) -> None:
    """Non-string keys, sets, bytes: the fast encoder hands them to rfc8785, which refuses."""
    with pytest.raises(jcs.Unsupported):
        jcs.dumps(obj, lambda f: b"")
    _assert_same(obj)


def test_enum_values_are_written_as_their_values() -> None:
    """StrEnum and IntEnum members (as ingest passes them) are their plain values."""
    data = {"kind": _Kind.PHOTO, "level": _Level.HIGH, _Kind.PHOTO: [_Level.HIGH]}
    assert encode_data(data) == '{"kind":"photo","level":3,"photo":[3]}'
    assert canonical_object(data) == reference_canonical(data)


def _db_events(path: Path) -> list[Event]:
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        rows = db.execute(
            "SELECT seq, time, type, item_id, actor, dock, data, prev FROM custody_event "
            "ORDER BY seq"
        ).fetchall()
    finally:
        db.close()
    return [
        Event(seq=s, time=t, type=ty, item=i, actor=a, dock=d, data=data, prev=p)
        for s, t, ty, i, a, d, data, p in rows
    ]


def _assert_corpus(evs: list[Event]) -> None:
    assert evs
    for ev in evs:
        assert canonical(ev) == reference_canonical(event_object(ev)), ev.seq


def test_every_event_of_the_fixture_catalog_is_encoded_as_rfc8785_does() -> None:
    """The catalog written by an earlier evidock: each event, byte for byte."""
    evs = _db_events(FIXTURE_DB)
    assert len({ev.type for ev in evs}) >= 5
    _assert_corpus(evs)


def test_every_event_of_the_demo_is_encoded_as_rfc8785_does(cli: Cli, tmp_path: Path) -> None:
    """The demo's log (two dockings, a late offload, proxies, checkpoints): each event."""
    rc, _, _ = cli("demo", "--home", str(tmp_path / "demo"))
    assert rc == 0
    evs = _db_events(tmp_path / "demo" / "catalog.db")
    assert any(isinstance(v, float) for ev in evs for v in json.loads(ev.data).values())
    _assert_corpus(evs)


def test_every_event_of_an_ingest_and_a_verify_is_encoded_as_rfc8785_does(
    ingested: Context, cli: Cli
) -> None:
    """A fresh log (docking, acquisition, storage, checkpoint, fixity): each event."""
    assert cli("verify")[0] == 0
    _assert_corpus(events(ingested))
