"""A storage error reaches the person at the terminal in one language: Chinese unless asked
otherwise, English with --lang en (issue 20). Real commands on a real data directory."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import child_env, init

CJK = re.compile(r"[\u4e00-\u9fff]")
Run = subprocess.CompletedProcess[str]


def evidock(env: dict[str, str], *args: str) -> Run:
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def newer_catalog(tmp_path: Path) -> dict[str, str]:
    """A data directory whose catalog a newer evidock wrote (a revision no migration knows);
    the environment names no language (child_env drops EVIDOCK_LANG)."""
    home = tmp_path / "home"
    env = init(child_env(home, f"sqlite:///{home / 'catalog.db'}", dock="dock-lang"))
    with sqlite3.connect(home / "catalog.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    return env


def test_a_catalog_too_new_is_refused_in_chinese_under_lang_zh(
    newer_catalog: dict[str, str],
) -> None:
    """--lang zh: the refusal and its hint are Chinese only, the code stays as programs read it."""
    p = evidock(newer_catalog, "--lang", "zh", "items")
    assert p.returncode == 2, p.stderr
    assert "目录库的结构版本 9999 比本程序" in p.stderr and "拒绝降级" in p.stderr
    assert "提示：请安装写入该目录库的 evidock 版本或更新的版本" in p.stderr
    assert "[catalog-too-new]" in p.stderr
    assert "newer than this evidock" not in p.stderr and "Install the evidock" not in p.stderr
    assert "Traceback" not in p.stderr


def test_a_catalog_too_new_is_refused_in_english_under_lang_en(
    newer_catalog: dict[str, str],
) -> None:
    """--lang en: the same refusal and hint in English, without a Chinese half."""
    p = evidock(newer_catalog, "--lang", "en", "items")
    assert p.returncode == 2, p.stderr
    assert "the catalog's schema revision 9999 is newer than this evidock" in p.stderr
    assert "hint: Install the evidock release that wrote this catalog" in p.stderr
    assert "[catalog-too-new]" in p.stderr
    assert not CJK.search(p.stderr), p.stderr
