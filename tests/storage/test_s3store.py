"""The S3 evidence store against a real S3 server: moto's, started by the tests (see
tests/s3server.py), and, when EVIDOCK_TEST_S3_BUCKET names one, a real bucket."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from storage.blobs.s3config import MIB, S3Config
from storage.blobs.s3objects import (
    S3Object,
    b64,
    checksum_matches,
    composite_checksum,
    part_size_for,
)
from storage.blobs.s3store import S3Store
from storage.errors import S3ConfigError, S3IntegrityError, S3Unavailable
from tests.s3server import S3Server, use_host_aws_env

NOW = datetime.now(UTC).replace(microsecond=0)
SMALL = 300_000
LARGE = 11 * MIB + 123  # 5 MiB + 5 MiB + the rest: three parts at the test part size


# -- where the tests run: the moto server, and optionally a real bucket ----------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    name: str
    config: Callable[..., S3Config]  # overrides -> [s3] for this target


@pytest.fixture(params=["moto", "bucket"])
def target(request: pytest.FixtureRequest) -> Target:
    """The moto server (always), and a real bucket when EVIDOCK_TEST_S3_BUCKET is set."""
    if request.param == "moto":
        server: S3Server = request.getfixturevalue("s3_server")
        bucket: str = request.getfixturevalue("s3_bucket")
        return Target(name="moto", config=lambda **kw: server.config(bucket, **kw))
    real = os.environ.get("EVIDOCK_TEST_S3_BUCKET")
    if not real:
        pytest.skip("no real bucket: EVIDOCK_TEST_S3_BUCKET is not set")
    mp: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    use_host_aws_env(mp.setenv, mp.delenv)  # not the test server's credentials
    base = S3Config(
        bucket=real,
        endpoint_url=os.environ.get("EVIDOCK_TEST_S3_ENDPOINT") or None,
        region=os.environ.get("EVIDOCK_TEST_S3_REGION", "us-east-1"),
        prefix=f"evidock-test/{uuid.uuid4().hex}/",
        object_lock_mode="GOVERNANCE",  # an administrator can still clean up
        retention_days=1,
        multipart_threshold=8 * MIB,
        part_size=5 * MIB,
    )
    return Target(name="bucket", config=lambda **kw: dataclasses.replace(base, **kw))


@pytest.fixture
def open_store(target: Target) -> Iterator[Callable[..., S3Store]]:
    """Make S3Stores on the target (config overrides as keywords); closed afterwards."""
    stores: list[S3Store] = []

    def make(**overrides: Any) -> S3Store:
        stores.append(S3Store(target.config(**overrides)))
        return stores[-1]

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def store(open_store: Callable[..., S3Store]) -> S3Store:
    return open_store()


# -- helpers ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    path: Path
    sha256: str
    size: int
    data: bytes


def evidence(tmp_path: Path, size: int) -> Evidence:
    data = os.urandom(size)
    path = tmp_path / f"{uuid.uuid4().hex}.mp4"
    path.write_bytes(data)
    return Evidence(path=path, sha256=hashlib.sha256(data).hexdigest(), size=size, data=data)


def put(store: S3Store, ev: Evidence, **kw: Any) -> S3Object:
    key = store.original_key(ev.sha256)
    return store.put_file(key, ev.path, sha256=ev.sha256, size=ev.size, now=NOW, **kw)


@contextmanager
def calls(store: S3Store) -> Iterator[list[str]]:
    """The names of the S3 operations the store sends while the block runs."""
    seen: list[str] = []

    def record(model: Any, **_: Any) -> None:
        seen.append(model.name)

    store.client.meta.events.register("before-call.s3", record)
    try:
        yield seen
    finally:
        store.client.meta.events.unregister("before-call.s3", record)


@contextmanager
def server_reports(store: S3Store, change: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Make the server seem to report something else on every successful HEAD of an object:
    a botocore hook edits the parsed answer before the store sees it."""

    def edit(parsed: dict[str, Any], **_: Any) -> None:
        if "ContentLength" in parsed:  # a found object, not a 404
            change(parsed)

    store.client.meta.events.register("after-call.s3.HeadObject", edit)
    try:
        yield
    finally:
        store.client.meta.events.unregister("after-call.s3.HeadObject", edit)


