"""S3 objects against the catalog (issue 8): each recorded version is still there with its
size, checksum, our SHA-256, its Object Lock and the legal hold the catalog says it has; with
``full`` its bytes are downloaded and re-hashed. Published checkpoints are compared with the
catalog's signed notes.

The object store is read only; nothing is repaired. An unreachable store is one problem
(``s3-unreachable``), not a finding about the objects.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from i18n import _, n_
from storage.blobs.s3objects import S3Object, checksum_matches
from storage.catalog.objects import ORIGINAL, CheckpointNote
from storage.errors import S3IntegrityError, StorageError
from storage.records import StoredObject
from verify.audit.fixity import Fixity, ItemIndex
from verify.problems import Problem, Problems

if TYPE_CHECKING:  # boto3 loads only where S3 is configured
    from storage.blobs.s3store import S3Store

logger = logging.getLogger(__name__)

S3 = "s3"


def check_s3(
    objects: Sequence[StoredObject],
    checkpoints: Sequence[CheckpointNote],
    s3: S3Store,
    index: ItemIndex,
    problems: Problems,
    *,
    s3_is_record: bool,
    full: bool,
    whole_store: bool,
) -> list[Fixity]:
    """Check every S3 object row (HEAD, or a full re-hash) and the published checkpoints."""
    mine = [o for o in objects if o.backend == S3]
    if s3_is_record:
        having = {o.sha256 for o in mine if o.role == ORIGINAL}
        for sha, ids in sorted(index.need_object.items()):
            if sha not in having:
                for item_id in ids:
                    problems.add(
                        Problem(
                            code="s3-item-missing",
                            subject=_("item #{item} (stored, S3 is the system of record)").format(
                                item=item_id
                            ),
                            expected=_("an S3 object with sha256 {sha256}").format(sha256=sha),
                            found=_("none in the catalog"),
                            item=item_id,
                        )
                    )
    results: list[Fixity] = []
    try:
        for o in mine:
            items = tuple(index.by_sha.get(o.sha256, ())) if o.role == ORIGINAL else ()
            try:
                fixity = _check_object(o, s3, items, problems, full=full)
            except S3IntegrityError as e:  # a finding about this object; the others go on
                problems.add(
                    _problem(o, items, "s3-object-changed", _("its recorded bytes"), str(e))
                )
                fixity = None
            if fixity is not None:
                results.append(fixity)
        if whole_store:
            for cp in checkpoints:
                _check_checkpoint(cp, s3, problems)
    except StorageError as e:  # unreachable, or it refuses this node: nothing more is known
        problems.add(
            Problem(
                code="s3-unreachable",
                subject=_("bucket {bucket}").format(bucket=s3.config.bucket),
                expected=_("an object store that answers and lets this node read its objects"),
                found=f"{e} [{e.code}]",
            )
        )
    return results


def _check_object(
    o: StoredObject, s3: S3Store, items: tuple[int, ...], problems: Problems, *, full: bool
) -> Fixity | None:
    """HEAD (and with ``full`` a download) of one object; its fixity when re-hashed."""
    found = s3.head(o.key, o.version_id)
    _judge(o, found, s3, items, problems)
    if not full or (o.role != ORIGINAL and found is None):
        return None
    sha: str | None = None
    size: int | None = None
    if found is not None:
        sha, size = s3.rehash(o.key, o.version_id)
        if (sha, size) != (o.sha256, o.size):
            problems.add(_problem(o, items, "s3-object-corrupt",
                                  _("sha256 {sha256}, {size} bytes").format(sha256=o.sha256,
                                                                            size=o.size),
                                  _("sha256 {sha256}, {size} bytes (downloaded)").format(
                                      sha256=sha, size=size)))  # fmt: skip
    if o.role != ORIGINAL:
        return None
    return Fixity(sha256=o.sha256, size=o.size, backend=S3, key=o.key, found_sha256=sha,
                  found_size=size, items=items)  # fmt: skip


def _check_checkpoint(cp: CheckpointNote, s3: S3Store, problems: Problems) -> None:
    key = s3.checkpoint_key(cp.name)
    gone = False
    try:
        body = s3.read_bytes(key)
    except S3IntegrityError as e:
        body, why = None, str(e)
    else:
        gone = body is None
        why = (
            _("no such object")
            if body is None
            else n_("{n} other byte", "{n} other bytes", len(body)).format(n=len(body))
        )
    if body == cp.note.encode("utf-8"):
        return
    problems.add(
        Problem(
            code="s3-checkpoint-missing" if gone else "s3-checkpoint-mismatch",
            subject=_("checkpoint {name} in the bucket ({key})").format(name=cp.name, key=key),
            expected=_("the signed note in the catalog, byte for byte"),
            found=why,
        )
    )


def _judge(
    o: StoredObject,
    found: S3Object | None,
    s3: S3Store,
    items: tuple[int, ...],
    problems: Problems,
) -> None:
    if found is None:
        problems.add(
            _problem(o, items, "s3-object-missing",
                     _("version {version} of {key}").format(version=o.version_id, key=o.key),
                     _("no such object or version"))
        )  # fmt: skip
        return
    expected = (o.size, o.checksum, o.sha256, o.version_id)
    same_checksum = o.checksum is None or (
        found.checksum_sha256 is not None and checksum_matches(o.checksum, found.checksum_sha256)
    )
    seen = (
        found.size,
        o.checksum if same_checksum else found.checksum_sha256,
        found.sha256 if found.sha256 is not None else _("(no x-amz-meta-sha256)"),
        found.version_id if o.version_id is not None else None,
    )
    if seen != expected:
        problems.add(
            _problem(o, items, "s3-object-changed",
                     _describe(*expected), _describe(*seen))
        )  # fmt: skip
    mode = s3.config.object_lock_mode
    if mode or o.lock_mode:
        want_mode = o.lock_mode or mode
        until_ok = found.retain_until is not None and (
            o.retention_until is None or found.retain_until >= o.retention_until
        )
        if found.lock_mode != want_mode or not until_ok:
            problems.add(
                _problem(o, items, "s3-lock-missing",
                         _("Object Lock {mode} until {until} or later").format(
                             mode=want_mode, until=_when(o.retention_until)),
                         _("{mode} until {until}").format(
                             mode=found.lock_mode or _("no lock"),
                             until=_when(found.retain_until)))
            )  # fmt: skip
    if o.role == ORIGINAL and found.legal_hold is not None and found.legal_hold != o.legal_hold:
        problems.add(
            _problem(o, items, "s3-legal-hold-mismatch",
                     _("legal hold ON (catalog)") if o.legal_hold
                     else _("legal hold OFF (catalog)"),
                     _("legal hold ON (bucket)") if found.legal_hold
                     else _("legal hold OFF (bucket)"))
        )  # fmt: skip


def _problem(
    o: StoredObject, items: tuple[int, ...], code: str, expected: str, found: str
) -> Problem:
    if items:
        subject = n_(
            "S3 object {key} of item {items}", "S3 object {key} of items {items}", len(items)
        ).format(key=o.key, items=", ".join(f"#{i}" for i in items))
    else:
        subject = _("S3 object {key} ({role})").format(key=o.key, role=o.role)
    return Problem(
        code=code,
        subject=subject,
        expected=expected,
        found=found,
        item=items[0] if items else None,
    )


def _describe(size: int, checksum: str | None, sha: str | None, version: str | None) -> str:
    return _("{size} bytes, checksum {checksum}, sha256 {sha256}, version {version}").format(
        size=size, checksum=checksum, sha256=sha, version=version
    )


def _when(t: datetime | None) -> str:
    return "-" if t is None else t.isoformat()
