"""Building a package: the BagIt bag of an export or of an archived case (issue 17).

Order matters, because the bag proves what it holds with the custody log:

1. originals are streamed from the store into ``data/originals/`` and hashed on the way (a
   byte that changed in the store stops the build: the package never carries it);
2. view copies are made from the originals (``burn_in_copy``) and each is recorded with a
   ``transcoded`` event (kind ``view-copy``: its sha256 and its original's);
3. a checkpoint is taken, so that the log signed covers every event the package names;
4. ``custody/`` gets those events with their inclusion proofs, the signed note, its body and
   signature as files, the keys, cosignatures and timestamp token;
5. ``custody/files.json``, VERIFY.md, verify_bag.py, receipt.pdf, then the bag's tag files.

The caller records what was built (``exported`` or ``case_archived``) with the package's sha256.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from i18n import N_, _, n_
from ingest.context import LOG_ORIGIN, Context
from ingest.errors import UsageError
from ingest.export.fonts import cjk_font
from ingest.export.pdf import render_av_index_pdf, render_receipt
from ingest.export.receipt import (
    IndexRow,
    Receipt,
    ReceiptFile,
    purpose_label,
    write_av_index_csv,
)
from ingest.media.kinds import media_kind
from ingest.media.transcode import burn_in_copy, view_copy_suffix
from storage.blobs.localstore import LocalStore
from storage.catalog.derived import DerivedOps
from storage.catalog.fixity import fixity_failed_items
from storage.catalog.session import Transaction
from storage.records import Event, Item
from verify.errors import VerifyError
from verify.log.events import EventType, data_time
from verify.package import verify_bag
from verify.package.bag import BagWriter, Entry, partial_of, publish
from verify.package.custody import custody_files
from verify.package.readme import verify_md
from verify.package.verify_bag import FILES
from verify.proofs import covering_checkpoint, prove_events, signed_tree, trust_evidence

logger = logging.getLogger(__name__)

VIEW_COPY = "view-copy"
PROXY = "proxy"  # the review proxy's kind in derived_media (ingest.jobs.proxies.PROXY)
CASE_EVENT_TYPES = ("case_opened", "case_closed", "case_archived", "activity_added",
                    "gaps_accepted")  # fmt: skip
_EXT = re.compile(r"\.([A-Za-z0-9]{1,8})$")


class PackageRefused(UsageError):
    code = "package-refused"


class PackageIntegrityError(VerifyError):
    code = "package-integrity"
    hint = N_(
        "An original no longer matches its hash in the store: nothing was exported. Run "
        "'evidock verify' and hand the report to the evidence custodian."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """What goes into one package."""

    package_id: str  # External-Identifier, e.g. "evidock-export-12"
    case_number: str | None
    items: tuple[int, ...]
    originals: bool
    copies: bool
    proxies: bool = False  # an archive keeps the review proxies too
    recipient: str
    purpose: str
    requested_by: str
    approved_by: str
    approved_at: datetime | None
    export_id: int | None = None  # its request/approval events go into the package
    index: tuple[IndexRow, ...] = ()  # an archive's A/V index (CSV and PDF in data/index/)
    override_fixity: str | None = None  # the reason, when items whose fixity failed may go
    originals_from: Path | None = None  # an archived case's bag (zip): its originals, not the store


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    path: Path
    sha256: str
    is_zip: bool
    checkpoint_size: int
    files: tuple[ReceiptFile, ...]
    events: int
    overridden: tuple[int, ...] = ()  # items whose last fixity check failed
    copies: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    stored: dict[str, Any] = field(default_factory=dict)  # where an archive is kept
    staged: Path | None = None  # not published yet: the package is here until publish_package

    def event_data(self) -> dict[str, Any]:
        """What ``exported`` / ``case_archived`` record of the package."""
        return {
            "package_sha256": self.sha256,
            "package": "zip" if self.is_zip else "directory",
            "sha256_of": "the zip file" if self.is_zip else "tagmanifest-sha256.txt",
            "path": str(self.path),
            "checkpoint_size": self.checkpoint_size,
            "files": len(self.files),
            "custody_events": self.events,
            **self.stored,
        }


def file_name(item: Item, sha256: str, suffix: str) -> str:
    """``<item id>-<sha256 prefix>.<ext>``: never a name the device supplied (only a short
    alphanumeric extension of it survives)."""
    return f"{item.id}-{sha256[:16]}{suffix}"


def original_suffix(item: Item) -> str:
    m = _EXT.search(item.original_path_display)
    return f".{m.group(1).lower()}" if m else ".bin"


def copy_lines(spec: Spec, day: str) -> list[str]:
    """What is burned into a view copy: recipient, case, date, purpose; in the language of
    whoever builds it, like the package's receipt (pure but for that)."""
    case = _("case {case}").format(case=spec.case_number) if spec.case_number else spec.package_id
    return [spec.recipient, case, day, _("for {purpose} only").format(
        purpose=purpose_label(spec.purpose))]  # fmt: skip