@contextmanager
def first_head_misses(store: S3Store) -> Iterator[None]:
    """The store's next HEAD answers 404 without asking the server, as when another writer
    stores the same key just after our look: only the server's If-None-Match stops us then."""
    missed: list[bool] = []

    def miss(**_: Any) -> tuple[Any, dict[str, Any]] | None:
        if missed:
            return None
        missed.append(True)
        return SimpleNamespace(status_code=404), {
            "Error": {"Code": "404", "Message": "Not Found"},
            "ResponseMetadata": {"HTTPStatusCode": 404},
        }

    store.client.meta.events.register("before-call.s3.HeadObject", miss)
    try:
        yield
    finally:
        store.client.meta.events.unregister("before-call.s3.HeadObject", miss)
    assert missed, "the store never looked"


def versions(store: S3Store, key: str) -> list[str]:
    listed = store.client.list_object_versions(Bucket=store.bucket, Prefix=key)
    return [v["VersionId"] for v in listed.get("Versions", []) if v["Key"] == key]


# -- pure parts: keys and checksums ----------------------------------------------------------


def test_keys_are_content_addressed_under_the_prefix() -> None:
    """Originals, derivatives and checkpoints have fixed keys; anything else is refused."""
    s = S3Store(S3Config(bucket="evidence", prefix="district-7/"))
    h = "ab" * 32
    assert s.original_key(h) == f"district-7/originals/sha256/{h}"
    assert s.derived_key(h) == f"district-7/derived/sha256/{h}"
    name = "000000000042.dock-01.note"
    assert s.checkpoint_key(name) == f"district-7/checkpoints/{name}"
    for bad in ("AB" * 32, "ab" * 31, "../" + "a" * 61):
        with pytest.raises(ValueError):
            s.original_key(bad)
    for bad in ("a/b.note", "..", "x..note", "", ".hidden"):
        with pytest.raises(ValueError):
            s.checkpoint_key(bad)
    s.close()


def test_composite_checksum_is_s3s_with_or_without_the_part_count() -> None:
    """A multipart checksum is SHA-256 over the parts' digests plus "-N"; a server may drop
    the "-N" but never change the digest."""
    parts = [b"a" * 10, b"b" * 3]
    digests = [hashlib.sha256(p).digest() for p in parts]
    expected = b64(hashlib.sha256(digests[0] + digests[1]).digest()) + "-2"
    assert composite_checksum(digests) == expected
    assert checksum_matches(expected, expected)
    assert checksum_matches(expected, expected[:-2])
    assert not checksum_matches(expected, b64(hashlib.sha256(b"x").digest()))
    single = b64(hashlib.sha256(b"x").digest())
    assert checksum_matches(single, single)
    assert not checksum_matches(single, single + "-1")


def test_part_size_grows_only_when_a_file_needs_more_than_ten_thousand_parts() -> None:
    """The configured part size holds up to 10,000 parts; beyond that it grows in MiB."""
    assert part_size_for(4 * 1024 * MIB, 16 * MIB) == 16 * MIB
    big = 200 * 1024 * MIB
    size = part_size_for(big, 16 * MIB)
    assert size % MIB == 0 and big / size <= 10_000


def test_a_part_size_below_the_s3_minimum_is_a_config_error() -> None:
    """S3 refuses parts under 5 MiB (but the last), so such a configuration does not start."""
    with pytest.raises(S3ConfigError, match="part size"):
        S3Store(S3Config(bucket="evidence", part_size=MIB))


# -- uploads ---------------------------------------------------------------------------------


