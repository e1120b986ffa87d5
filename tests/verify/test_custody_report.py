"""``evidock custody ITEM`` reports and ``evidock verify-proof``: checkable without the catalog."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ingest.context import LOG_ORIGIN, Context
from tests.verify.tamper import Cli
from verify.log.events import EventType
from verify.log.note import parse_checkpoint, sign_note, verifier_key
from verify.log.signing import generate_private_key, public_key
from verify.proofs import check_report

# Output formatting is the same whatever the database: these run on SQLite only.
sqlite_only = pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)


def _report(cli: Cli, item: int) -> dict[str, Any]:
    rc, out, _ = cli("custody", str(item), "--json")
    assert rc == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


def _verify_proof(cli: Cli, tmp_path: Path, doc: dict[str, Any], *args: str) -> tuple[int, str]:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    rc, out, err = cli("verify-proof", str(path), "--json", *args)
    problems = {p["code"] for p in json.loads(out)["problems"]}
    return rc, ",".join(sorted(problems)) + "|" + err


def test_custody_report_verifies_offline(ingested: Context, cli: Cli, tmp_path: Path) -> None:
    """The JSON report proves each event of the item against the signed checkpoint."""
    doc = _report(cli, 2)
    assert [e["seq"] for e in doc["events"]] == [4, 5, 6]
    assert doc["checkpoint"]["size"] == 13
    assert doc["checkpoint"]["verifier_key"] == ingested.key.verifier
    rc, result = _verify_proof(cli, tmp_path, doc)
    assert rc == 0 and result.startswith("|")
    assert "Compare the verifier key" in result  # the key came from the report itself
    assert check_report(doc, origin=LOG_ORIGIN, trusted_key=ingested.key.verifier).ok


def test_report_with_an_edited_event_fails(ingested: Context, cli: Cli, tmp_path: Path) -> None:
    """Changing what an event says breaks its leaf, so its inclusion proof fails."""
    doc = _report(cli, 2)
    doc["events"][0]["data"]["size"] += 1
    rc, result = _verify_proof(cli, tmp_path, doc)
    assert rc == 1 and "inclusion-proof-invalid" in result and "event-leaf-mismatch" in result


def test_report_with_an_edited_proof_node_fails(
    ingested: Context, cli: Cli, tmp_path: Path
) -> None:
    """One altered hash in one proof is caught."""
    doc = _report(cli, 3)
    proof = doc["events"][1]["proof"]
    proof[-1] = ("0" if proof[-1][0] != "0" else "1") + proof[-1][1:]
    rc, result = _verify_proof(cli, tmp_path, doc)
    assert rc == 1 and result.startswith("inclusion-proof-invalid|")


def test_report_with_a_forged_note_fails(ingested: Context, cli: Cli, tmp_path: Path) -> None:
    """A checkpoint note whose root was swapped no longer carries a valid signature."""
    doc = _report(cli, 1)
    lines = doc["checkpoint"]["note"].split("\n")
    lines[2] = base64.b64encode(b"\xab" * 32).decode("ascii")
    doc["checkpoint"]["note"] = "\n".join(lines)
    rc, result = _verify_proof(cli, tmp_path, doc)
    assert rc == 1 and "checkpoint-bad-signature" in result


def test_report_resigned_with_another_key_fails_against_the_published_key(
    ingested: Context, cli: Cli, tmp_path: Path
) -> None:
    """A forger who also swaps the report's key fools only a reader who skips the key
    comparison: given the office's published key, the report fails."""
    doc = _report(cli, 1)
    seed = generate_private_key()
    note = doc["checkpoint"]["note"]
    body = note[: note.rindex("\n\n") + 1]
    doc["checkpoint"]["note"] = sign_note(body, "dock-test", seed)
    doc["checkpoint"]["verifier_key"] = verifier_key("dock-test", public_key(seed))
    rc, result = _verify_proof(cli, tmp_path, doc)
    assert rc == 0 and "Compare the verifier key" in result
    rc, result = _verify_proof(cli, tmp_path, doc, "--key", ingested.key.verifier)
    assert rc == 1 and result.startswith("checkpoint-unknown-key|")


def test_custody_takes_a_fresh_checkpoint_when_none_covers_the_last_event(
    ingested: Context, cli: Cli
) -> None:
    """An event after the last checkpoint gets proved against a checkpoint signed for it."""
    with ingested.catalog.write() as txn:
        ingested.custody.append(txn, type=EventType.VIEWED, actor="user:test", item=2, data={})
    doc = _report(cli, 2)
    assert doc["events"][-1]["seq"] == 13 and doc["checkpoint"]["size"] == 14
    assert parse_checkpoint(doc["checkpoint"]["note"].split("\n\n")[0] + "\n").size == 14
    with ingested.catalog.read() as txn:
        assert [cp.size for cp in txn.log.checkpoints()] == [13, 14]
    assert check_report(doc, origin=LOG_ORIGIN).ok


@sqlite_only
def test_custody_report_shows_times_in_the_configured_zone(ingested: Context, cli: Cli) -> None:
    """Human report: local times (Asia/Shanghai by default), the proof and the key warning."""
    rc, out, _ = cli("custody", "1")
    assert rc == 0
    assert out.count(" CST  ") == 3
    assert "acquired" in out and "inclusion proof" in out and ingested.key.verifier in out
    assert "Compare the verifier key" in out


@sqlite_only
def test_custody_csv_has_one_row_per_event(ingested: Context, cli: Cli) -> None:
    """--csv: one row per event with the local time, leaf and proof."""
    rc, out, _ = cli("custody", "4", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rc == 0 and [r["seq"] for r in rows] == ["10", "11", "12"]
    assert all(r["time"].endswith("CST") and len(r["leaf"]) == 64 for r in rows)
    assert rows[0]["type"] == "acquired" and rows[0]["checkpoint_size"] == "13"


@sqlite_only
def test_custody_refuses_csv_and_json_together(ingested: Context, cli: Cli) -> None:
    """Asking for two output formats is a usage error (exit 2)."""
    rc, _, err = cli("custody", "1", "--csv", "--json")
    assert rc == 2 and "exclude each other" in err


def test_custody_proofs_are_refused_for_a_tampered_log(ingested: Context, cli: Cli) -> None:
    """No report is handed out when the catalog cannot prove the item's events."""
    with ingested.catalog.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE custody_event SET actor = 'user:mallory' WHERE seq = 5")
    rc, _, err = cli("custody", "2")
    assert rc == 1 and "custody-proof-failed" in err


@sqlite_only
def test_verify_proof_of_a_file_that_is_not_json_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    """A wrong file gets exit 2 and a hint, not a traceback."""
    bad = tmp_path / "x.json"
    bad.write_text("not json", encoding="utf-8")
    rc, _, err = cli("verify-proof", str(bad))
    assert rc == 2 and "evidock custody ITEM --json" in err


@pytest.mark.parametrize(
    "doc",
    [
        None,
        [],
        {"format": "evidock-custody-report/0"},
        {"format": "evidock-custody-report/1", "item": {}, "checkpoint": {}, "events": []},
    ],
)
def test_malformed_report_is_a_problem_not_a_crash(doc: object) -> None:
    """Whatever the file holds, the offline check answers with a problem."""
    result = check_report(doc, origin=LOG_ORIGIN)
    assert not result.ok and result.problems[0].code == "report-malformed"