def build_package(
    ctx: Context, spec: Spec, out: Path, *, now: datetime, publish: bool = True
) -> Built:
    """Write the bag of ``spec`` to ``out`` (a new folder, or ``*.zip``). Without ``publish``
    it is left staged (``Built.staged``) for ``publish_package`` once it is recorded."""
    if out.exists():
        raise PackageRefused(
            _("{path} exists already").format(path=out),
            hint=_(
                "Give a new folder or a new .zip name: a package is never written over another."
            ),
        )
    if not out.parent.is_dir():
        raise PackageRefused(_("no folder {path}").format(path=out.parent),
                             hint=_("Create the folder first."))  # fmt: skip
    with ctx.catalog.read() as txn:
        items = txn.items(ids=list(spec.items))
        failed = sorted(fixity_failed_items(txn, list(spec.items)))  # issue 18's one rule
        proxies = DerivedOps(txn).for_items(list(spec.items)) if spec.proxies else {}
    if failed and not spec.override_fixity:
        raise PackageRefused(
            n_(
                "the last fixity check failed for item {items}: it cannot be exported",
                "the last fixity check failed for items {items}: they cannot be exported",
                len(failed),
            ).format(items=", ".join(f"#{i}" for i in failed)),
            hint=_(
                "Restore them from a replica first, or build with --override-fixity "
                "--reason 'why' (recorded in the custody event)."
            ),
        )
    stale = partial_of(out)
    if stale.exists():  # a build killed before it was recorded: never disclosed, not evidence
        logger.warning("removing an unrecorded package left by a killed build path=%s", stale)
        if stale.is_dir():
            shutil.rmtree(stale)
        else:
            stale.unlink()
    writer = BagWriter(out)
    try:
        built = _write(ctx, spec, writer, items, proxies, now=now, publish=publish)
    except BaseException:
        writer.abort()
        raise
    return replace(built, overridden=tuple(failed))