@pytest.mark.parametrize("checksums", ["when_required", "when_supported"])
def test_small_file_is_one_put_with_checksum_metadata_retention_and_version(
    open_store: Callable[..., S3Store], target: Target, tmp_path: Path, checksums: str
) -> None:
    """Below the threshold one PUT carries our SHA-256 (server-checked), the metadata digest
    and the retention; the store returns what the server then reports."""
    store = open_store(checksum_calculation=checksums)
    ev = evidence(tmp_path, SMALL)
    with calls(store) as ops:
        obj = put(store, ev)
    assert ops.count("PutObject") == 1 and "CreateMultipartUpload" not in ops
    assert obj.key == store.original_key(ev.sha256)
    assert obj.size == ev.size
    assert obj.checksum_sha256 == b64(bytes.fromhex(ev.sha256))
    assert obj.sha256 == ev.sha256
    assert obj.version_id
    assert obj.lock_mode == store.config.object_lock_mode
    assert obj.retain_until == NOW + timedelta(days=store.config.retention_days)
    assert obj.legal_hold is False
    assert store.head(obj.key, obj.version_id) == obj
    assert store.rehash(obj.key, obj.version_id) == (ev.sha256, ev.size)


def test_large_file_goes_in_parts_each_with_its_checksum(store: S3Store, tmp_path: Path) -> None:
    """At the threshold the file goes in 5 MiB parts with their SHA-256; the server's
    composite checksum, the metadata digest, the lock and a full re-hash all agree."""
    ev = evidence(tmp_path, LARGE)
    with calls(store) as ops:
        obj = put(store, ev)
    assert ops.count("UploadPart") == 3 and "PutObject" not in ops
    parts = [ev.data[i : i + 5 * MIB] for i in range(0, ev.size, 5 * MIB)]
    expected = composite_checksum([hashlib.sha256(p).digest() for p in parts])
    assert obj.checksum_sha256 is not None
    assert checksum_matches(expected, obj.checksum_sha256)
    assert obj.size == ev.size and obj.sha256 == ev.sha256 and obj.version_id
    assert obj.lock_mode == store.config.object_lock_mode
    assert obj.retain_until == NOW + timedelta(days=store.config.retention_days)
    assert store.rehash(obj.key, obj.version_id) == (ev.sha256, ev.size)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["single", "multipart"])
def test_putting_again_returns_the_same_version_and_uploads_nothing(
    store: S3Store, tmp_path: Path, size: int
) -> None:
    """A rerun after a crash between upload and catalog commit finds its object and sends
    no bytes: one version, the same one."""
    ev = evidence(tmp_path, size)
    first = put(store, ev)
    with calls(store) as ops:
        again = put(store, ev)
    assert again == first
    assert not {"PutObject", "CreateMultipartUpload", "UploadPart"} & set(ops)
    assert versions(store, first.key) == [first.version_id]


def test_rotten_local_copy_is_refused_before_anything_is_sent(
    store: S3Store, tmp_path: Path
) -> None:
    """A local copy that no longer hashes to its sha256 is not uploaded under that name."""
    ev = evidence(tmp_path, SMALL)
    ev.path.write_bytes(bytes([ev.data[0] ^ 0xFF]) + ev.data[1:])  # one byte rotted
    with calls(store) as ops, pytest.raises(S3IntegrityError, match="nothing was sent"):
        put(store, ev)
    assert "PutObject" not in ops
    assert store.head(store.original_key(ev.sha256)) is None


