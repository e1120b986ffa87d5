"""An item whose stored bytes failed their fixity check (issue 18) is shown 'fixity failed' in
items, custody, case show and status, and is linked to a case only with a recorded override."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.context import Context
from ingest.errors import FixityRefused, UsageError
from storage.catalog.fixity import failed_items, fixity_failed
from storage.records import Event
from tests.cases.conftest import Clip, dock, lay_out, register
from tests.cases.test_cases import CASE, Cli, _open_case
from tests.verify.tamper import flip_byte, item_sha


def test_failed_fixity_is_shown_and_linking_needs_a_recorded_override(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    """verify records fixity_failed for the damaged clip: every listing says so, 'case link'
    refuses it (exit 2) and links it with --override-fixity --reason, recorded in 'linked'."""
    _open_case(ctx, cli)
    register(ctx, badge="J1", serial="BWC-1")
    dock(ctx, lay_out(tmp_path / "cam", ("REC_1.MP4", clips["old"]), ("REC_2.MP4", clips["old2"])),
         "BWC-1")  # fmt: skip
    flip_byte(ctx, item_sha(ctx, 1))
    code, _ = cli("verify")
    assert code == 1
    with ctx.catalog.read() as txn:
        assert fixity_failed(txn, 1) and not fixity_failed(txn, 2)

    code, text = cli("--json", "items")
    assert code == 0
    shown = {i["id"]: (i["fixity"], i["flags"]) for i in json.loads(text)}
    assert shown[1][0] == "failed" and "fixity-failed" in shown[1][1]
    assert shown[2][0] is None and "fixity-failed" not in shown[2][1]
    _, table = cli("items")
    assert "fixity failed" in table and "#1" in table
    _, custody = cli("custody", "1")
    assert "fixity failed" in custody
    _, status = cli("--json", "status")
    assert json.loads(status)["fixity_failed"] == [1]

    with pytest.raises(FixityRefused) as refused:
        cli("case", "link", CASE, "1", "2", "--stage", "investigation")
    assert "#1" in str(refused.value) and "--override-fixity" in refused.value.hint
    with pytest.raises(UsageError):  # an override says why
        cli("case", "link", CASE, "1", "--stage", "investigation", "--override-fixity")
    assert _links(cli) == {}, "a refused link linked something"

    code, _ = cli("case", "link", CASE, "1", "2", "--stage", "investigation",
                  "--override-fixity", "--reason", "the S3 copy re-verifies")  # fmt: skip
    assert code == 0
    assert _links(cli) == {1: "failed", 2: None}
    with ctx.catalog.read() as txn:
        linked = {e.item: json.loads(e.data) for e in txn.log.events_of_type("linked")}
    assert linked[1]["fixity_override"] == "the S3 copy re-verifies"
    assert "fixity_override" not in linked[2]
    _, show = cli("case", "show", CASE)
    assert "[fixity failed]" in show
    code, text = cli("--json", "verify")  # the override is a fact verify reads back
    assert code == 1
    assert {p["code"] for p in json.loads(text)["problems"]} == {"object-corrupt"}


def _links(cli: Cli) -> dict[int, str | None]:
    code, text = cli("--json", "case", "show", CASE)
    assert code == 0
    return {k["item"]: k["fixity"] for k in json.loads(text)["links"] if k["unlinked_at"] is None}


def _fixity(seq: int, item: int, kind: str, key: str = "k") -> Event:
    data = json.dumps({"backend": "local", "key": key})
    return Event(seq=seq, time="", type=kind, item=item, actor="a", dock="d", data=data, prev="")


def test_the_last_check_of_each_copy_decides() -> None:
    """A failure cleared by a later pass of the same copy; a pass of another copy clears
    nothing."""
    assert failed_items([_fixity(1, 7, "fixity_failed"), _fixity(2, 7, "fixity_checked")]) == set()
    assert failed_items(
        [_fixity(1, 7, "fixity_failed"), _fixity(2, 7, "fixity_checked", key="s3")]
    ) == {7}
    assert failed_items([_fixity(1, 7, "fixity_checked"), _fixity(2, 7, "fixity_failed")]) == {7}
