"""Write evidock.1 from the CLI's own argparse help: every command and subcommand, their options
and examples, and the exit codes. Run by debian/rules; usage: manpage.py OUTPUT_FOLDER."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from ingest.cli.main import build_parser
from ingest.errors import EXIT_MEANINGS
from ingest.version import release


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """Every parser below ``parser``, depth first, in the order ``--help`` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases once
                yield sub
                yield from _subparsers(sub)


def _text(line: str) -> str:
    """One line of text as roff reads it literally."""
    line = line.replace("\\", "\\e")
    return "\\&" + line if line.startswith((".", "'")) else line


def _block(help_text: str) -> list[str]:
    return [".nf", *(_text(line) for line in help_text.rstrip().splitlines()), ".fi"]


def manpage(parser: argparse.ArgumentParser, *, version: str, date: str) -> str:
    top = parser.format_help()
    lines = [
        f'.TH EVIDOCK 1 "{date}" "evidock {version}" "evidock manual"',
        ".SH NAME",
        "evidock \\- evidence-media ingestion for docking stations",
        ".SH SYNOPSIS",
        ".B evidock",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        "evidock copies every recording off a docked body camera or recorder with a verified",
        "SHA-256, keeps it in a content-addressed evidence store and records every step in a",
        "tamper-evident custody log. This page is the program's own help, command by command.",
        ".SH USAGE",
        *_block(top),
        ".SH COMMANDS",
    ]
    for sub in _subparsers(parser):
        lines += [".SS " + _text(sub.prog), *_block(sub.format_help())]
    lines += [".SH EXIT STATUS", ".TP"]
    for code, meaning in EXIT_MEANINGS.items():
        lines += [f".B {code}", _text(meaning), ".TP"]
    lines.pop()
    lines += [
        ".SH FILES",
        ".TP",
        ".I /etc/evidock/evidock.toml",
        "the configuration",
        ".TP",
        ".I /var/lib/evidock",
        "the data directory: catalog.db, store/, keys/ (never deleted by the package)",
        ".SH SEE ALSO",
        "/usr/share/doc/evidock/README.md.gz, /usr/share/doc/evidock/docs/",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: manpage.py OUTPUT_FOLDER", file=sys.stderr)
        return 2
    out = Path(argv[0])
    # dpkg-buildpackage sets SOURCE_DATE_EPOCH from debian/changelog: a reproducible date
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    date = when.strftime("%Y-%m-%d")
    (out / "evidock.1").write_text(
        manpage(build_parser(), version=release(), date=date), encoding="utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
