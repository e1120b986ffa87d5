"""The case and compliance commands as a user meets them: real processes and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.config import Settings
from ingest.context import Context
from tests.cases.conftest import register

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(home: Path, catalog_url: str | None, dock: str = "dock-cli") -> Run:
    # the suite's language (tests/conftest.py) stays: the assertions read English
    env = {
        k: v for k, v in os.environ.items() if k == "EVIDOCK_LANG" or not k.startswith("EVIDOCK_")
    }
    env |= {"EVIDOCK_HOME": str(home), "EVIDOCK_DOCK_NAME": dock}
    if catalog_url is not None:
        env["EVIDOCK_CATALOG_URL"] = catalog_url

    def _run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return _run


@pytest.fixture
def run(settings: Settings) -> Run:
    """evidock on the test's catalog and home (SQLite and PostgreSQL), as dock-test."""
    return _runner(settings.data_dir, settings.catalog_url, settings.dock.name)


@pytest.fixture
def run_sqlite(tmp_path: Path) -> Run:
    """evidock on a SQLite catalog in a fresh home, made by 'evidock init' (input checks need
    no second dialect)."""
    run = _runner(tmp_path / "home", None)
    assert run("init").returncode == 0
    return run


def _clean(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr + p.stdout


def test_fail_on_overdue_exits_3_when_something_is_overdue_and_not_excused(
    run: Run, ctx: Context
) -> None:
    """A camera held two days and never docked: 0 without the flag, 3 with it, JSON says why;
    as of two days ago nothing was overdue."""
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=2))
    ctx.close()
    plain = run("overdue")
    assert plain.returncode == 0 and "BWC-1" in plain.stdout, plain.stderr
    failing = run("overdue", "--fail-on-overdue", "--json")
    assert failing.returncode == 3, failing.stderr
    doc = json.loads(failing.stdout)
    assert doc["overdue_count"] == 1 and doc["devices_not_docked"][0]["device"] == "BWC-1"
    assert {"late", "pending", "archive_overdue", "gaps", "clock_problems"} <= doc.keys()
    two_days_ago = (datetime.now(UTC) - timedelta(days=2, minutes=1)).isoformat()
    earlier = run("overdue", "--fail-on-overdue", "--at", two_days_ago)
    assert earlier.returncode == 0, earlier.stdout
    _clean(failing)


@pytest.mark.parametrize(
    ("args", "expected", "hint"),
    [
        (
            ("case", "open", "case twelve", "--type", "penalty", "--handler", "J1"),
            "not a case number",
            "凤里执罚〔2026〕12号",
        ),
        (
            ("case", "open", "2026-0012", "--type", "penalty", "--handler", "J1"),
            "needs a reviewer and an approver",
            "--procedure simple",
        ),
        (
            (
                "case",
                "open",
                "2026-0012",
                "--type",
                "fine",
                "--procedure",
                "simple",
                "--handler",
                "J1",
            ),
            "not a type of enforcement",
            "compulsory (administrative compulsion)",
        ),
        (("case", "show", "2026-0099"), "no case '2026-0099'", "evidock case list"),
        (("excuse", "5", "--reason", "x"), "no evidence item 5", "hint:"),
        (("excuse", "--reason", "x"), "not both", "--session ID"),
        (("overdue", "--at", "yesterday"), "is not a time", "2026-11-26T08:30"),
    ],
)
def test_bad_input_exits_2_with_a_hint(
    run_sqlite: Run, args: tuple[str, ...], expected: str, hint: str
) -> None:
    """Bad case numbers, missing Art. 32 roles, unknown words: exit 2, what to do, no trace."""
    p = run_sqlite(*args)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert expected in p.stderr and "hint:" in p.stderr and hint in p.stderr
    _clean(p)


def test_a_refused_case_operation_is_explained_in_chinese_with_lang_zh(run_sqlite: Run) -> None:
    """evidock --lang zh case open with an unknown type of enforcement and a case number that
    is not the office's: exit 2, the refusal and what to type instead in Chinese."""
    p = run_sqlite("--lang", "zh", "case", "open", "2026-0012", "--type", "fine",
                   "--procedure", "simple", "--handler", "J1")  # fmt: skip
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr == (
        "evidock：'fine' 不是有效的执法类别 [bad-usage]\n"
        "提示：请使用以下之一：licensing (行政许可), penalty (行政处罚), compulsory (行政强制), "
        "levy (行政征收征用), inspection (行政检查)。\n"
    )
    p = run_sqlite("--lang", "zh", "case", "open", "case 12", "--type", "penalty",
                   "--procedure", "simple", "--handler", "J1")  # fmt: skip
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.startswith("evidock：'case 12' 不是本单位的案件编号 [bad-case-number]\n")
    assert "提示：请写成 凤里执罚〔2026〕12号 或 2026-0012 这样的格式" in p.stderr
    _clean(p)
