"""`evidock overdue` reads like a report (issue 20): late and unexcused first, clock problems
summarised per device with a count (every one with --details), and --csv for a spreadsheet."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import i18n
from ingest.context import Context
from tests.cases.conftest import Clip, dock, lay_out, register

Cli = Callable[..., tuple[int, str]]


def test_report_order_clock_summary_details_and_csv(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=5))
    camera = lay_out(tmp_path / "c1", ("a.mp4", clips["old"]), ("f1.mp4", clips["future"]),
                     ("f2.mp4", clips["future"]))  # fmt: skip
    report, _ = dock(ctx, camera, "BWC-1")
    [late] = [f.item for f in report.files if f.path.endswith("a.mp4")]

    code, out = cli("overdue")
    assert code == 0
    lines = out.splitlines()
    first = next(i for i, ln in enumerate(lines) if "Late offloads, not excused" in ln)
    clock = next(i for i, ln in enumerate(lines) if ln.startswith("Clock problems"))
    assert first < clock  # the late items come before the clock problems
    assert f"#{late} BWC-1" in lines[first + 1]
    # the two future clips, and the old one that disagrees with them (same docking)
    assert "3 recordings on 1 device" in lines[clock]
    assert lines[clock + 1].startswith("  BWC-1: 3 recordings")
    assert "camera clock in the future ×2" in lines[clock + 1]
    assert not any("f1.mp4" in ln for ln in lines[clock:])  # summarised, not one per clip

    code, detailed = cli("overdue", "--details")
    after = detailed.splitlines()[clock:]
    assert any("f1.mp4" in ln and "camera clock in the future" in ln for ln in after)

    code, table = cli("overdue", "--csv")
    rows = list(csv.DictReader(io.StringIO(table)))
    assert ("late", f"item {late}") in [(r["section"], r["subject"]) for r in rows]
    assert sum(1 for r in rows if r["section"] == "clock") == 3
    assert all(r["device"] == "BWC-1" for r in rows if r["section"] in ("late", "clock"))


def test_the_pdf_report_renders_the_chinese_text_and_names_its_checkpoint(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=5))
    dock(ctx, lay_out(tmp_path / "c1", ("a.mp4", clips["old"])), "BWC-1")
    pdf = tmp_path / "overdue.pdf"
    with i18n.speaking("zh"):  # the office reads it in Chinese
        code, _ = cli("overdue", "--pdf", str(pdf))
    assert code == 0 and pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert "执法记录逾期报告" in text and "逾期上传" in text and "BWC-1" in text
    assert "已签名检查点" in text and "Signed checkpoint" not in text  # one language
    with ctx.catalog.read() as txn:
        head = txn.log.head().size
    assert f"日志大小 {head}" in text  # the checkpoint taken for the report covers the log
