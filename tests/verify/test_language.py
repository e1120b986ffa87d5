"""``evidock verify`` reports in the reader's language (issue 20): the problem and what to do
in Chinese by default, in English with --lang en; the problem codes are the same in both."""

from __future__ import annotations

import dataclasses
import json

import pytest

import i18n
from ingest.context import Context
from tests.verify.tamper import Cli, Sql, audit, events, write_event
from verify.log.events import encode_data
from verify.package.readme import verify_md


@pytest.fixture
def edited(ingested: Context, sql: Sql) -> Context:
    """Event #5 (item 2's 'verified' event) rewritten behind evidock's back: a size of 1."""
    ev = events(ingested, 5, 6)[0]
    data = json.loads(ev.data) | {"size": 1}
    write_event(sql, dataclasses.replace(ev, data=encode_data(data)))
    return ingested


def test_verify_reports_a_tampered_log_in_chinese_with_lang_zh(edited: Context, cli: Cli) -> None:
    """--lang zh: the custodian reads the edited event and the hint in Chinese; the code stays."""
    rc, out, _ = cli("--lang", "zh", "verify")
    assert rc == 1
    assert "[event-leaf-mismatch]" in out and "[chain-broken]" in out
    assert "事件 #5 与追加时的事件不一致" in out
    assert "事件 #6 未链接到其前一个事件" in out
    assert "目录库中的保管链日志被改动，或是从旧副本恢复的。请勿采集或修复任何内容" in out
    assert "differs from the event that was appended" not in out
    assert "The custody log in the catalog was altered" not in out


def test_verify_reports_a_tampered_log_in_english_with_lang_en(edited: Context, cli: Cli) -> None:
    """--lang en: the same problems, with the same codes, in English."""
    rc, out, _ = cli("--lang", "en", "verify")
    assert rc == 1
    assert "[event-leaf-mismatch]" in out and "[chain-broken]" in out
    assert "event #5 differs from the event that was appended" in out
    assert "event #6 does not chain to the event before it" in out
    assert "The custody log in the catalog was altered, or restored from an older copy." in out
    assert "与追加时的事件不一致" not in out


def test_json_keeps_codes_and_gives_the_text_in_the_readers_language(
    edited: Context, cli: Cli
) -> None:
    """--json: codes and hashes as programs read them, subject and hint for the person."""
    rc, out, _ = cli("--lang", "zh", "--json", "verify")
    doc = json.loads(out)
    (p,) = [p for p in doc["problems"] if p["code"] == "event-leaf-mismatch"]
    assert (rc, doc["ok"], p["seq"]) == (1, False, 5)
    assert p["subject"] == "事件 #5 与追加时的事件不一致"
    assert p["expected"].startswith("叶哈希 ") and p["expected"].endswith("（追加时存储）")
    assert p["hint"].startswith("目录库中的保管链日志被改动")


def test_a_problem_made_in_english_gives_its_hint_in_the_language_it_is_read_in(
    edited: Context,
) -> None:
    """The hint is translated when read: a report kept in memory serves either reader."""
    (p,) = [p for p in audit(edited).problems if p.code == "event-leaf-mismatch"]
    assert p.hint.startswith("The custody log in the catalog was altered")
    with i18n.speaking("zh"):
        assert p.hint.startswith("目录库中的保管链日志被改动")


def test_verify_md_is_in_one_language_with_the_commands_untouched() -> None:
    """VERIFY.md of a package: Chinese or English paragraphs, the same command lines."""

    def readme() -> str:
        return verify_md(key_name="dock-01", verifier_key="dock-01+1a2b3c4d+AQ", is_zip=False,
                         has_tsr=True)  # fmt: skip

    english = readme()
    with i18n.speaking("zh"):
        chinese = readme()
    assert english.startswith("# How to verify this evidence package\n")
    assert chinese.startswith("# 如何核验本证据包\n")
    assert "如何" not in english and "How to verify" not in chinese
    commands = [line for line in english.splitlines() if line.startswith(("openssl", "sha256"))]
    assert len(commands) == 3
    assert commands == [
        line for line in chinese.splitlines() if line.startswith(("openssl", "sha"))
    ]
    tsa = "openssl ts -verify -data custody/checkpoint -in custody/checkpoint.tsr"
    assert tsa in english and tsa in chinese
