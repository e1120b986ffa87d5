"""Archive packages (issue 17, Art. 27): 'case archive' builds the case's bag, keeps it
write-once in the store, records its sha256, and an archived case is exported from it alone."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import zipfile
from pathlib import Path

from ingest.context import Context
from ingest.export.archive import build_archive
from ingest.export.requests import approve_export, request_export
from ingest.export.run import build_export
from storage.blobs.s3store import S3Store
from storage.records import Person
from tests.cases.conftest import Clip
from tests.cases.test_archive import _inspection_a_third_covered
from tests.cases.test_cases import CASE, Cli
from tests.proxies.conftest import drain
from verify.package.verify_bag import check_bag

CUSTODIAN = Person(id=3, username="zhao.custodian", name="赵保管", badge=None, unit="装备科",
                   roles=frozenset({"custodian"}), os_user=None, disabled=False)  # fmt: skip


def _archived(ctx: Context, cli: Cli, clip: Clip, tmp_path: Path) -> dict[str, object]:
    _inspection_a_third_covered(ctx, cli, clip, tmp_path)
    drain(ctx)
    assert cli("case", "close", CASE)[0] == 0
    code, text = cli("--json", "case", "archive", CASE, "--accept-gaps", "--reason", "fell")
    assert code == 0
    doc: dict[str, object] = json.loads(text)
    return doc


def test_archive_keeps_the_case_bag_write_once_and_records_its_sha256(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """store/archives/<sha256>.zip, read-only; originals, proxy, A/V index; it verifies; the
    case_archived event names the zip's own sha256."""
    doc = _archived(ctx, cli, clips["old"], tmp_path)
    package = doc["package"]
    assert isinstance(package, dict)
    path = Path(package["path"])
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert path == ctx.store.root / "archives" / f"{sha}.zip"
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    assert any(n.startswith("data/originals/1-") for n in names)
    assert any(n.startswith("data/proxies/1-") for n in names)
    assert {"data/index/av-index.csv", "data/index/av-index.pdf", "receipt.pdf"} <= set(names)
    assert check_bag(path, ctx.key.verifier)[0] == []
    with ctx.catalog.read() as txn:
        [ev] = txn.log.events_of_type("case_archived")
    data = json.loads(ev.data)
    assert data["case"] == CASE and data["package_sha256"] == sha and data["package"] == "zip"


def test_an_archived_case_is_exported_from_its_bag_alone(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """With the original gone from the store, the export reads it from the archive package."""
    _archived(ctx, cli, clips["old"], tmp_path)
    with ctx.catalog.read() as txn:
        item = txn.item(1)
    gone = ctx.store.path_for(item.sha256)
    os.chmod(gone.parent, 0o755)
    gone.unlink()
    with ctx.catalog.write() as txn:
        e = request_export(txn, ctx, case=CASE, items=[], recipient="复议机关", purpose="复议",
                           originals=True, copies=False, actor="person:x")  # fmt: skip
        approve_export(txn, ctx, e.id, actor=CUSTODIAN.actor, person=CUSTODIAN)
    out = tmp_path / "from-archive"
    build_export(ctx, e.id, out, actor=CUSTODIAN.actor)
    assert check_bag(out, ctx.key.verifier)[0] == []
    (f,) = (out / "data" / "originals").iterdir()
    assert hashlib.sha256(f.read_bytes()).hexdigest() == item.sha256
    with ctx.catalog.read() as txn:
        [ev] = txn.log.events_of_type("exported")
    assert json.loads(ev.data)["originals_from"].startswith("archive package ")


def test_with_s3_the_archive_package_is_kept_under_object_lock(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path, s3: S3Store
) -> None:
    """archives/sha256/<sha256> in the bucket, COMPLIANCE retention, the same bytes."""
    _inspection_a_third_covered(ctx, cli, clips["old"], tmp_path)
    drain(ctx)
    built = build_archive(dataclasses.replace(ctx, s3=s3), CASE, actor="user:test")
    key = s3.archive_key(built.sha256)
    assert built.event_data()["s3_key"] == key
    found = s3.head(key)
    assert found is not None and found.lock_mode == "COMPLIANCE"
    assert s3.rehash(key, found.version_id) == (built.sha256, built.path.stat().st_size)
