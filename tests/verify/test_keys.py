"""The dock's signing key file: created 0600 once, loaded back exactly, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from verify.errors import SigningKeyError
from verify.keys import key_path, load, load_or_create


def test_keys_round_trip_whatever_their_base64_contains(tmp_path: Path) -> None:
    """Many fresh keys (base64 often holds '+' or '/') all load back to the same key."""
    for i in range(64):
        key, created = load_or_create(tmp_path, f"dock-{i}")
        assert created
        again, created_again = load_or_create(tmp_path, f"dock-{i}")
        assert not created_again and again == key
        assert stat.S_IMODE(key_path(tmp_path, f"dock-{i}").stat().st_mode) == 0o600


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    """A key file with group or world bits is not used: it may have been copied."""
    load_or_create(tmp_path, "d")
    key_path(tmp_path, "d").chmod(0o644)
    with pytest.raises(SigningKeyError, match="readable by others"):
        load(key_path(tmp_path, "d"), "d")


def test_key_of_another_dock_is_refused(tmp_path: Path) -> None:
    """A key file renamed to another dock's name does not sign for that dock."""
    load_or_create(tmp_path, "a")
    key_path(tmp_path, "a").rename(key_path(tmp_path, "b"))
    with pytest.raises(SigningKeyError, match="not a private key for dock 'b'"):
        load(key_path(tmp_path, "b"), "b")
