"""A docking holds nothing per stored file when its caller takes each result as it comes
(issue 19: the peak memory of a dock ingesting 10,000 files stays that of one file).

Shown structurally, not by measuring memory: what the report, the tally and the end of the
docking keep, and that the CLI's output is the same as the one built from a full list."""

from __future__ import annotations

import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from ingest.cases.offload import measure, measure_brief
from ingest.context import DOCKING_CACHE_KIB, Context
from ingest.output import Output, RowSpill
from ingest.pipeline.results import FileCounts, FileOutcome, FileResult, Tally, count_files
from ingest.pipeline.run import ingest_device
from storage.catalog.offload import OffloadOps
from storage.catalog.session import Catalog

OUTCOMES = [FileOutcome.STORED, FileOutcome.ALREADY, FileOutcome.FAILED,
            FileOutcome.NOT_ACQUIRED, FileOutcome.ABANDONED]  # fmt: skip


def _result(n: int) -> FileResult:
    return FileResult(
        path=f"DCIM/100MEDIA/NOTE{n:04d}.TXT",
        result=OUTCOMES[n % len(OUTCOMES)],
        item=n,
        sha256=f"{n:064x}",
        size=n,
        flags=("time_from_mtime",) if n % 3 == 0 else (),
        reason="read error" if n % 5 == 2 else None,
    )


def test_a_tally_that_does_not_keep_counts_every_outcome_and_holds_no_result() -> None:
    """Tally(keep=False) after 10,000 results holds none of them, and counts as a full list."""
    results = [_result(n) for n in range(10_000)]
    tally = Tally(keep=False)
    for r in results:
        tally.add(r)
    assert tally.results == []
    counts = tally.counts()
    assert counts == FileCounts(
        seen=10_000, stored=2000, already=2000, failed=2000, not_acquired=2000, abandoned=2000,
        flagged=3334, bytes_stored=sum(r.size or 0 for r in results if r.result == "stored"),
    )  # fmt: skip
    kept = Tally()
    for r in results:
        kept.add(r)
    assert kept.results == results and kept.counts() == counts == count_files(tuple(results))


def test_a_docking_that_does_not_keep_files_reports_the_same_counts(
    ctx: Context, tmp_path: Path
) -> None:
    """ingest_device(keep_files=False): no file in the report, each one given to on_file, the
    summary and the outcome those of the files given."""
    camera = tmp_path / "camera"
    (camera / "DCIM").mkdir(parents=True)
    for n in range(12):
        (camera / "DCIM" / f"NOTE{n:04d}.TXT").write_bytes(f"note {n}\n".encode())
    (camera / "DCIM" / "EMPTY.TXT").write_bytes(b"")
    seen: list[FileResult] = []
    report = ingest_device(
        ctx, camera, serial="BWC-1", officer=None, actor="test", on_file=seen.append,
        keep_files=False,
    )  # fmt: skip
    assert report.files == ()
    assert len(seen) == 13 and report.counts == count_files(tuple(seen))
    assert report.summary()["stored"] == 13 and report.summary()["flagged"] == 13
    assert report.ok and report.outcome == "complete"
    again: list[FileResult] = []
    second = ingest_device(ctx, camera, serial="BWC-1", officer=None, actor="test",
                           on_file=again.append)  # fmt: skip
    assert second.counts is None and list(second.files) == again
    assert second.count(FileOutcome.ALREADY) == 13


def test_the_end_of_a_docking_keeps_the_late_and_clock_ids_not_each_check(
    ctx: Context, tmp_path: Path
) -> None:
    """measure_brief says what measure says of late items and clock problems, as ids only."""
    camera = tmp_path / "camera"
    camera.mkdir()
    for n in range(5):
        (camera / f"NOTE{n}.TXT").write_bytes(f"note {n}\n".encode())
    report = ingest_device(ctx, camera, serial="BWC-1", officer=None, actor="test")
    with ctx.catalog.write() as txn:
        ids = OffloadOps(txn).session_items(report.session)
        brief = measure_brief(txn, ctx, ids, actor="test")
        full = measure(txn, ctx, ids, actor="test")
    assert brief.count == len(full) == 5
    assert brief.late == tuple(i for i, c in full.items() if c.late_flag_seq is not None)
    assert brief.clock_problems == {i for i, c in full.items() if c.clock_problems}


def _printed(rows: list[dict[str, object]], *, streamed: bool) -> str:
    buf = io.StringIO()
    out = Output(json_mode=True, zone=ZoneInfo("UTC"), stream=buf)
    doc: dict[str, object] = {"session": 7, "files": None, "summary": {"seen": len(rows)},
                              "serial_mismatch": [], "profile": "中文"}  # fmt: skip
    if streamed:
        with RowSpill() as spill:
            for row in rows:
                spill.add(row)
            out.document_rows(doc, "files", spill)
    else:
        out.document({**doc, "files": rows})
    return buf.getvalue()


def test_spilled_rows_print_exactly_as_the_whole_document_would() -> None:
    """document_rows over a RowSpill prints byte for byte what document prints of the list:
    empty, one row, rows with nested lists, Chinese, escapes and controls kept exact."""
    rows: list[dict[str, object]] = [
        {"path": "DCIM/执法记录仪.MP4", "result": "stored", "item": 1, "flags": [],
         "reason": None, "size": 7},
        {"path": "DCIM/new\nFORGED\x1b[2J \\xff \u202e", "result": "failed", "item": None,
         "flags": ["a", "b"], "reason": "读取错误 \t", "nested": {"x": [1, {"y": []}]}},
    ]  # fmt: skip
    for case in ([], rows[:1], rows, rows * 50):
        assert _printed(case, streamed=True) == _printed(case, streamed=False)
        assert json.loads(_printed(case, streamed=True))["files"] == case


def test_a_docking_catalog_caps_the_page_cache_of_each_sqlite_connection(tmp_path: Path) -> None:
    """Catalog(sqlite_cache_kib=N): every pooled connection has cache_size -N (KiB); without
    it SQLite's default stays."""
    capped = Catalog(f"sqlite:///{tmp_path / 'a.db'}", sqlite_cache_kib=DOCKING_CACHE_KIB)
    plain = Catalog(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        for cat, want in ((capped, -DOCKING_CACHE_KIB), (plain, -2000)):
            raw = [cat.engine.raw_connection() for _ in range(2)]  # two of the pool
            try:
                sizes = [c.cursor().execute("PRAGMA cache_size").fetchone()[0] for c in raw]
            finally:
                for c in raw:
                    c.close()
            assert sizes == [want, want]
    finally:
        capped.close()
        plain.close()
