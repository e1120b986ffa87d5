"""Issue 14's gauges: A/V requirement gaps from the catalog, and catalog facts that disagree
with the custody log from the nightly verify's textfile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.context import Context
from ingest.metrics.audit import MISMATCH, is_catalog_log_mismatch, verify_families
from ingest.metrics.catalog import catalog_families
from tests.cases.conftest import Clip, dock, lay_out, register
from tests.cases.test_cases import Cli, _activity, _open_case
from verify.audit.run import AuditReport, Checked
from verify.problems import Problem


def _gauge(ctx: Context, name: str, at: datetime) -> float | None:
    with ctx.catalog.read() as txn:
        [fam] = [f for f in catalog_families(txn, ctx, at=at) if f.name == name]
    [(_, value)] = fam.samples
    return value


def test_av_gap_gauge_counts_activities_linked_video_does_not_cover(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """An inspection a 2 s clip covers a third of, its recordings due: one gap; a sampling
    the clip covers whole: none."""
    clip = clips["old"]
    _open_case(ctx, cli)
    register(ctx, badge="J1", serial="BWC-1")
    dock(ctx, lay_out(tmp_path / "cam", ("A.MP4", clip)), "BWC-1")
    _activity(cli, "on-site-inspection", "J1", clip.start, clip.start + timedelta(seconds=6))
    _activity(cli, "sampling", "J1", clip.start, clip.end)
    assert _gauge(ctx, "evidock_av_requirement_gaps", ctx.clock()) == 1
    before_due = clip.start + timedelta(hours=12)  # recordings not due yet: not counted
    assert _gauge(ctx, "evidock_av_requirement_gaps", before_due) == 0


@pytest.mark.parametrize(
    ("code", "counts"),
    [
        ("item-fact-mismatch", True),
        ("item-facts", True),
        ("offload-check-missing", True),
        ("excuse-forged", True),
        ("link-without-event", True),
        ("case-stage-mismatch", True),
        ("durable-at-mismatch", True),
        ("hash-mismatch", True),
        ("chain-broken", False),
        ("fixity-failed", False),
    ],
)
def test_mismatch_codes_are_recognised_generically(code: str, counts: bool) -> None:
    """Codes ending in -mismatch or naming a catalog fact count; log and fixity ones do not."""
    assert is_catalog_log_mismatch(code) is counts


def test_verify_textfile_counts_catalog_log_mismatches() -> None:
    """Three mismatching facts (one a run of two) and a broken chain: the gauge says 3."""
    report = AuditReport(
        problems=(
            Problem(code="item-fact-mismatch", subject="item 1", expected="a", found="b"),
            Problem(code="link-missing-event", subject="case x", expected="", found="", count=2),
            Problem(code="chain-broken", subject="log", expected="", found=""),
        ),
        checked=Checked(
            log_size=3,
            events=3,
            checkpoint_rows=0,
            checkpoint_files=0,
            items=1,
            objects=1,
            objects_rehashed=0,
            bytes_rehashed=0,
            derived=0,
            derived_rehashed=0,
            quick=True,
            item=None,
        ),
        fixity=(),
    )
    fams = verify_families(
        report, finished_at=datetime(2026, 12, 6, tzinfo=UTC), duration_s=1.0, previous={}
    )
    [mismatch] = [f for f in fams if f.name == MISMATCH]
    assert mismatch.samples == (((), 3.0),)
