"""The evidock command as a user meets it: real processes, exit codes, messages, JSON shapes."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import stat
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.cli.main import build_parser
from ingest.config import Settings
from ingest.output import Output


@pytest.fixture
def bare(tmp_path: Path):
    """evidock in a data dir that does not exist yet (EVIDOCK_HOME=tmp/home)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env["EVIDOCK_HOME"] = str(tmp_path / "home")
    env["EVIDOCK_DOCK_NAME"] = "dock-cli"

    def _run(
        *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return _run


@pytest.fixture
def run(bare):
    """evidock in a data dir made by 'evidock init'."""
    assert bare("init").returncode == 0
    return bare


def _no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


def test_init_is_idempotent_and_keeps_the_key_private(bare, tmp_path: Path) -> None:
    """Two inits create the key once (0600) and report the same verifier key."""
    first = bare("--json", "init")
    second = bare("--json", "init")
    assert first.returncode == second.returncode == 0
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["key_created"] and not b["key_created"]
    assert a["verifier_key"] == b["verifier_key"] and a["verifier_key"].startswith("dock-cli+")
    key = tmp_path / "home" / "keys" / "dock-cli.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_ingest_json_follows_the_contract(run, camera: Path) -> None:
    """ingest --json prints {session, files:[{path,result,item,sha256,reason}], summary}."""
    p = run("--json", "ingest", str(camera), "--device", "BWC-7")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert {"session", "files", "summary"} <= doc.keys()
    assert len(doc["files"]) == 4
    for f in doc["files"]:
        assert {"path", "result", "item", "sha256", "reason"} <= f.keys()
        assert f["result"] == "stored" and len(f["sha256"]) == 64
    assert doc["summary"]["stored"] == 4


def test_items_json_has_the_fields_custodians_rely_on(run, camera: Path) -> None:
    """items --json: an array with id, sha256, size, original_path, device, officer, times,
    state, durable_at, flags and derived for every item."""
    run("officer", "add", "J1", "--name", "Zhang San")
    run("device", "add", "BWC-7")
    run("device", "assign", "BWC-7", "J1", "--from", "2026-11-01T00:00")
    assert run("ingest", str(camera), "--device", "BWC-7").returncode == 0
    p = run("--json", "items", "--device", "BWC-7")
    items = json.loads(p.stdout)
    assert len(items) == 4
    need = {"id", "sha256", "size", "original_path", "device", "officer", "recorded_start",
            "recorded_end", "state", "durable_at", "flags", "derived"}  # fmt: skip
    for item in items:
        assert need <= item.keys()
        assert item["device"] == "BWC-7" and item["officer"] == "J1"
        assert item["derived"] == []


def test_human_ingest_output_names_every_file_and_a_summary(run, camera: Path) -> None:
    """Without --json, one line per file and a closing summary."""
    p = run("ingest", str(camera), "--device", "BWC-7")
    lines = p.stdout.strip().splitlines()
    assert sum(1 for ln in lines if ln.startswith("stored")) == 4
    assert "4 stored" in lines[-1] and "0 failed" in lines[-1]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("ingest", "/nonexistent/camera"), "does not exist"),
        (("ingest", "{camera}", "--officer", "NOBODY"), "no officer with badge 'NOBODY'"),
        (("custody", "999"), "no evidence item 999"),
        (("frobnicate",), "invalid choice"),
        (("device", "assign", "NOPE", "J1"), "no device with serial 'NOPE'"),
    ],
)
def test_bad_input_exits_2_with_a_hint_and_no_traceback(run, camera: Path, args, expected) -> None:
    """Every user error says what happened and what to do, and exits with code 2."""
    p = run(*(a.replace("{camera}", str(camera)) for a in args))
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert expected in p.stderr and "hint:" in p.stderr
    _no_traceback(p)


