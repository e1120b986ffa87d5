"""Building an approved export and recording it: one ``exported`` event per item disclosed,
each with the package's own sha256, in the transaction that marks the export built."""

from __future__ import annotations

from pathlib import Path

from i18n import _
from ingest.context import Context
from ingest.export.archive import archived_bag, check_archive
from ingest.export.build import Built, PackageRefused, Spec, build_package, publish_package
from ingest.export.requests import export_data
from storage.catalog.exports import Export, ExportOps
from verify.log.events import EventType
from verify.package.bag import partial_of, publish


def build_export(
    ctx: Context, export_id: int, out: Path, *, actor: str, override_reason: str | None = None
) -> tuple[Export, Built]:
    with ctx.catalog.read() as txn:
        export = ExportOps(txn).get(export_id)
    if export.approved_at is None or export.approved_by is None:
        raise PackageRefused(
            _("export #{export} is not approved yet").format(export=export.id),
            hint=_(
                "An approver or the evidence custodian approves it: evidock export approve {export}"
            ).format(export=export.id),
        )
    if export.built_at is not None:
        _publish_recorded(export)
        raise PackageRefused(
            _("export #{export} was built already, at {built} (sha256 {sha256})").format(
                export=export.id, built=export.built_at.isoformat(), sha256=export.package_sha256
            ),
            hint=_("A package is built once; request a new export for another copy."),
        )
    bag = None
    if export.case_number is not None and export.originals:
        with ctx.catalog.read() as txn:
            archived = archived_bag(ctx, txn, export.case_number)
        if archived is not None:  # Art. 27: an archived case is exported from its bag
            check_archive(*archived)
            bag = archived[0]
    spec = Spec(
        package_id=f"evidock-export-{export.id}",
        case_number=export.case_number,
        items=export.items,
        originals=export.originals,
        copies=export.copies,
        recipient=export.recipient,
        purpose=export.purpose,
        requested_by=export.requested_by,
        approved_by=export.approved_by,
        approved_at=export.approved_at,
        export_id=export.id,
        override_fixity=override_reason,
        originals_from=bag,
    )
    now = ctx.clock()
    # recorded, then published: a package nobody recorded is never where anyone finds it
    built = build_package(ctx, spec, out.absolute(), now=now, publish=False)
    data = {**export_data(export), **built.event_data()}
    if bag is not None:
        data["originals_from"] = f"archive package {bag.name}"
    if built.overridden:
        data["fixity_override"] = {"items": list(built.overridden), "reason": override_reason}
    with ctx.catalog.write() as txn:
        export = ExportOps(txn).built(export.id, sha256=built.sha256, path=str(built.path),
                                      now=now)  # fmt: skip
        for item in export.items:
            ctx.custody.append(txn, type=EventType.EXPORTED, actor=actor, item=item, data=data)
    publish_package(built)
    return export, built


def _publish_recorded(export: Export) -> None:
    """A build killed between its record and its publication left the recorded package
    staged: put it under the recorded name now (the refusal then says where it is)."""
    if export.path is None:
        return
    final = Path(export.path)
    staged = partial_of(final)
    if staged.exists() and not final.exists():
        publish(staged, final)
