"""[trust]: witnesses are pinned keys with URLs; the quorum cannot exceed them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.config import parse
from ingest.errors import ConfigError
from verify.witness.cosignature import cosigner_key

ENV = {"EVIDOCK_HOME": "/tmp/evidock-test-home"}
KEY = cosigner_key("legal.example/w1", bytes(32)).vkey


def test_witnesses_quorum_and_grace_are_read() -> None:
    """A pinned witness and a quorum of one are read into TrustSettings."""
    raw = {"trust": {"witnesses": [{"url": "http://w.example:7380", "key": KEY}],
                     "witness_quorum": 1, "witness_grace_seconds": 600}}  # fmt: skip
    trust = parse(raw, env=ENV, source="t").trust
    assert [(w.url, w.key.vkey) for w in trust.witnesses] == [("http://w.example:7380", KEY)]
    assert (trust.witness_quorum, trust.witness_grace_seconds) == (1, 600.0)


def test_a_retired_witness_keeps_its_entry_with_the_time_it_was_retired() -> None:
    """retired_at is read as a time with its zone; a quorum counts only serving witnesses."""
    other = cosigner_key("legal.example/w2", bytes(range(32))).vkey
    raw = {"trust": {"witnesses": [
        {"url": "http://a", "key": KEY, "retired_at": "2026-12-01T00:00+08:00"},
        {"url": "http://b", "key": other}], "witness_quorum": 1}}  # fmt: skip
    old, new = parse(raw, env=ENV, source="t").trust.witnesses
    assert old.retired_at == datetime(2026, 11, 30, 16, 0, tzinfo=UTC) and new.retired_at is None
    assert old.active(datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert not old.active(datetime(2026, 11, 30, 16, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("trust", "message"),
    [
        ({"witness_quorum": 1}, "asks for more cosignatures than the 0 witness"),
        ({"witnesses": [{"url": "w.example", "key": KEY}]}, "must start with http"),
        ({"witnesses": [{"url": "http://w", "key": "w1+00000000+AQ=="}]}, "not a witness key"),
        ({"witnesses": [{"url": "http://w"}]}, "must have exactly the string keys url, key"),
        ({"witnesses": [{"url": "http://a", "key": KEY}, {"url": "http://b", "key": KEY}]},
         "names a witness twice"),
        ({"witnesses": [{"url": "http://w", "key": KEY, "retired_at": "2026-12-01T00:00"}]},
         "retired_at = '2026-12-01T00:00' is not a time with its zone"),
        ({"witnesses": [{"url": "http://w", "key": KEY, "retired_at": "2026-12-01T00:00Z"}],
          "witness_quorum": 1}, "than the 0 witnesses in \\[trust\\] witnesses that are not"),
        ({"witnesses": [{"url": "http://w", "key": KEY, "retired": "x"}]},
         "must have exactly the string keys url, key \\(and perhaps retired_at\\)"),
        ({"tsa_url": "http://tsa.example/tsa"}, "tsa_url and tsa_certificates go together"),
        ({"tsa_url": "http://tsa", "tsa_certificates": "/nonexistent/chain.pem"},
         "cannot read /nonexistent/chain.pem"),
    ],
)  # fmt: skip
def test_a_wrong_trust_section_is_refused_with_what_to_write(
    trust: dict[str, object], message: str
) -> None:
    """Each mistake is a ConfigError that says what is wrong."""
    with pytest.raises(ConfigError, match=message):
        parse({"trust": trust}, env=ENV, source="t")