def test_bad_configuration_is_reported_with_the_file_and_the_fix(bare, tmp_path: Path) -> None:
    """A broken TOML file or an unknown zone stops the command with exit 2 and a clear line."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text('timezone = "Mars/Olympus"\n')
    p = bare("--config", str(cfg), "init")
    assert p.returncode == 2 and "not a known time zone" in p.stderr
    cfg.write_text("data_dir = [unclosed\n")
    p = bare("--config", str(cfg), "init")
    assert p.returncode == 2 and "not valid TOML" in p.stderr
    _no_traceback(p)


def test_officer_and_device_registration_round_trip(run) -> None:
    """Registered officers and devices are listed with their holder; duplicates are refused."""
    assert run("officer", "add", "J1", "--name", "Zhang San", "--unit", "Team 1").returncode == 0
    assert run("device", "add", "BWC-1", "--officer", "J1").returncode == 0
    dup = run("officer", "add", "J1", "--name", "Other")
    assert dup.returncode == 2 and "already exists" in dup.stderr
    devices = json.loads(run("--json", "device", "list").stdout)
    assert devices[0]["serial"] == "BWC-1" and devices[0]["officer"] == "J1"
    officers = json.loads(run("--json", "officer", "list").stdout)
    assert officers == [{"badge": "J1", "name": "Zhang San", "unit": "Team 1", "certificate": ""}]


def test_reading_a_custody_report_is_itself_logged(run, camera: Path) -> None:
    """Art. 29: every access is logged; the second report shows the first one as 'viewed'."""
    assert run("ingest", str(camera), "--device", "BWC-7").returncode == 0
    first = json.loads(run("--json", "custody", "1").stdout)
    assert "viewed" not in [e["type"] for e in first["events"]]
    second = json.loads(run("--json", "custody", "1").stdout)
    viewed = [e for e in second["events"] if e["type"] == "viewed"]
    assert len(viewed) == 1 and viewed[0]["data"]["format"] == "json"


def test_audit_sweeps_fixity_and_overdue_and_fails_only_on_integrity(
    run, camera: Path, tmp_path: Path
) -> None:
    """evidock audit (the timer's job): clean → exit 0 with both parts; a changed stored
    object → exit 1 naming it; the textfile for the alerts is written."""
    assert run("ingest", str(camera), "--device", "BWC-7").returncode == 0
    prom = tmp_path / "evidock.prom"
    clean = run("--json", "audit", "--metrics-textfile", str(prom))
    assert clean.returncode == 0, clean.stderr
    doc = json.loads(clean.stdout)
    assert doc["verify"]["ok"] and doc["verify"]["checked"]["objects_rehashed"] == 4
    assert doc["overdue"]["overdue_count"] == 0
    assert "evidock_fixity_failures 0" in prom.read_text()
    victim = next((tmp_path / "home" / "store" / "sha256").rglob("*[0-9a-f]"))
    while victim.is_dir():
        victim = next(victim.iterdir())
    victim.chmod(0o644)
    victim.write_bytes(b"changed")
    bad = run("audit")
    assert bad.returncode == 1 and "object-corrupt" in bad.stdout
    _no_traceback(bad)


# -- the parser tree: one contract for every subcommand ------------------------------------------


def _parsers(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, bool]]:
    """Every (sub)subcommand's parser with its command path, and whether it is a leaf."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if path:
        yield path, parser, not subs
    for action in subs:
        for name, child in action.choices.items():
            yield from _parsers(child, (*path, name))


def _examples(parser: argparse.ArgumentParser) -> list[list[str]]:
    """The command lines of a parser's epilog, as the shell splits them (without a leading
    VAR=value, a redirection or a comment)."""
    lines = (parser.epilog or "").split("examples:\n", 1)[-1].splitlines()
    found = []
    for line in lines:
        words = shlex.split(line, comments=True)
        while words and "=" in words[0]:
            words.pop(0)
        words = words[: words.index(">")] if ">" in words else words
        if words:
            found.append(words)
    return found


PARSERS = [(path, parser) for path, parser, _ in _parsers(build_parser())]
LEAVES = [(path, parser) for path, parser, leaf in _parsers(build_parser()) if leaf]


def _name(value: object) -> str | None:
    return " ".join(value) if isinstance(value, tuple) else None


def test_the_parser_tree_has_every_command_of_the_readme() -> None:
    """A sanity check of the walk: the leaves are the commands the README documents."""
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"init", "ingest", "items", "custody", "verify", "verify-proof", "checkpoint",
            "demo", "device add", "device list", "device assign", "officer add",
            "officer list", "dock", "status", "audit", "case open", "case list",
            "case show", "case close", "case archive", "case link", "case unlink",
            "case autolink", "case activity add", "excuse", "overdue", "worker", "jobs",
            "catalog migrate-to", "catalog upgrade", "witness init", "witness serve",
            "witness submit", "key rotate", "device retire", "device lost", "device repair",
            "device return", "correct", "case stage", "case decide", "person add",
            "person list", "person grant",
            "person revoke", "person disable", "person passwd", "access-log",
            "case confidentiality", "export request", "export approve", "export build",
            "export list", "verify-export", "console"} == names  # fmt: skip