def _write(
    ctx: Context,
    spec: Spec,
    writer: BagWriter,
    items: Sequence[Item],
    proxies: dict[int, list[Any]],
    *,
    now: datetime,
    publish: bool,
) -> Built:
    store = ctx.store
    files: list[ReceiptFile] = []
    described: list[dict[str, Any]] = []
    copies: list[dict[str, Any]] = []

    def payload(entry: Entry, item: Item, role: str, source: str | None = None) -> None:
        start = data_time(item.facts.recorded_start)
        files.append(ReceiptFile(path=entry.path, sha256=entry.sha256, size=entry.size,
                                 role=role, item_id=item.id, recorded_start=start))  # fmt: skip
        described.append({"path": entry.path, "role": role, "item": item.id,
                          "sha256": entry.sha256, "size": entry.size,
                          "source_sha256": source, "recorded_start": start})  # fmt: skip

    if spec.originals:
        source = None if spec.originals_from is None else zipfile.ZipFile(spec.originals_from)
        try:
            for item in items:
                entry = _original(writer, store, item, source)
                payload(entry, item, "original")
        finally:
            if source is not None:
                source.close()
    if spec.proxies:
        derived = LocalStore(ctx.settings.store_dir / "derived")
        for item in items:
            for d in proxies.get(item.id, []):
                if d.kind != PROXY or not derived.exists(d.sha256):
                    continue
                name = f"data/proxies/{file_name(item, d.sha256, '.' + _proxy_ext(d.params))}"
                with derived.path_for(d.sha256).open("rb", buffering=0) as f:
                    entry = writer.add_stream(name, f)
                payload(entry, item, "proxy", item.sha256)
    if spec.copies:
        copies = _view_copies(ctx, spec, writer, items, now=now)
        by_id = {i.id: i for i in items}
        for c in copies:
            payload(c["entry"], by_id[c["item"]], VIEW_COPY, c["source_sha256"])
    if spec.index:
        with tempfile.TemporaryDirectory(prefix="evidock-index-") as tmp:
            csv_path, pdf_path = Path(tmp) / "av-index.csv", Path(tmp) / "av-index.pdf"
            write_av_index_csv(spec.index, csv_path)
            render_av_index_pdf(spec.case_number or "", spec.index, pdf_path)
            for index_file in (csv_path, pdf_path):
                entry = writer.add_file(f"data/index/{index_file.name}", index_file)
                described.append({"path": entry.path, "role": "index", "item": None,
                                  "sha256": entry.sha256, "size": entry.size})  # fmt: skip
    ctx.checkpoint()  # the signed log covers the view copies' events too
    with ctx.catalog.read() as txn:
        events = _events(txn, spec)
        last = max((e.seq for e in events), default=0)
        cp_row = covering_checkpoint(txn.log.checkpoints(), dock=ctx.dock.name, last_seq=last)
        if cp_row is None:
            raise PackageIntegrityError(
                _("no checkpoint of dock {dock} covers event #{seq}").format(
                    dock=ctx.dock.name, seq=last
                )
            )
        cp = signed_tree(txn, cp_row, verifier_key=ctx.key.verifier, origin=LOG_ORIGIN)
        proven = prove_events(txn, events, cp)
        witness_keys = tuple(w.key for w in ctx.settings.trust.witnesses)
        trust = trust_evidence(txn, cp_row, witness_keys=witness_keys)
    for path, data in custody_files(proven, note=cp_row.note, verifier_key=ctx.key.verifier,
                                    trust=trust):  # fmt: skip
        writer.add_bytes(path, data)
    writer.add_bytes(FILES, json.dumps(described, ensure_ascii=False, indent=1).encode("utf-8"))
    readme = verify_md(key_name=ctx.key.name, verifier_key=ctx.key.verifier,
                       is_zip=writer.is_zip, has_tsr=trust.timestamp is not None)  # fmt: skip
    writer.add_bytes("VERIFY.md", readme.encode("utf-8"))
    writer.add_file("verify_bag.py", Path(verify_bag.__file__))
    office = ctx.settings.office or ctx.dock.name
    receipt = Receipt(
        package_id=spec.package_id, case_number=spec.case_number, recipient=spec.recipient,
        purpose=spec.purpose, approved_by=spec.approved_by,
        approved_at=ctx_time(spec.approved_at), requested_by=spec.requested_by,
        exported_at=ctx_time(now), office=office, checkpoint_size=cp.size, files=tuple(files),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="evidock-receipt-") as tmp:
        render_receipt(receipt, Path(tmp) / "receipt.pdf")
        writer.add_file("receipt.pdf", Path(tmp) / "receipt.pdf")
    info = [
        ("Source-Organization", office),
        ("External-Identifier", spec.package_id),
        (
            "External-Description",
            _("evidock evidence package: {purpose}").format(purpose=purpose_label(spec.purpose)),
        ),
        ("Case-Number", spec.case_number or "-"),
        ("Recipient", spec.recipient),
        ("Purpose", spec.purpose),
        ("Requested-By", spec.requested_by),
        ("Approved-By", spec.approved_by),
        ("Approved-At", ctx_time(spec.approved_at)),
        ("Exporting-Office", office),
        ("Custody-Checkpoint-Size", str(cp.size)),
        ("Custody-Events", str(len(proven))),
        ("Verifier-Key", ctx.key.verifier),
    ]
    sha = writer.finish(
        info, bagging_date=now.astimezone(ctx.settings.zone).date(), publish=publish
    )
    logger.info("package built id=%s sha256=%s files=%d events=%d", spec.package_id, sha,
                len(files), len(proven))  # fmt: skip
    return Built(
        path=writer.out,
        sha256=sha,
        is_zip=writer.is_zip,
        checkpoint_size=cp.size,
        files=tuple(files),
        events=len(proven),
        copies=tuple({k: v for k, v in c.items() if k != "entry"} for c in copies),
        staged=None if publish else writer.partial,
    )


def publish_package(built: Built) -> None:
    """Put a staged package under its name (after its ``exported`` events are committed)."""
    if built.staged is not None:
        publish(built.staged, built.path)


def ctx_time(t: datetime | None) -> str:
    return "-" if t is None else t.isoformat(timespec="seconds")


def _proxy_ext(params: str) -> str:
    try:
        args = json.loads(params).get("args", [])
    except (ValueError, AttributeError):
        return "bin"
    last = str(args[-1]) if args else ""
    m = _EXT.search(last)
    return m.group(1).lower() if m else "mp4"


