"""The S3 evidence store: the one module that speaks boto3.

Longer than the ~400-line guide on purpose: it is the whole boto3 adapter (single and
multipart uploads, HEAD checks, Object Lock, legal holds, downloads, bucket checks), kept in
one module so that no other module ever touches the SDK; its pure parts are in s3objects.

Objects are content-addressed and written once: ``<prefix>originals/sha256/<hex>``,
``<prefix>derived/sha256/<hex>``, ``<prefix>checkpoints/<name>``. Every upload is checked
twice: the server verifies our SHA-256 while it receives the bytes (``ChecksumSHA256`` on a
single PUT and on each part of a multipart upload), and then we HEAD the new version and
compare what the server reports (size, checksum, ``x-amz-meta-sha256``, version id, Object
Lock) with what we sent. Nothing here deletes or overwrites an object.

Every boto3/botocore exception is translated here into ``S3Unavailable`` (try again later),
``S3ConfigError`` (fix the configuration, the credentials or the bucket) or
``S3IntegrityError`` (the server holds or reports other bytes than ours); none leaves this
module. Credentials come from the standard AWS chain only and are never logged.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ChecksumError,
    ClientError,
    CredentialRetrievalError,
    FlexibleChecksumError,
    InvalidConfigError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
)

from i18n import N_, _
from storage.blobs.hashing import CHUNK
from storage.blobs.s3config import MIB, S3Config
from storage.blobs.s3objects import (
    S3Object,
    Sent,
    b64,
    check_hex,
    checksum_matches,
    composite_checksum,
    part_size_for,
    upload_mismatches,
)
from storage.errors import (
    S3ConfigError,
    S3IntegrityError,
    S3Unavailable,
    StorageError,
    StoreIntegrityError,
)

logger = logging.getLogger(__name__)

BACKEND = "s3"
MIN_PART = 5 * MIB  # S3: every part but the last is at least 5 MiB
MAX_PART = 5 * 1024 * MIB  # S3: a part, and a single PUT, is at most 5 GiB
SMALL_MAX = 16 * MIB  # put_bytes/read_bytes are for checkpoint notes, never media

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_MISSING = frozenset({"404", "NoSuchKey", "NoSuchVersion", "405", "MethodNotAllowed"})
_NO_HOLD = frozenset({"NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"})
_INTEGRITY = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidPart"})
_TRANSIENT = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestLimitExceeded",
     "ServiceUnavailable", "InternalError", "OperationAborted", "ConditionalRequestConflict",
     "NoSuchUpload"}
)  # fmt: skip
_WHY = {
    "InvalidAccessKeyId": N_("the server does not know this access key id"),
    "SignatureDoesNotMatch": N_("the secret key does not belong to the access key id"),
    "AccessDenied": N_("the credentials are not allowed to do this on the bucket"),
    "403": N_("the credentials were refused or are not allowed to do this on the bucket"),
    "ExpiredToken": N_("the session token has expired"),
    "NoSuchBucket": N_("the bucket does not exist"),
    "RequestTimeTooSkewed": N_("this host's clock is off; fix its time synchronisation (NTP)"),
    "PermanentRedirect": N_("the bucket is in another region; set [s3] region"),
    "301": N_("the bucket is in another region; set [s3] region"),
    "AuthorizationHeaderMalformed": N_("the bucket is in another region; set [s3] region"),
    "EntityTooSmall": N_(
        "a part is below the server's minimum part size; raise [s3] part_size_mib"
    ),
}
_CREDENTIALS_HINT = N_(
    "Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY, AWS_PROFILE with ~/.aws/credentials, or an instance role): "
    "fix them or the bucket policy, then start again."
)


def _lock_hint(bucket: str) -> str:
    return _(
        "Object Lock is chosen when a bucket is made. New bucket: create it with Object Lock "
        "enabled, e.g. `aws s3api create-bucket --bucket {bucket} "
        "--object-lock-enabled-for-bucket`. Existing bucket: enable versioning "
        "(`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
        "Status=Enabled`), then `aws s3api put-object-lock-configuration --bucket {bucket} "
        "--object-lock-configuration ObjectLockEnabled=Enabled`. Or set [s3] "
        'object_lock_mode = "" to run without it (not for evidence of record).'
    ).format(bucket=bucket)


# -- the adapter ----------------------------------------------------------------------------


class S3Store:
    """Write-once, verified evidence objects in one S3 bucket (no delete exists here)."""

    backend = BACKEND

    def __init__(
        self, config: S3Config, *, on_part: Callable[[str, int], None] | None = None
    ) -> None:
        """``on_part(key, number)`` is called when the server has acknowledged a part of a
        multipart upload (the fault tests stop the server there); default: nothing."""
        self.config = config
        self._on_part = on_part
        self.bucket = config.bucket
        self.where = config.endpoint_url or f"AWS ({config.region})"
        if not MIN_PART <= config.part_size <= MAX_PART:
            raise S3ConfigError(
                _("[s3] part size {size} is outside 5 MiB..5 GiB").format(size=config.part_size)
            )
        if not 0 < config.multipart_threshold <= MAX_PART:
            raise S3ConfigError(
                _("[s3] multipart threshold {size} > 5 GiB").format(size=config.multipart_threshold)
            )
        boto_config = Config(
            signature_version="s3v4",
            s3={"addressing_style": config.addressing_style},
            request_checksum_calculation=config.checksum_calculation,
            response_checksum_validation=config.checksum_calculation,
            connect_timeout=config.connect_timeout_s,
            read_timeout=config.read_timeout_s,
            retries={"max_attempts": config.max_attempts, "mode": "standard"},
        )
        try:
            self.client: Any = boto3.session.Session().client(
                "s3",
                endpoint_url=config.endpoint_url,
                region_name=config.region,
                config=boto_config,
            )
        except (BotoCoreError, ValueError) as exc:
            raise S3ConfigError(
                _("cannot set up an S3 client for {server}: {error}").format(
                    server=self.where, error=exc
                )
            ) from exc

    def close(self) -> None:
        """Close the client's connection pool."""
        self.client.close()

    # -- keys --------------------------------------------------------------------------------
    def original_key(self, sha256: str) -> str:
        return f"{self.config.prefix}originals/sha256/{check_hex(sha256)}"

    def derived_key(self, sha256: str) -> str:
        return f"{self.config.prefix}derived/sha256/{check_hex(sha256)}"

    def archive_key(self, sha256: str) -> str:
        """A case's archive package (issue 17), named by the zip's own sha256."""
        return f"{self.config.prefix}archives/sha256/{check_hex(sha256)}"

    def checkpoint_key(self, name: str) -> str:
        if not _NAME.fullmatch(name) or ".." in name:
            raise ValueError(f"not a checkpoint name: {name!r}")
        return f"{self.config.prefix}checkpoints/{name}"

    # -- start-up check ----------------------------------------------------------------------
    def check(self) -> None:
        """The bucket is reachable with these credentials and, when a lock mode is configured,
        versioned with Object Lock enabled. Raises S3Unavailable or S3ConfigError."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            detail = exc
            if _status(exc) in (403, 404):  # a HEAD answer has no error code: a GET tells it
                try:
                    self.client.get_bucket_versioning(Bucket=self.bucket)
                except ClientError as why:
                    detail = why
                except BotoCoreError:
                    pass
            raise self._translate(detail, "head_bucket", None) from exc
        except BotoCoreError as exc:
            raise self._translate(exc, "head_bucket", None) from exc
        if self.config.object_lock_mode:
            self._check_lock()
        logger.info(
            "s3 store ready bucket=%s endpoint=%s object_lock=%s",
            self.bucket, self.where, self.config.object_lock_mode or "none",
        )  # fmt: skip

    def _check_lock(self) -> None:
        versioning = self._call("get_bucket_versioning", None, Bucket=self.bucket)
        try:
            lock = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        except ClientError as exc:
            if _code(exc) not in _NO_HOLD:
                raise self._translate(exc, "get_object_lock_configuration", None) from exc
            enabled = None
        except BotoCoreError as exc:
            raise self._translate(exc, "get_object_lock_configuration", None) from exc
        missing = []
        status = versioning.get("Status")
        if status != "Enabled":
            missing.append(
                _("versioning is {status}").format(status=status)
                if status
                else _("versioning is off")
            )
        if enabled != "Enabled":
            missing.append(_("Object Lock is not enabled"))
        if missing:
            raise S3ConfigError(
                _(
                    "bucket {bucket} at {server} cannot keep evidence under {mode} retention: "
                    "{missing}"
                ).format(
                    bucket=self.bucket,
                    server=self.where,
                    mode=self.config.object_lock_mode,
                    missing=", ".join(missing),
                ),
                hint=_lock_hint(self.bucket),
            )

    # -- reading -----------------------------------------------------------------------------
    def head(self, key: str, version_id: str | None = None) -> S3Object | None:
        """What the server reports about ``key`` (its current version, or ``version_id``);
        None when it does not exist."""
        params = self._params(key, version_id)
        resp = self._call_optional("head_object", key, ChecksumMode="ENABLED", **params)
        if resp is None:
            return None
        found_version = resp.get("VersionId")
        hold = resp.get("ObjectLockLegalHoldStatus")
        until = resp.get("ObjectLockRetainUntilDate")
        return S3Object(
            key=key,
            size=int(resp["ContentLength"]),
            version_id=found_version,
            checksum_sha256=resp.get("ChecksumSHA256"),
            sha256=(resp.get("Metadata") or {}).get("sha256"),
            lock_mode=resp.get("ObjectLockMode"),
            retain_until=until.astimezone(UTC) if until is not None else None,
            legal_hold=hold == "ON" if hold else self._legal_hold(key, version_id or found_version),
        )

    def _legal_hold(self, key: str, version_id: str | None) -> bool:
        try:
            resp = self.client.get_object_legal_hold(**self._params(key, version_id))
        except ClientError as exc:
            # "no legal hold was ever set" and "this bucket has no Object Lock": no hold
            if _code(exc) in _NO_HOLD or (
                _code(exc) == "InvalidRequest" and "Object Lock" in _message(exc)
            ):
                return False
            raise self._translate(exc, "get_object_legal_hold", key) from exc
        except BotoCoreError as exc:
            raise self._translate(exc, "get_object_legal_hold", key) from exc
        return bool((resp.get("LegalHold") or {}).get("Status") == "ON")

    def rehash(self, key: str, version_id: str | None) -> tuple[str, int]:
        """Download the whole object, streamed in constant memory: (hex SHA-256, size) of
        the bytes received; comparing them with the catalog is the caller's job."""
        resp = self._call_optional(
            "get_object", key, ChecksumMode="ENABLED", **self._params(key, version_id)
        )
        if resp is None:
            raise S3IntegrityError(
                _("{object} is missing from the bucket").format(object=self._name(key, version_id))
            )
        body = resp["Body"]
        h = hashlib.sha256()
        size = 0
        try:
            while chunk := body.read(CHUNK):
                h.update(chunk)
                size += len(chunk)
        except FlexibleChecksumError as exc:
            # raised by the last, empty read: every byte is hashed, and the caller compares
            logger.warning(
                "s3 object bytes differ from the server's own checksum bucket=%s key=%s "
                "version=%s error=%s",
                self.bucket, key, version_id, exc,
            )  # fmt: skip
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, "get_object", key) from exc
        finally:
            body.close()
        return h.hexdigest(), size

    def read_bytes(self, key: str, version_id: str | None = None) -> bytes | None:
        """A small object's bytes (checkpoint notes); None when it does not exist."""
        resp = self._call_optional("get_object", key, **self._params(key, version_id))
        if resp is None:
            return None
        body = resp["Body"]
        try:
            if int(resp.get("ContentLength", 0)) > SMALL_MAX:
                raise S3IntegrityError(
                    _("{object} holds {size} bytes, more than any checkpoint note").format(
                        object=self._name(key, version_id), size=resp["ContentLength"]
                    )
                )
            data: bytes = body.read()
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, "get_object", key) from exc
        finally:
            body.close()
        return data

    # -- writing -----------------------------------------------------------------------------
    def put_file(
        self,
        key: str,
        path: Path,
        *,
        sha256: str,
        size: int,
        legal_hold: bool = False,
        now: datetime,
    ) -> S3Object:
        """Upload ``path`` (which must hash to ``sha256``/``size``) to ``key``, once.

        Idempotent: an object already at ``key`` with our size, digest and checksum is
        returned as it is; one with anything else raises S3IntegrityError and is left alone.
        Below ``multipart_threshold`` the file is read into memory, hashed and sent in one
        PUT with its SHA-256 for the server to verify; at or above it goes in parts of
        ``part_size``, each with its SHA-256, and the upload is aborted (nothing is created)
        if the bytes read do not hash to ``sha256``. Afterwards the new version is HEADed and
        size, checksum, x-amz-meta-sha256, version id and lock compared with what was sent;
        any difference raises S3IntegrityError. A server that reports no checksum at all is
        accepted on size and metadata digest, with a warning naming the server; a server
        that ignored the lock headers gets the retention set on the version explicitly.
        """
        check_hex(sha256)
        if not key.endswith(f"sha256/{sha256}"):
            raise ValueError(f"key {key!r} is not content-addressed by {sha256}")
        lock_mode, retain_until = self._retention(now)
        existing = self.head(key)
        if existing is not None:
            return self._accept_existing(existing, path, sha256, size, legal_hold, now)
        lock = self._lock_params(lock_mode, retain_until, legal_hold)
        if size < self.config.multipart_threshold:
            uploaded = self._put_single(key, path, sha256, size, lock)
        else:
            uploaded = self._put_multipart(key, path, sha256, size, lock)
        if uploaded is None:  # another upload of the same key won the race (412)
            existing = self._head_required(key, None)
            return self._accept_existing(existing, path, sha256, size, legal_hold, now)
        sent = Sent(
            key=key,
            size=size,
            sha256=sha256,
            checksum=uploaded.checksum,
            version_id=uploaded.version_id,
            lock_mode=lock_mode,
            retain_until=retain_until,
            legal_hold=legal_hold,
        )
        found = self._confirm(sent)
        logger.info(
            "s3 stored key=%s version=%s size=%d sha256=%s checksum=%s lock=%s",
            key, found.version_id, size, sha256, found.checksum_sha256, found.lock_mode,
        )  # fmt: skip
        return found

    def put_bytes(self, key: str, data: bytes, *, now: datetime) -> S3Object:
        """Write a small object once: the same bytes again return it, other bytes raise."""
        if len(data) > SMALL_MAX:
            raise ValueError(f"put_bytes is for small objects, not {len(data)} bytes")
        lock_mode, retain_until = self._retention(now)
        existing = self.head(key)
        if existing is not None:
            return self._same_bytes(existing, data, now)
        digest = hashlib.sha256(data)
        lock = self._lock_params(lock_mode, retain_until, False)
        uploaded = self._put_object(key, data, digest.digest(), lock)
        if uploaded is None:  # written meanwhile by someone else (412)
            return self._same_bytes(self._head_required(key, None), data, now)
        sent = Sent(
            key=key,
            size=len(data),
            sha256=digest.hexdigest(),
            checksum=uploaded.checksum,
            version_id=uploaded.version_id,
            lock_mode=lock_mode,
            retain_until=retain_until,
            legal_hold=False,
        )
        found = self._confirm(sent)
        logger.info("s3 wrote key=%s version=%s size=%d", key, found.version_id, len(data))
        return found

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> None:
        """Place or release a legal hold on one version, and read it back."""
        status = "ON" if on else "OFF"
        params = self._params(key, version_id)
        self._call("put_object_legal_hold", key, LegalHold={"Status": status}, **params)
        if self._legal_hold(key, version_id) != on:
            raise S3IntegrityError(
                _("{object}: legal hold set {status} but the server reports it {found}").format(
                    object=self._name(key, version_id), status=status, found="OFF" if on else "ON"
                )
            )
        logger.info("s3 legal hold key=%s version=%s hold=%s", key, version_id, status)

    # -- upload internals --------------------------------------------------------------------
    def _retention(self, now: datetime) -> tuple[str | None, datetime | None]:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if not self.config.object_lock_mode:
            return None, None
        until = now.astimezone(UTC) + timedelta(days=self.config.retention_days)
        return self.config.object_lock_mode, until.replace(microsecond=0)

    @staticmethod
    def _lock_params(mode: str | None, until: datetime | None, legal_hold: bool) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if mode is not None:
            params.update(ObjectLockMode=mode, ObjectLockRetainUntilDate=until)
        if legal_hold:
            params["ObjectLockLegalHoldStatus"] = "ON"
        return params

    def _put_single(
        self, key: str, path: Path, sha256: str, size: int, lock: dict[str, Any]
    ) -> _Uploaded | None:
        data = self._read_local(path, size + 1)
        digest = hashlib.sha256(data)
        if len(data) != size or digest.hexdigest() != sha256:
            raise S3IntegrityError(
                _(
                    "local copy {path} is not the evidence it should be (expected sha256 "
                    "{sha256} and {size} bytes, found {found} and {found_size} bytes); "
                    "nothing was sent to {url}"
                ).format(
                    path=path,
                    sha256=sha256,
                    size=size,
                    found=digest.hexdigest(),
                    found_size=len(data),
                    url=f"s3://{self.bucket}/{key}",
                ),
                hint=_("Run 'evidock verify' on the item: its local copy has changed."),
            )
        return self._put_object(key, data, digest.digest(), lock)

    def _put_object(
        self, key: str, data: bytes, digest: bytes, lock: dict[str, Any]
    ) -> _Uploaded | None:
        """One PUT, only if the key is free (None when it is not: 412)."""
        checksum = b64(digest)
        try:
            resp = self.client.put_object(
                Body=data,
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=checksum,
                Metadata={"sha256": digest.hex()},
                IfNoneMatch="*",
                **self._params(key, None),
                **lock,
            )
        except ClientError as exc:
            if _status(exc) == 412:
                return None
            raise self._translate(exc, "put_object", key) from exc
        except BotoCoreError as exc:
            raise self._translate(exc, "put_object", key) from exc
        reported = resp.get("ChecksumSHA256")
        if reported is not None and reported != checksum:
            raise S3IntegrityError(
                _("{url}: PUT acknowledged SHA-256 {reported}, we sent {sent}").format(
                    url=f"s3://{self.bucket}/{key}", reported=reported, sent=checksum
                )
            )
        return _Uploaded(checksum=checksum, version_id=resp.get("VersionId"))

    def _put_multipart(
        self, key: str, path: Path, sha256: str, size: int, lock: dict[str, Any]
    ) -> _Uploaded | None:
        part_size = part_size_for(size, self.config.part_size)
        self._abort_leftovers(key)
        created = self._call(
            "create_multipart_upload",
            key,
            ChecksumAlgorithm="SHA256",
            Metadata={"sha256": sha256},
            **self._params(key, None),
            **lock,
        )
        upload_id = created["UploadId"]
        try:
            parts, digests, full, total = self._send_parts(key, upload_id, path, size, part_size)
            if total != size or full != sha256:
                raise S3IntegrityError(
                    _(
                        "local copy {path} is not the evidence it should be (expected sha256 "
                        "{sha256} and {size} bytes, read {found} and {found_size} bytes); the "
                        "upload to {url} was aborted"
                    ).format(
                        path=path,
                        sha256=sha256,
                        size=size,
                        found=full,
                        found_size=total,
                        url=f"s3://{self.bucket}/{key}",
                    ),
                    hint=_("Run 'evidock verify' on the item: its local copy has changed."),
                )
            resp = self.client.complete_multipart_upload(
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                MpuObjectSize=size,
                IfNoneMatch="*",
                **self._params(key, None),
            )
        except ClientError as exc:
            self._abort(key, upload_id)
            if _status(exc) == 412:
                return None
            raise self._translate(exc, "multipart upload", key) from exc
        except BotoCoreError as exc:
            self._abort(key, upload_id)
            raise self._translate(exc, "multipart upload", key) from exc
        except BaseException:
            self._abort(key, upload_id)
            raise
        return _Uploaded(checksum=composite_checksum(digests), version_id=resp.get("VersionId"))

    def _send_parts(
        self, key: str, upload_id: str, path: Path, size: int, part_size: int
    ) -> tuple[list[dict[str, Any]], list[bytes], str, int]:
        """Send the file in parts, one in memory at a time; stops reading past ``size``."""
        parts: list[dict[str, Any]] = []
        digests: list[bytes] = []
        full = hashlib.sha256()
        total = 0
        try:
            f = path.open("rb")
        except OSError as exc:
            raise self._local_error(path, exc) from exc
        with f:
            number = 1
            while total <= size:
                try:
                    chunk = f.read(part_size)
                except OSError as exc:
                    raise self._local_error(path, exc) from exc
                if not chunk:
                    break
                total += len(chunk)
                full.update(chunk)
                digest = hashlib.sha256(chunk).digest()
                checksum = b64(digest)
                resp = self.client.upload_part(
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                    **self._params(key, None),
                )
                reported = resp.get("ChecksumSHA256")
                if reported is not None and reported != checksum:
                    raise S3IntegrityError(
                        _(
                            "{url} part {number}: server acknowledged SHA-256 {reported}, we "
                            "sent {sent}; the upload was aborted"
                        ).format(
                            url=f"s3://{self.bucket}/{key}",
                            number=number,
                            reported=reported,
                            sent=checksum,
                        )
                    )
                parts.append(
                    {"PartNumber": number, "ETag": resp["ETag"], "ChecksumSHA256": checksum}
                )
                digests.append(digest)
                if self._on_part is not None:
                    self._on_part(key, number)
                number += 1
        return parts, digests, full.hexdigest(), total

    def _abort_leftovers(self, key: str) -> None:
        """Abort the unfinished multipart uploads of ``key`` that earlier attempts left behind
        (the server was gone when they tried to abort them), so that retries after outages do
        not pile up parts the bucket keeps and bills. The key is content-addressed: any other
        upload of it carries the same bytes, and one aborted while it runs fails as an outage
        and is retried, finding the object there. A listing refused is logged, not fatal."""
        try:
            listed = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "s3 could not list unfinished multipart uploads bucket=%s key=%s error=%s",
                self.bucket, key, exc,
            )  # fmt: skip
            return
        for upload in listed.get("Uploads", []):
            if upload.get("Key") == key and upload.get("UploadId"):
                logger.warning(
                    "s3 aborting an unfinished multipart upload of an earlier attempt bucket=%s "
                    "key=%s upload_id=%s initiated=%s",
                    self.bucket, key, upload["UploadId"], upload.get("Initiated"),
                )  # fmt: skip
                self._abort(key, upload["UploadId"])

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(UploadId=upload_id, **self._params(key, None))
        except (ClientError, BotoCoreError) as exc:
            logger.warning(
                "s3 could not abort multipart upload bucket=%s key=%s upload_id=%s error=%s "
                "(a bucket lifecycle rule AbortIncompleteMultipartUpload removes it later)",
                self.bucket, key, upload_id, exc,
            )  # fmt: skip

    def _confirm(self, sent: Sent) -> S3Object:
        """HEAD the version just written and compare it with what was sent."""
        found = self._head_required(sent.key, sent.version_id)
        found = self._apply_ignored_lock(sent, found)
        problems = upload_mismatches(sent, found)
        if problems:
            raise S3IntegrityError(
                _("{object} at {server} is not what was uploaded: {problems}").format(
                    object=self._name(sent.key, sent.version_id),
                    server=self.where,
                    problems="; ".join(problems),
                )
            )
        if found.checksum_sha256 is None:
            logger.warning(
                "s3 server reports no SHA-256 checksum; verified by size and "
                "x-amz-meta-sha256 only endpoint=%s bucket=%s key=%s",
                self.where, self.bucket, sent.key,
            )  # fmt: skip
        return found

    def _apply_ignored_lock(self, sent: Sent, found: S3Object) -> S3Object:
        """Some servers (moto on multipart uploads) ignore the lock headers of an upload:
        when the new version has no lock at all, set the one we asked for on it."""
        changed = False
        if (
            sent.lock_mode is not None
            and sent.version_id is not None
            and found.lock_mode is None
            and found.retain_until is None
        ):
            logger.warning(
                "s3 server ignored the Object Lock headers; setting retention on the version "
                "endpoint=%s bucket=%s key=%s version=%s mode=%s",
                self.where, self.bucket, sent.key, sent.version_id, sent.lock_mode,
            )  # fmt: skip
            self._call(
                "put_object_retention",
                sent.key,
                Retention={"Mode": sent.lock_mode, "RetainUntilDate": sent.retain_until},
                **self._params(sent.key, sent.version_id),
            )
            changed = True
        if sent.legal_hold and found.legal_hold is False and sent.version_id is not None:
            logger.warning(
                "s3 server ignored the legal hold header; placing it endpoint=%s key=%s",
                self.where, sent.key,
            )  # fmt: skip
            self.set_legal_hold(sent.key, sent.version_id, True)
            changed = True
        return self._head_required(sent.key, sent.version_id) if changed else found

    def _accept_existing(
        self, found: S3Object, path: Path, sha256: str, size: int, legal_hold: bool, now: datetime
    ) -> S3Object:
        """An object is already at the key: ours (return it) or not (raise, never overwrite)."""
        name = self._name(found.key, found.version_id)
        if found.size != size or found.sha256 != sha256:
            raise S3IntegrityError(
                _(
                    "{object} at {server} already holds other bytes (expected sha256 {sha256} "
                    "and {size} bytes, found {found} and {found_size} bytes); it is not "
                    "overwritten"
                ).format(
                    object=name,
                    server=self.where,
                    sha256=sha256,
                    size=size,
                    found=found.sha256,
                    found_size=found.size,
                )
            )
        full = b64(bytes.fromhex(sha256))
        cs = found.checksum_sha256
        ok = cs is None or cs == full
        if not ok and cs is not None and size >= self.config.multipart_threshold:
            ok = checksum_matches(self._local_composite(path, size), cs)
        if not ok and cs is not None and re.search(r"-\d+$", cs):
            # a multipart upload with another part size: the bytes themselves decide
            ok = self.rehash(found.key, found.version_id) == (sha256, size)
        if not ok:
            raise S3IntegrityError(
                _(
                    "{object} at {server} reports SHA-256 checksum {found}, expected {expected} "
                    "for sha256 {sha256}; it is not overwritten"
                ).format(object=name, server=self.where, found=cs, expected=full, sha256=sha256)
            )
        if cs is None:
            logger.warning(
                "s3 server reports no SHA-256 checksum for an existing object; accepted by "
                "size and x-amz-meta-sha256 endpoint=%s key=%s",
                self.where, found.key,
            )  # fmt: skip
        lock_mode, retain_until = self._retention(now)
        ours = Sent(
            key=found.key,
            size=size,
            sha256=sha256,
            checksum=cs or full,
            version_id=found.version_id,
            lock_mode=lock_mode,
            retain_until=retain_until,
            legal_hold=legal_hold,
        )
        found = self._apply_ignored_lock(ours, found)
        if lock_mode is not None and found.lock_mode is None:
            raise S3IntegrityError(
                _("{object} at {server} has no Object Lock").format(object=name, server=self.where)
            )
        logger.info(
            "s3 already stored key=%s version=%s sha256=%s", found.key, found.version_id, sha256
        )
        return found

    def _local_composite(self, path: Path, size: int) -> str:
        part_size = part_size_for(size, self.config.part_size)
        digests = []
        try:
            with path.open("rb") as f:
                while chunk := f.read(part_size):
                    digests.append(hashlib.sha256(chunk).digest())
        except OSError as exc:
            raise self._local_error(path, exc) from exc
        return composite_checksum(digests)

    def _same_bytes(self, found: S3Object, data: bytes, now: datetime) -> S3Object:
        stored = self.read_bytes(found.key, found.version_id)
        digest = hashlib.sha256(data)
        if stored != data:
            got = hashlib.sha256(stored).hexdigest() if stored is not None else None
            raise S3IntegrityError(
                _(
                    "{object} at {server} already holds other bytes (expected sha256 "
                    "{sha256}, found {found}); it is written once and not overwritten"
                ).format(
                    object=self._name(found.key, found.version_id),
                    server=self.where,
                    sha256=digest.hexdigest(),
                    found=got,
                )
            )
        lock_mode, retain_until = self._retention(now)
        ours = Sent(
            key=found.key,
            size=len(data),
            sha256=digest.hexdigest(),
            checksum=b64(digest.digest()),
            version_id=found.version_id,
            lock_mode=lock_mode,
            retain_until=retain_until,
            legal_hold=False,
        )
        return self._apply_ignored_lock(ours, found)

    def _head_required(self, key: str, version_id: str | None) -> S3Object:
        found = self.head(key, version_id)
        if found is None:
            raise S3IntegrityError(
                _("{object} at {server} is missing right after the server acknowledged it").format(
                    object=self._name(key, version_id), server=self.where
                )
            )
        return found

    def _read_local(self, path: Path, limit: int) -> bytes:
        try:
            with path.open("rb") as f:
                return f.read(limit)
        except OSError as exc:
            raise self._local_error(path, exc) from exc

    @staticmethod
    def _local_error(path: Path, exc: OSError) -> StoreIntegrityError:
        return StoreIntegrityError(
            _("cannot read the local copy {path} for upload: {error}").format(path=path, error=exc)
        )

    # -- calls and errors --------------------------------------------------------------------
    def _params(self, key: str, version_id: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id is not None:
            params["VersionId"] = version_id
        return params

    def _name(self, key: str, version_id: str | None) -> str:
        url = f"s3://{self.bucket}/{key}"
        if version_id is None:
            return url
        return _("{url} (version {version})").format(url=url, version=version_id)

    def _call(self, op: str, key: str | None, **params: Any) -> dict[str, Any]:
        try:
            resp: dict[str, Any] = getattr(self.client, op)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, op, key) from exc
        return resp

    def _call_optional(self, op: str, key: str, **params: Any) -> dict[str, Any] | None:
        """Like _call, but None when the object (or that version of it) does not exist."""
        try:
            resp: dict[str, Any] = getattr(self.client, op)(**params)
        except ClientError as exc:
            if _code(exc) in _MISSING or _status(exc) == 404:
                return None
            raise self._translate(exc, op, key) from exc
        except BotoCoreError as exc:
            raise self._translate(exc, op, key) from exc
        return resp

    def _translate(self, exc: Exception, op: str, key: str | None) -> StorageError:
        """One boto/botocore exception as one of our three, naming bucket, key and server."""
        if key:
            what = f"s3://{self.bucket}/{key}"
        else:
            what = _("bucket {bucket}").format(bucket=self.bucket)
        head = _("S3 {operation} on {target} at {server}").format(
            operation=op, target=what, server=self.where
        )
        if isinstance(exc, ClientError):
            code, status = _code(exc), _status(exc)
            why = _(_WHY[code]) if code in _WHY else _message(exc) or code
            msg = _("{head}: {why} ({code}, HTTP {status})").format(
                head=head, why=why, code=code, status=status
            )
            if code in _INTEGRITY:
                return S3IntegrityError(msg)
            if code in _TRANSIENT or status >= 500 or status in (408, 429):
                return S3Unavailable(msg)
            if status == 403 or code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
                return S3ConfigError(msg, hint=_(_CREDENTIALS_HINT))
            if code == "NoSuchBucket" or (status == 404 and key is None):
                return S3ConfigError(
                    _("{head}: the bucket does not exist ({code}, HTTP {status})").format(
                        head=head, code=code, status=status
                    ),
                    hint=_("Create the bucket (with Object Lock for evidence) or fix [s3] bucket."),
                )
            if code in _MISSING or status == 404:
                return S3IntegrityError(
                    _("{head}: the object is missing ({code}, HTTP {status})").format(
                        head=head, code=code, status=status
                    )
                )
            return S3ConfigError(msg)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError,
                            ProfileNotFound)):  # fmt: skip
            return S3ConfigError(
                _("{head}: no usable credentials: {error}").format(head=head, error=exc),
                hint=_(_CREDENTIALS_HINT),
            )
        if isinstance(exc, (ParamValidationError, InvalidConfigError)):
            return S3ConfigError(f"{head}: {exc}")
        if isinstance(exc, (FlexibleChecksumError, ChecksumError)):
            return S3IntegrityError(
                _("{head}: the bytes received do not match the server's checksum: {error}").format(
                    head=head, error=exc
                )
            )
        return S3Unavailable(f"{head}: {exc}")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Uploaded:
    checksum: str
    version_id: str | None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
