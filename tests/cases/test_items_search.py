"""Finding recordings from the shell (issue 20): `evidock items` by case, officer, device,
time range and flags, paged, as a table (aligned for Chinese names), JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from ingest.context import Context
from ingest.output import pad, width
from tests.cases.conftest import NOW, Clip, dock, lay_out, register

Cli = Callable[..., tuple[int, str]]


def _ids(cli: Cli, *args: str) -> list[int]:
    code, out = cli("--json", "items", *args)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return [i["id"] for i in doc["items"]]


def test_items_are_found_by_officer_time_flag_case_and_paged(
    ctx: Context, cli: Cli, clips: dict[str, Clip], tmp_path: Path
) -> None:
    register(ctx, badge="J1", serial="BWC-1", since=timedelta(days=5))
    register(ctx, badge="J2", serial="BWC-2", since=timedelta(days=5))
    r1, _ = dock(ctx, lay_out(tmp_path / "c1", ("a.mp4", clips["old"])), "BWC-1")  # late
    r2, _ = dock(ctx, lay_out(tmp_path / "c2", ("b.mp4", clips["fresh"])), "BWC-2")
    [late] = [f.item for f in r1.files if f.item is not None]
    [fresh] = [f.item for f in r2.files if f.item is not None]
    assert cli("case", "open", "2026-0001", "--type", "inspection", "--procedure", "simple",
               "--handler", "J2")[0] == 0  # fmt: skip
    assert cli("case", "link", "2026-0001", str(fresh), "--stage", "investigation")[0] == 0

    assert _ids(cli, "--officer", "J1", "--flag", "late") == [late]
    assert _ids(cli, "--officer", "J2", "--flag", "late") == []
    since = (NOW - timedelta(hours=2)).isoformat()
    assert _ids(cli, "--from", since) == [fresh]
    assert _ids(cli, "--to", since) == [late]
    assert _ids(cli, "--case", "2026-0001") == [fresh]
    assert _ids(cli, "--flag", "unlinked") == [late]
    assert _ids(cli, "--device", "BWC-2", "--flag", "unlinked") == []

    code, out = cli("--json", "items", "--limit", "1")
    page = json.loads(out)
    assert [i["id"] for i in page["items"]] == [fresh] and page["more"] is True
    assert _ids(cli, "--limit", "1", "--offset", "1") == [late]
    code, out = cli("items", "--limit", "1")
    assert code == 0 and "--offset 1" in out

    code, out = cli("items", "--flag", "late", "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0][:2] == ["ID", "SHA256"] and [r[0] for r in rows[1:]] == [str(late)]


def test_tables_align_chinese_text_by_its_display_width() -> None:
    assert width("张伟") == 4 and width("J1") == 2
    assert width(pad("张伟", 6)) == width(pad("J0001", 6)) == 6
