"""[store] and [s3] are checked at start: every mistake names the key and what to write."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.config import parse
from ingest.errors import ConfigError

ENV = {"EVIDOCK_HOME": "/tmp/evidock-config-test"}


def _parse(raw: dict[str, Any]) -> Any:
    return parse(raw, env=ENV, source="test.toml")


def test_s3_as_system_of_record_needs_an_s3_section() -> None:
    """system_of_record = ["s3"] without [s3] is refused with the key to add."""
    with pytest.raises(ConfigError, match=r"no \[s3\] section") as e:
        _parse({"store": {"system_of_record": ["s3"]}})
    assert "bucket" in e.value.hint


@pytest.mark.parametrize(
    ("s3", "message"),
    [
        ({"bucket": "Bad_Bucket"}, "not an S3 bucket name"),
        ({"bucket": "evidence", "object_lock_mode": "FOREVER"}, "object_lock_mode"),
        ({"bucket": "evidence", "checksum_calculation": "always"}, "checksum_calculation"),
        ({"bucket": "evidence", "prefix": "/abs/"}, "prefix"),
        ({"bucket": "evidence", "endpoint_url": "s3.internal"}, "http"),
        ({"bucket": "evidence", "part_size_mib": 1}, "part_size_mib"),
        ({"bucket": "evidence", "secret_access_key": "x"}, "unknown key"),
    ],
)
def test_bad_s3_settings_name_the_key(s3: dict[str, Any], message: str) -> None:
    """Each bad [s3] value is refused at start; credentials are not a config key at all."""
    with pytest.raises(ConfigError, match=message):
        _parse({"store": {"system_of_record": ["s3"]}, "s3": s3})


def test_the_local_copy_can_be_released_only_when_s3_alone_is_the_record() -> None:
    """A local copy that is part of the system of record is never released."""
    raw: dict[str, dict[str, Any]] = {
           "store": {"system_of_record": ["local", "s3"], "release_local_after_upload": True},
           "s3": {"bucket": "evidence"}}  # fmt: skip
    with pytest.raises(ConfigError, match="release_local_after_upload"):
        _parse(raw)
    raw["store"]["system_of_record"] = ["s3"]
    assert _parse(raw).store.s3.release_local is True


def test_s3_as_a_replica_keeps_local_as_the_record() -> None:
    """[s3] with the default system of record: local is the record, S3 a replica."""
    s = _parse({"s3": {"bucket": "evidence", "prefix": "d7/"}}).store
    assert s.system_of_record == ("local",) and not s.s3_is_record
    assert s.s3 is not None and s.s3.prefix == "d7/" and s.s3.object_lock_mode == "COMPLIANCE"