def test_rotten_local_copy_aborts_the_multipart_upload_and_leaves_nothing(
    store: S3Store, tmp_path: Path
) -> None:
    """In parts the digest is known only at the end: the upload is aborted, nothing made."""
    ev = evidence(tmp_path, LARGE)
    ev.path.write_bytes(ev.data[:-1] + bytes([ev.data[-1] ^ 0xFF]))
    key = store.original_key(ev.sha256)
    with calls(store) as ops, pytest.raises(S3IntegrityError, match="aborted"):
        put(store, ev)
    assert "AbortMultipartUpload" in ops and "CompleteMultipartUpload" not in ops
    assert store.head(key) is None
    pending = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=key)
    assert not pending.get("Uploads")


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["single", "multipart"])
def test_server_refuses_to_delete_a_locked_original(
    store: S3Store, tmp_path: Path, size: int
) -> None:
    """Under Object Lock the server itself refuses to delete the version (no bypass)."""
    obj = put(store, evidence(tmp_path, size))
    with pytest.raises(store.client.exceptions.ClientError) as refused:
        store.client.delete_object(Bucket=store.bucket, Key=obj.key, VersionId=obj.version_id)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert store.head(obj.key, obj.version_id) == obj


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["single", "multipart"])
def test_legal_hold_is_placed_and_released_and_head_reports_it(
    store: S3Store, tmp_path: Path, size: int
) -> None:
    """A hold asked at upload is on the version; it can be released and placed again."""
    obj = put(store, evidence(tmp_path, size), legal_hold=True)
    assert obj.legal_hold is True
    store.set_legal_hold(obj.key, obj.version_id, False)
    found = store.head(obj.key, obj.version_id)
    assert found is not None and found.legal_hold is False
    store.set_legal_hold(obj.key, obj.version_id, True)
    found = store.head(obj.key, obj.version_id)
    assert found is not None and found.legal_hold is True
    store.set_legal_hold(obj.key, obj.version_id, False)  # a real bucket can expire it


def test_put_bytes_writes_once(store: S3Store) -> None:
    """A checkpoint note is written once: the same bytes again return it, other bytes are
    refused and the first stay."""
    key = store.checkpoint_key("000000000042.dock-01.note")
    note = b"evidock/dock-01\n42\nroot\n\n- dock-01 sig\n"
    obj = store.put_bytes(key, note, now=NOW)
    assert obj.size == len(note) and obj.sha256 == hashlib.sha256(note).hexdigest()
    assert obj.lock_mode == store.config.object_lock_mode and obj.version_id
    assert store.read_bytes(key) == note
    assert store.put_bytes(key, note, now=NOW) == obj
    with pytest.raises(S3IntegrityError, match="not overwritten"):
        store.put_bytes(key, note + b"forged", now=NOW)
    assert store.read_bytes(key) == note
    assert versions(store, key) == [obj.version_id]


def test_a_write_racing_ours_is_stopped_by_the_server_not_doubled(
    store: S3Store, tmp_path: Path
) -> None:
    """If the key is taken between our look and our PUT, the server's If-None-Match refuses
    the PUT (412): the same bytes count as stored, other bytes are an integrity failure, and
    no second version appears."""
    ev = evidence(tmp_path, SMALL)
    first = put(store, ev)
    with first_head_misses(store), calls(store) as ops:
        assert put(store, ev) == first
    assert "PutObject" in ops
    key = store.checkpoint_key("000000000007.dock-01.note")
    note = store.put_bytes(key, b"note 7", now=NOW)
    with first_head_misses(store):
        assert store.put_bytes(key, b"note 7", now=NOW) == note
    with first_head_misses(store), pytest.raises(S3IntegrityError, match="not overwritten"):
        store.put_bytes(key, b"note 7, forged", now=NOW)
    assert versions(store, first.key) == [first.version_id]
    assert versions(store, key) == [note.version_id]


def test_missing_objects_are_none_or_an_integrity_error(store: S3Store) -> None:
    """head/read_bytes say None for a key that is not there; rehash of it is a failure."""
    key = store.original_key("cd" * 32)
    assert store.head(key) is None
    assert store.read_bytes(store.checkpoint_key("nothing.note")) is None
    with pytest.raises(S3IntegrityError, match="missing"):
        store.rehash(key, None)


# -- the server reports something else than what was sent ------------------------------------

WRONG = "A" * 43 + "="


def _later(p: dict[str, Any]) -> None:
    p["ObjectLockRetainUntilDate"] -= timedelta(days=1)


CHANGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "checksum": lambda p: p.update(ChecksumSHA256=WRONG),
    "size": lambda p: p.update(ContentLength=p["ContentLength"] - 1),
    "metadata": lambda p: p.update(Metadata={"sha256": "0" * 64}),
    "version": lambda p: p.update(VersionId="another-version"),
    "lock mode": lambda p: p.update(
        ObjectLockMode="GOVERNANCE" if p["ObjectLockMode"] == "COMPLIANCE" else "COMPLIANCE"
    ),
    "retain-until": _later,
}


@pytest.mark.parametrize("what", CHANGES)
def test_server_reporting_other_values_fails_the_upload_and_a_retry_finds_it(
    store: S3Store, tmp_path: Path, what: str
) -> None:
    """Whatever field the server reports differently after the upload, put_file fails
    loudly with expected vs found; retried against an honest server it finds the version
    already made instead of uploading twice."""
    ev = evidence(tmp_path, SMALL)
    with server_reports(store, CHANGES[what]), pytest.raises(S3IntegrityError) as failed:
        put(store, ev)
    assert "expected" in str(failed.value) and "found" in str(failed.value)
    assert failed.value.code == "s3-integrity"
    obj = put(store, ev)
    assert versions(store, obj.key) == [obj.version_id]


def test_server_reporting_another_composite_checksum_fails_a_multipart_upload(
    store: S3Store, tmp_path: Path
) -> None:
    """The multipart composite is compared too: another one fails the upload."""
    with (
        server_reports(store, lambda p: p.update(ChecksumSHA256=WRONG + "-3")),
        pytest.raises(S3IntegrityError, match="SHA-256 checksum: expected"),
    ):
        put(store, evidence(tmp_path, LARGE))


