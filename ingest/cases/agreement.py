"""An offload report is made only from a catalog that agrees with its custody log (issue 14)."""

from __future__ import annotations

from i18n import N_, _, n_
from ingest.cases.overdue import OverdueReport
from ingest.context import Context
from ingest.errors import EXIT_FAILURE, IngestError
from verify.audit.facts import disagreements


class CatalogDisagrees(IngestError):
    """The catalog's facts about the reported items differ from their custody events."""

    code = "catalog-disagrees"
    exit_code = EXIT_FAILURE
    hint = N_(
        "The catalog was edited outside evidock: this report cannot be trusted. Run "
        "'evidock verify' for every difference and hand it to the evidence custodian."
    )


def require_agreement(ctx: Context, report: OverdueReport) -> None:
    """Raise ``CatalogDisagrees`` naming the first problems when the catalog's facts about the
    items ``report`` lists (and those the log flagged late or excused) disagree with the log."""
    rows = report.late + report.late_excused + report.pending + report.pending_excused
    with ctx.catalog.read() as txn:
        problems = disagreements(txn, sorted({r.item.item_id for r in rows}))
    if problems:
        shown = "; ".join(f"[{p.code}] {p.message}" for p in problems[:3])
        if len(problems) > 3:
            rest = len(problems) - 3
            shown = n_("{shown} (and {n} more)", "{shown} (and {n} more)", rest).format(
                shown=shown, n=rest
            )
        raise CatalogDisagrees(
            _(
                "the catalog disagrees with its custody log for the items of this report: "
                "{problems}"
            ).format(problems=shown)
        )