def _original(
    writer: BagWriter, store: LocalStore, item: Item, archive: zipfile.ZipFile | None
) -> Entry:
    """Stream one original into the bag, from the store or from an archived case's bag, and
    stop if its bytes are not those its custody events name."""
    name = f"data/originals/{file_name(item, item.sha256, original_suffix(item))}"
    if archive is not None:
        try:
            with archive.open(name) as f:
                entry = writer.add_stream(name, f)  # type: ignore[arg-type]
        except KeyError as e:
            raise PackageRefused(
                _("the archive package lacks the original of item #{item}").format(item=item.id),
                hint=_("It was linked after the archive; request it with --item from the store."),
            ) from e
    else:
        path = store.path_for(item.sha256)
        if not path.is_file():
            raise PackageRefused(
                _(
                    "the original of item #{item} is not in the local store (released to S3?)"
                ).format(item=item.id),
                hint=_("Build the package on a dock whose local store holds it."),
            )
        with path.open("rb", buffering=0) as f:
            entry = writer.add_stream(name, f)
    if entry.sha256 != item.sha256 or entry.size != item.size:
        if archive is not None:
            found = _(
                "item #{item}: the archive holds sha256 {found} ({found_size} bytes), its "
                "custody events name {sha256} ({size} bytes)"
            )
        else:
            found = _(
                "item #{item}: the store holds sha256 {found} ({found_size} bytes), its "
                "custody events name {sha256} ({size} bytes)"
            )
        raise PackageIntegrityError(
            found.format(
                item=item.id,
                found=entry.sha256,
                found_size=entry.size,
                sha256=item.sha256,
                size=item.size,
            )
        )
    return entry


def _view_copies(
    ctx: Context, spec: Spec, writer: BagWriter, items: Sequence[Item], *, now: datetime
) -> list[dict[str, Any]]:
    """Make, add and record (``transcoded``, kind view-copy) one view copy per item."""
    font = cjk_font()
    day = now.astimezone(ctx.settings.zone).date().isoformat()
    lines = copy_lines(spec, day)
    made: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="evidock-copies-") as tmp:
        for item in items:
            kind = media_kind(item.facts)
            if kind is None:
                raise PackageRefused(
                    _(
                        "item #{item} is not audio, video or a photo: no view copy can be made "
                        "of it"
                    ).format(item=item.id),
                    hint=_("Request the originals for it (--originals)."),
                )
            suffix = view_copy_suffix(kind)
            dest = Path(tmp) / f"{item.id}{suffix}"
            burn_in_copy(ctx.store.path_for(item.sha256), dest, lines=lines, kind=kind,
                         font=font, timeout_s=ctx.settings.worker.timeout_s)  # fmt: skip
            with dest.open("rb", buffering=0) as f:
                name = f"data/copies/{item.id}-{item.sha256[:16]}-view{suffix}"
                entry = writer.add_stream(name, f)
            dest.unlink()
            made.append({"item": item.id, "entry": entry, "path": entry.path,
                         "sha256": entry.sha256, "source_sha256": item.sha256})  # fmt: skip
    with ctx.catalog.write() as txn:
        for c in made:
            ctx.custody.append(
                txn,
                type=EventType.TRANSCODED,
                actor=spec.approved_by,
                item=c["item"],
                data={
                    "kind": VIEW_COPY,
                    "source_sha256": c["source_sha256"],
                    "derivative_sha256": c["sha256"],
                    "size": c["entry"].size,
                    "tool": "ffmpeg",
                    "lines": lines,
                    "store": "package",
                    "package": spec.package_id,
                    "path": c["path"],
                },
            )
    return made


def _events(txn: Transaction, spec: Spec) -> list[Event]:
    """Every custody event of the items, of their case, and of this export's request."""
    found: dict[int, Event] = {}
    for i in spec.items:
        found.update((e.seq, e) for e in txn.log.events_for_item(i))
    if spec.case_number is not None:
        for e in txn.log.events_typed(CASE_EVENT_TYPES, containing=spec.case_number):
            if json.loads(e.data).get("case") == spec.case_number:
                found[e.seq] = e
    if spec.export_id is not None:
        types = (EventType.EXPORT_REQUESTED.value, EventType.EXPORT_APPROVED.value)
        for e in txn.log.events_typed(types, containing=f'"export":{spec.export_id}'):
            if json.loads(e.data).get("export") == spec.export_id:
                found[e.seq] = e
    return [found[s] for s in sorted(found)]
