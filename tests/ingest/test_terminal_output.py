"""What reaches a person's terminal cannot be written by a device (issue 23, 9).

File names come from untrusted media: an escape sequence recolours or clears the screen, a
newline forges an output line, a bidi override reverses one. Every text printer escapes them,
visibly and with one reading per form; JSON keeps the exact names."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import unicodedata
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.dock.status import BayView, write_status
from ingest.output import Output, TerminalLogFormatter, for_terminal, path_text

HOSTILE = [
    b"DCIM/esc\x1b[31mred.MP4",
    b"DCIM/new\nFORGED line.MP4",
    "DCIM/bidi\u202egpj.MP4".encode(),
    "DCIM/iso\u2066zw\u200bx\u2069.JPG".encode(),
    b"DCIM/a\xff.jpg",
    b"DCIM/a\\xff.jpg",
]


def _clean(text: str) -> None:
    """Nothing in ``text`` but printable characters and line ends."""
    bad = [
        c for c in text
        if c != "\n" and (unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    ]  # fmt: skip
    assert bad == [], f"raw control characters reach the terminal: {bad!r}"


def test_controls_and_invisible_characters_are_shown_escaped() -> None:
    """C0, DEL, C1, bidi, zero-width and separators become visible escapes; Chinese stays."""
    assert for_terminal("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert for_terminal("x\ny\rz\tw\x7f") == "x\\ny\\rz\\tw\\x7f"
    assert for_terminal("c1\x85\x9b") == "c1\\u0085\\u009b"
    assert for_terminal("\u202egpj\u2066\u2069\u200b\ufeff\u2028") == (
        "\\u202egpj\\u2066\\u2069\\u200b\\ufeff\\u2028"
    )
    assert for_terminal("现场检查 执法记录仪.MP4") == "现场检查 执法记录仪.MP4"
    assert for_terminal("plain DCIM/REC_0001.MP4") == "plain DCIM/REC_0001.MP4"


def test_a_raw_byte_and_a_typed_backslash_escape_print_differently() -> None:
    """The byte 0xFF shows as \\xff, the four characters '\\xff' as \\\\xff, C1 U+00FF-like
    code points as \\u: no two names share a printed form."""
    raw = for_terminal(path_text(b"a\xff.jpg"))
    typed = for_terminal(path_text(b"a\\xff.jpg"))
    c1 = for_terminal(path_text("a\u0085.jpg".encode()))
    byte85 = for_terminal(path_text(b"a\x85.jpg"))
    assert (raw, typed) == ("a\\xff.jpg", "a\\\\xff.jpg")
    assert (c1, byte85) == ("a\\u0085.jpg", "a\\x85.jpg")


def test_tables_are_measured_after_escaping() -> None:
    """A cell's escapes count in its column's width; nothing in a cell splits the row."""
    buf = io.StringIO()
    out = Output(json_mode=False, zone=ZoneInfo("UTC"), stream=buf)
    out.table(["ID", "PATH"], [[1, "a\nb"], [22, "c"]])
    assert buf.getvalue().splitlines() == ["ID  PATH", "1   a\\nb", "22  c"]


def test_log_lines_escape_their_message_but_keep_a_traceback() -> None:
    """A device name in a log message cannot forge a log line."""
    fmt = TerminalLogFormatter("%(levelname)s %(message)s")
    rec = logging.LogRecord("t", logging.WARNING, __file__, 1, "path=%s", ("a\nb\x1b",), None)
    assert fmt.format(rec) == "WARNING path=a\\nb\\x1b"


@pytest.fixture
def cli(tmp_path: Path) -> Callable[..., str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    env["EVIDOCK_DOCK_NAME"] = "dock-cli"

    def run(*args: str) -> str:
        p = subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args], env=env, capture_output=True,
            timeout=120, check=False,
        )  # fmt: skip
        assert p.returncode == 0, p.stderr
        assert b"Traceback" not in p.stderr
        return p.stdout.decode("utf-8")

    run("init")  # every other command refuses a data dir that init did not make
    return run


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    root = tmp_path / "device"
    (root / "DCIM").mkdir(parents=True)
    for i, name in enumerate(HOSTILE):
        with open(os.path.join(os.fsencode(root), name), "wb") as f:
            f.write(b"not a recording %d" % i)
    return root


def test_hostile_names_reach_the_terminal_escaped_and_json_exact(
    cli: Callable[..., str], hostile: Path, tmp_path: Path
) -> None:
    """ingest, items, custody and status print one line per line they mean, with no raw
    control character; the raw 0xFF name and the typed '\\xff' name print differently; the
    JSON documents carry every name exactly."""
    ingest = cli("ingest", str(hostile), "--device", "BWC-7")
    _clean(ingest)
    assert len(ingest.splitlines()) == len(HOSTILE) + 1
    assert not any(line.startswith("FORGED") for line in ingest.splitlines())
    assert sum("  DCIM/a\\xff.jpg  [" in line for line in ingest.splitlines()) == 1
    assert sum("  DCIM/a\\\\xff.jpg  [" in line for line in ingest.splitlines()) == 1

    items = cli("items")
    _clean(items)
    lines = items.splitlines()
    assert len(lines) == 1 + len(HOSTILE)
    assert [line.endswith("DCIM/a\\xff.jpg") for line in lines].count(True) == 1
    assert [line.endswith("DCIM/a\\\\xff.jpg") for line in lines].count(True) == 1
    assert any(line.endswith("DCIM/new\\nFORGED line.MP4") for line in lines)
    assert any(line.endswith("DCIM/bidi\\u202egpj.MP4") for line in lines)

    docs = json.loads(cli("--json", "items"))
    assert sorted(bytes.fromhex(d["original_path_hex"]) for d in docs) == sorted(HOSTILE)
    exact = {d["original_path"] for d in docs}
    assert {n.decode() for n in HOSTILE if n != b"DCIM/a\xff.jpg"} <= exact

    for doc in docs:
        report = cli("custody", str(doc["id"]))
        _clean(report)
        # head, 3 events x 3 lines, tail (checkpoint, key, cosignatures and timestamp, hint)
        assert len(report.splitlines()) == 2 + 3 * 3 + 4
        name = bytes.fromhex(doc["original_path_hex"])
        assert report.splitlines()[1] == f"from BWC-7:{for_terminal(path_text(name))}"
        proof = json.loads(cli("custody", str(doc["id"]), "--json"))
        assert proof["item"]["original_path"] == doc["original_path"]

    status_file = tmp_path / "home" / "run" / "dock-dock-cli.json"
    bay = BayView(source="/watch/cam\x1b]0;owned\x07\nFORGED", device=None, profile=None,
                  state="ingesting \u202e", files_done=1, current="x", since=0.0)  # fmt: skip
    write_status(status_file, dock="dock-cli", bays=[bay])
    status = cli("status")
    _clean(status)
    assert len(status.splitlines()) == 5  # daemon, its bay, 'last sessions:', header, 1 row
    assert status.splitlines()[1].startswith("  cam\\x1b]0;owned\\x07\\nFORGED ")
    back = json.loads(cli("--json", "status"))
    assert back["daemon"]["bays"][0]["source"] == bay.source
