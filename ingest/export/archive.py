"""The archive package of a case (Art. 27): the same bag as an export, for the whole case,
kept write-once in the evidence store.

The bag holds the case's originals, their review proxies, the case's and its items' custody
events with proofs, and the A/V index of the case file (CSV and PDF). It is written as a zip
to ``store/archives/<sha256>.zip`` (read-only, named by its own hash, never replaced) and,
with S3 configured, to ``archives/sha256/<sha256>`` under Object Lock. ``case_archived``
records its sha256; ``archived_bag`` finds it again, and ``export build`` of an archived case
reads the originals from it alone.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from i18n import N_, _
from ingest.context import Context
from ingest.export.build import Built, PackageIntegrityError, Spec, build_package, file_name
from ingest.export.build import original_suffix as suffix_of
from ingest.export.receipt import IndexRow
from storage.blobs.durable import fsync_dir, makedirs_durable
from storage.blobs.hashing import sha256_path
from storage.catalog.caselinks import LinkOps
from storage.catalog.cases import CaseOps
from storage.catalog.session import Transaction

ARCHIVE_RECIPIENT = N_("the office's archive")  # translated when the package is built
ARCHIVE_PURPOSE = "归档"  # Art. 27


def archives_dir(ctx: Context) -> Path:
    return ctx.store.root / "archives"


def index_rows(txn: Transaction, number: str) -> tuple[tuple[int, ...], tuple[IndexRow, ...]]:
    """The case's live-linked items and its A/V index: one row per link."""
    case = CaseOps(txn).case(number)
    links = LinkOps(txn).links(case.id, live_only=True)
    ids = tuple(sorted({k.item_id for k in links}))
    items = {i.id: i for i in txn.items(ids=list(ids))} if ids else {}
    rows = []
    for k in sorted(links, key=lambda k: (k.item_id, k.id)):
        i = items[k.item_id]
        rows.append(
            IndexRow(
                item_id=i.id,
                stage=k.stage,
                record_type=k.record_type or "",
                start=_iso(i.facts.recorded_start),
                end=_iso(i.facts.recorded_end),
                officer=i.officer_badge or "",
                sha256=i.sha256,
                file=f"data/originals/{file_name(i, i.sha256, suffix_of(i))}",
            )
        )
    return ids, tuple(rows)


def _iso(t: Any) -> str | None:
    return None if t is None else str(t.isoformat())


def build_archive(ctx: Context, number: str, *, actor: str) -> Built:
    """Build the case's bag and keep it write-once; returns what ``case_archived`` records."""
    with ctx.catalog.read() as txn:
        ids, rows = index_rows(txn, number)
    now = ctx.clock()
    spec = Spec(package_id=f"evidock-archive-{number}", case_number=number, items=ids,
                originals=True, copies=False, proxies=True, recipient=_(ARCHIVE_RECIPIENT),
                purpose=ARCHIVE_PURPOSE, requested_by=actor, approved_by=actor, approved_at=now,
                index=rows)  # fmt: skip
    folder = archives_dir(ctx)
    makedirs_durable(folder)
    building = folder / f"building-{os.getpid()}-{now:%Y%m%dT%H%M%S%f}.zip"
    built = build_package(ctx, spec, building, now=now)
    final = folder / f"{built.sha256}.zip"
    try:
        os.chmod(building, 0o444)
        os.link(building, final)  # never over another archive
    except FileExistsError:
        pass  # the same bytes (named by their hash) are there already
    finally:
        with contextlib.suppress(FileNotFoundError):
            building.unlink()
        fsync_dir(folder)
    size = final.stat().st_size
    data: dict[str, Any] = {"path": str(final), "store_key": f"archives/{final.name}"}
    if ctx.s3 is not None:
        key = ctx.s3.archive_key(built.sha256)
        obj = ctx.s3.put_file(key, final, sha256=built.sha256, size=size, now=now)
        data.update(s3_key=key, s3_version=obj.version_id, s3_lock=obj.lock_mode)
    return replace(built, path=final, stored=data)


def archived_bag(ctx: Context, txn: Transaction, number: str) -> tuple[Path, str] | None:
    """The archive package (path, sha256) the last ``case_archived`` event of ``number``
    names, when this store keeps it."""
    found = None
    for ev in txn.log.events_typed(("case_archived",), containing=number):
        data = json.loads(ev.data)
        if data.get("case") == number and data.get("package_sha256"):
            found = str(data["package_sha256"])
    if found is None:
        return None
    path = archives_dir(ctx) / f"{found}.zip"
    return (path, found) if path.is_file() else None


def check_archive(path: Path, sha256: str) -> None:
    """The archive's bytes are still those ``case_archived`` recorded."""
    got, _size = sha256_path(path)
    if got != sha256:
        raise PackageIntegrityError(
            _(
                "archive package {name}: sha256 {found}, its case_archived event names {sha256}"
            ).format(name=path.name, found=got, sha256=sha256)
        )
