"""Password hashes: stdlib scrypt, self-describing, salted, constant-time checked."""

from __future__ import annotations

from ingest.access.passwords import hash_password, verify_password


def test_a_password_verifies_against_its_own_hash_only() -> None:
    """The right password matches; a wrong one, an empty one and a mangled hash do not."""
    h = hash_password("正确的马 battery staple")
    assert h.startswith("scrypt$16384$8$1$")
    assert verify_password("正确的马 battery staple", h)
    assert not verify_password("正确的马 battery stapler", h)
    assert not verify_password("", h)
    assert not verify_password("正确的马 battery staple", h[:-4] + "AAAA")
    assert not verify_password("x", "plain-text")
    assert not verify_password("x", "scrypt$1$1$1$!!$!!")


def test_two_hashes_of_one_password_differ() -> None:
    """Each hash has its own salt."""
    assert hash_password("same") != hash_password("same")


def test_a_hash_that_asks_for_absurd_cost_is_refused() -> None:
    """A stored hash cannot make a login burn gigabytes of memory."""
    h = hash_password("p").split("$")
    h[1] = str(2**24)
    assert not verify_password("p", "$".join(h))