@pytest.mark.parametrize(("path", "parser"), PARSERS, ids=_name)
def test_every_subcommand_has_a_description_and_an_example(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """'evidock ... --help' says what the command does and shows how it is typed."""
    assert parser.description and parser.description.strip()
    assert "\nexamples:\n  " in parser.format_help()
    assert _examples(parser)
    for words in _examples(parser):
        assert words[0] == "evidock" and tuple(words[1 : 1 + len(path)]) == path, words


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=_name)
def test_every_command_takes_json_before_or_after_it(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """Each example parses with --json after it and before it, and both ask for JSON; without
    it, the example asks for text."""
    for words in _examples(parser):
        argv = [w for w in words[1:] if w != "--json"]
        assert build_parser().parse_args(argv).json is False, argv
        after = build_parser().parse_args([*argv, "--json"])
        before = build_parser().parse_args(["--json", *argv])
        assert after.json is True and before.json is True, argv
        assert after.func is before.func


@pytest.mark.parametrize(("path", "parser"), LEAVES, ids=_name)
def test_every_handler_takes_the_arguments_the_output_and_the_settings(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    """Handlers are typed (args: Namespace, out: Output, settings: Settings) -> int."""
    func = parser.get_default("func")
    hints = typing.get_type_hints(func)
    assert list(hints.values()) == [argparse.Namespace, Output, Settings, int]


@pytest.mark.parametrize(
    "argv",
    [
        ("items", "--json"),
        ("case", "list", "--json"),
        ("status", "--json"),
        ("device", "list", "--json"),
        ("jobs", "--json"),
    ],
    ids=" ".join,
)
def test_listings_print_one_json_document_with_json_after_the_command(run, argv) -> None:
    """'evidock items --json' and the like: exit 0 and exactly one JSON document on stdout."""
    p = run(*argv)
    assert p.returncode == 0, p.stderr
    json.loads(p.stdout)  # one document, nothing else
    _no_traceback(p)


def test_a_migration_target_in_a_missing_folder_is_bad_usage_not_an_outage(
    run, tmp_path: Path
) -> None:
    """A SQLite target whose folder is not there exits 2 (fix it), not 4 (try again)."""
    target = tmp_path / "no" / "such" / "folder" / "copy.db"
    p = run("catalog", "migrate-to", f"sqlite:///{target}")
    assert p.returncode == 2, p.stderr
    assert f"the folder of the target {target} does not exist" in p.stderr
    assert "hint: Create the folder first" in p.stderr
    assert not target.parent.exists()
    _no_traceback(p)


def test_version_names_the_release_and_the_commit(bare) -> None:
    """--version prints the installed distribution's version (and the git commit when known)
    without a data directory or a configuration."""
    from importlib.metadata import version

    from ingest.version import commit

    p = bare("--version")
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[:2] == ["evidock", version("evidock")]
    if commit():
        assert f"(commit {commit()})" in p.stdout
