"""A checkpoint file whose catalog row was lost (a failed commit after the file was written)
gets its row back at the next checkpoint, but only if it is exactly what this dock signs."""

from __future__ import annotations

from sqlalchemy import text

from ingest.context import LOG_ORIGIN, Context
from tests.verify.tamper import Sql
from verify.audit.run import run_audit
from verify.log.events import EventType


def _codes(ctx: Context) -> list[str]:
    report = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                       origin=LOG_ORIGIN, quick=True)  # fmt: skip
    return [p.code for p in report.problems]


def _drop_rows(ctx: Context) -> None:
    with ctx.catalog.write() as txn:
        txn.s.execute(text("DELETE FROM checkpoint"))


def _viewed(ctx: Context) -> None:
    with ctx.catalog.write() as txn:
        ctx.custody.append(txn, type=EventType.VIEWED, actor="test", data={"what": "test"})


def test_lost_checkpoint_row_is_restored_from_its_own_signed_file(ingested: Context) -> None:
    """verify reports the row missing under a later checkpoint; the next checkpoint restores
    it; verify is clean."""
    _viewed(ingested)
    ingested.checkpoint()  # files at 13 and 14: the row of 13 cannot be a commit cut short
    _drop_rows(ingested)
    assert "checkpoint-row-missing" in _codes(ingested)
    _viewed(ingested)
    ingested.checkpoint()
    assert _codes(ingested) == []


def test_newest_checkpoint_file_whose_row_commit_was_cut_is_no_problem(
    ingested: Context, sql: Sql
) -> None:
    """The file is synced before its row commits: a power cut between them leaves the newest
    file without a row, which verify accepts (signature and root checked) and the next
    checkpoint restores."""
    _viewed(ingested)
    ingested.checkpoint()
    sql("DELETE FROM checkpoint WHERE size = 14")
    assert _codes(ingested) == []
    _viewed(ingested)
    ingested.checkpoint()
    with ingested.catalog.read() as txn:
        assert {cp.size for cp in txn.log.checkpoints()} == {13, 14, 15}


def test_checkpoint_file_that_is_not_ours_for_that_tree_gets_no_row(ingested: Context) -> None:
    """A file that differs from what this dock signs for that size is never adopted."""
    folder = ingested.store.root / "checkpoints"
    path = sorted(folder.glob("*.note"))[0]
    _drop_rows(ingested)
    path.chmod(0o644)
    path.write_text(path.read_text().replace("\n\n", "\nextra\n\n", 1))
    _viewed(ingested)
    ingested.checkpoint()
    with ingested.catalog.read() as txn:
        sizes = {cp.size for cp in txn.log.checkpoints()}
    assert int(path.name.split(".")[0]) not in sizes
    assert _codes(ingested) != []
