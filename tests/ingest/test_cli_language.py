"""The evidock command speaks the reader's language (issue 20): Chinese with --lang zh, English
with --lang en, in the lines, the table headers and the report a custodian reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def evidock(tmp_path: Path) -> Run:
    """evidock in its own process on a data dir made by 'evidock init'."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env |= {"EVIDOCK_HOME": str(tmp_path / "home"), "EVIDOCK_DOCK_NAME": "dock-lang"}

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([sys.executable, "-m", "ingest.cli.main", *args], env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert p.returncode == 0, p.stderr
        return p

    _run("init")
    return _run


def test_items_and_overdue_read_in_chinese_or_in_english_as_asked(
    evidock: Run, camera: Path
) -> None:
    """--lang zh gives the Chinese headers and sentences, --lang en the English, never both."""
    docked = evidock("--lang", "zh", "ingest", str(camera), "--device", "BWC-7").stdout
    lines = docked.splitlines()
    assert sum(1 for ln in lines if ln.startswith("已存储 ")) == 4
    assert "已存储 4 个" in lines[-1] and "stored" not in docked

    zh = evidock("items", "--limit", "3", "--lang", "zh").stdout.splitlines()
    assert zh[0].split() == ["编号", "SHA256", "大小", "设备", "执法人员", "录制时间", "状态",
                             "标记", "查看副本", "路径"]  # fmt: skip
    assert zh[-1] == "第 1-3 条；下一页：--offset 3"
    en = evidock("items", "--limit", "3", "--lang", "en").stdout.splitlines()
    assert en[0].split() == ["ID", "SHA256", "SIZE", "DEVICE", "OFFICER", "RECORDED", "STATE",
                             "FLAGS", "PROXY", "PATH"]  # fmt: skip
    assert en[-1] == "items 1-3; next page: --offset 3"
    csv = evidock("items", "--csv", "--lang", "zh").stdout.splitlines()
    assert csv[0] == "ID,SHA256,SIZE,DEVICE,OFFICER,RECORDED,STATE,FLAGS,PROXY,PATH"  # for programs

    report = evidock("overdue", "--lang", "zh").stdout
    assert report.startswith("逾期报告，截至 ")
    assert "（上传时限 24 小时，归档时限 " in report.splitlines()[0]
    for heading in ("一、逾期上传，无逾期说明（0）", "二、超过时限仍未存妥（0）",
                    "四、超过归档时限仍未归档的已结案件（0）"):  # fmt: skip
        assert heading in report.splitlines()
    assert report.splitlines()[-1] == "0 项逾期且无逾期说明"
    assert "Late offloads" not in report and "overdue and not excused" not in report
    english = evidock("overdue", "--lang", "en").stdout
    assert english.startswith("evidock overdue as of ")
    assert "Late offloads, not excused (0)" in english.splitlines()
    assert english.splitlines()[-1] == "0 overdue and not excused"
    assert "逾期" not in english