def test_server_without_checksums_is_checked_by_size_and_metadata_with_a_warning(
    store: S3Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that reports no checksum at all is accepted on size and metadata digest,
    and the log names the server."""
    ev = evidence(tmp_path, SMALL)
    with (
        caplog.at_level(logging.WARNING, logger="storage.blobs.s3store"),
        server_reports(store, lambda p: p.pop("ChecksumSHA256", None)),
    ):
        obj = put(store, ev)
    assert obj.checksum_sha256 is None and obj.sha256 == ev.sha256
    assert any("no SHA-256 checksum" in r.getMessage() for r in caplog.records)
    assert any(store.where in r.getMessage() for r in caplog.records)


# -- what is already in the bucket (moto only: these plant objects with the raw client) -------


@pytest.mark.parametrize("forgery", ["other digest", "same digest in metadata"])
def test_other_bytes_at_the_key_are_never_overwritten(
    s3: S3Store, tmp_path: Path, forgery: str
) -> None:
    """An object at our key holding other bytes is a loud failure, and it stays as it is."""
    ev = evidence(tmp_path, SMALL)
    key = s3.original_key(ev.sha256)
    other = os.urandom(SMALL)
    claimed = (
        ev.sha256 if forgery == "same digest in metadata" else hashlib.sha256(other).hexdigest()
    )
    s3.client.put_object(
        Bucket=s3.bucket,
        Key=key,
        Body=other,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=b64(hashlib.sha256(other).digest()),
        Metadata={"sha256": claimed},
    )
    with calls(s3) as ops, pytest.raises(S3IntegrityError, match="not overwritten"):
        put(s3, ev)
    assert "PutObject" not in ops
    assert s3.read_bytes(key) == other
    assert len(versions(s3, key)) == 1


def test_our_object_found_without_a_lock_gets_its_retention(s3: S3Store, tmp_path: Path) -> None:
    """Our bytes already at the key but unlocked (a crash before the lock was set): the
    version is kept and locked, not uploaded again."""
    ev = evidence(tmp_path, SMALL)
    key = s3.original_key(ev.sha256)
    placed = s3.client.put_object(
        Bucket=s3.bucket,
        Key=key,
        Body=ev.data,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=b64(bytes.fromhex(ev.sha256)),
        Metadata={"sha256": ev.sha256},
    )
    obj = put(s3, ev)
    assert obj.version_id == placed["VersionId"]
    assert obj.lock_mode == "COMPLIANCE"
    assert obj.retain_until == NOW + timedelta(days=s3.config.retention_days)


# -- start-up check --------------------------------------------------------------------------


def test_check_accepts_a_versioned_bucket_with_object_lock(store: S3Store) -> None:
    """The configured bucket, reachable, versioned and locked: the dock may start."""
    store.check()


def test_check_refuses_a_bucket_without_object_lock_and_says_how_to_enable_it(
    s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    """Retention asked of a bucket that cannot lock objects stops the start, with a hint."""
    name = f"evidock-{uuid.uuid4().hex[:20]}"
    s3_server.make_bucket(name, object_lock=False)
    store = S3Store(s3_server.config(name))
    with pytest.raises(S3ConfigError, match="Object Lock is not enabled") as refused:
        store.check()
    assert "--object-lock-enabled-for-bucket" in refused.value.hint
    assert "put-object-lock-configuration" in refused.value.hint
    S3Store(s3_server.config(name, object_lock_mode="")).check()  # nothing asked: fine
    store.close()


def test_check_names_a_bucket_that_does_not_exist(
    s3_server: S3Server, s3_env: dict[str, str]
) -> None:
    """A wrong bucket name is a configuration error that names the bucket."""
    store = S3Store(s3_server.config("no-such-evidence-bucket"))
    with pytest.raises(S3ConfigError, match=r"no-such-evidence-bucket.*does not exist"):
        store.check()
    store.close()


def test_stopped_server_is_unavailable_and_has_everything_when_back(
    s3_server: S3Server, s3: S3Store, tmp_path: Path
) -> None:
    """An outage is S3Unavailable (the dock spools); after a restart the bucket and its
    objects are all there."""
    obj = put(s3, evidence(tmp_path, SMALL))
    s3_server.stop()
    try:
        with pytest.raises(S3Unavailable, match="Could not connect"):
            s3.check()
        with pytest.raises(S3Unavailable):
            put(s3, evidence(tmp_path, SMALL))
    finally:
        s3_server.start()
    s3.check()
    assert s3.head(obj.key, obj.version_id) == obj


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A second moto server, one that checks signatures against its IAM users."""
    server = S3Server(auth=True, log=tmp_path_factory.getbasetemp() / "moto-s3-auth.log")
    yield server
    server.close()


@pytest.mark.xdist_group("s3-auth")  # one authenticating server, not one per worker
@pytest.mark.parametrize(
    ("key_id", "secret", "why"),
    [
        (None, "not-the-secret", "SignatureDoesNotMatch"),
        ("AKIAEVIDOCKUNKNOWN00", "whatever", "InvalidAccessKeyId"),
    ],
)
def test_wrong_credentials_are_a_config_error_at_check(
    auth_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    key_id: str | None,
    secret: str,
    why: str,
) -> None:
    """The server's own keys pass; a wrong secret or an unknown key stops the start with
    an error that says which and where credentials come from."""
    auth_server.apply_env(monkeypatch.setenv, monkeypatch.delenv)
    name = f"evidock-{uuid.uuid4().hex[:20]}"
    auth_server.make_bucket(name, object_lock=True)
    good = S3Store(auth_server.config(name))
    good.check()
    good.close()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id or auth_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    bad = S3Store(auth_server.config(name))
    with pytest.raises(S3ConfigError, match=why) as refused:
        bad.check()
    assert name in str(refused.value) and "AWS_ACCESS_KEY_ID" in refused.value.hint
    bad.close()


def test_no_credentials_at_all_is_a_config_error(
    s3_server: S3Server, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing in the credential chain: a configuration error, not a crash or a hang."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = S3Store(s3_server.config(s3_bucket))
    with pytest.raises(S3ConfigError, match="no usable credentials"):
        store.check()
    store.close()
