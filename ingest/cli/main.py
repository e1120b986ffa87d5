"""The ``evidock`` command: the top parser, dispatch, and failures turned into messages.

Each command module adds its subcommands with ``add_parsers``; the exit code of a failure
comes from ``ingest.errors.EXIT_CODES``, the one table of them.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import i18n
from i18n import _
from ingest.cli import (
    audit,
    cases,
    catalog,
    console,
    correct,
    custody,
    demo,
    dock,
    evidence,
    export,
    keys,
    people,
    registry,
    witness,
    worker,
)
from ingest.cli.common import Handler, Parser, examples
from ingest.config import load, reader_language
from ingest.errors import (
    EXIT_FAILURE,
    EXIT_MEANINGS,
    EXIT_USAGE,
    FAILURES,
    ConfigError,
    Failure,
    UsageError,
    exit_code_for,
)
from ingest.output import Output, TerminalLogFormatter, for_terminal
from ingest.version import describe
from storage.blobs.durable import UMASK

logger = logging.getLogger("evidock")

COMMAND_MODULES = (
    registry,
    evidence,
    correct,
    custody,
    audit,
    demo,
    dock,
    cases,
    export,
    worker,
    catalog,
    witness,
    keys,
    people,
    console,
)
"""In the order ``evidock --help`` lists their commands."""


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code}  {_(meaning)}" for code, meaning in EXIT_MEANINGS.items())
    p = Parser(
        prog="evidock",
        description=_("Evidence-media ingestion: verified acquisition, custody log, compliance."),
        epilog=examples(
            "evidock init",
            "evidock ingest /media/BWC-7 --device BWC-7",
            "evidock items --json",
            "evidock --lang en COMMAND --help",
        )
        + "\n\n"
        + _("exit codes:")
        + f"\n{codes}",
    )
    p.add_argument(
        "--version",
        action="version",
        version=f"evidock {describe()}",
        help=_("show program's version number and exit"),
    )
    p.add_argument("--config", type=Path, help=_("configuration file (TOML)"))
    p.set_defaults(json=False)  # --json comes with every Parser, before or after a subcommand
    p.add_argument("-v", "--verbose", action="count", default=0, help=_("more log lines on stderr"))
    sub = p.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_parsers(sub)
    return p


def _configure_logging(verbose: int, daemon: bool) -> None:
    """Commands log WARNING and above unless ``-v``; the daemons (``daemon`` set by their
    parser) log INFO by default, so sessions and their outcomes reach the journal."""
    quiet = logging.INFO if daemon else logging.WARNING
    level = quiet if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)  # messages carry device names: escaped
    handler.setFormatter(
        TerminalLogFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    try:
        lang = reader_language(requested_language(arguments))
    except ConfigError as e:
        _failure(e)
        return EXIT_USAGE
    previous = i18n.activate(lang)  # before the parser: its help is read too
    try:
        return _run(arguments)
    finally:
        i18n.activate(previous)


def requested_language(argv: Sequence[str]) -> str | None:
    """The ``--lang`` of a command line, wherever it stands (the parser checks it again)."""
    found: str | None = None
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(argv):
            found = argv[i + 1]
        elif arg.startswith("--lang="):
            found = arg.removeprefix("--lang=")
    return found


def _failure(e: Failure) -> None:
    """An error as a person reads it: what happened, its code, and what to do."""
    message = for_terminal(f"{e} [{e.code}]")
    print(_("evidock: {message}").format(message=message), file=sys.stderr)
    print(_("hint: {hint}").format(hint=for_terminal(_(e.hint))), file=sys.stderr)


def _run(argv: Sequence[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        message = for_terminal(str(e))  # the parser's refusals name the command already
        if not message.startswith("evidock"):
            message = _("evidock: {message}").format(message=message)
        print(message, file=sys.stderr)
        print(_("hint: {hint}").format(hint=for_terminal(_(e.hint))), file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.verbose, getattr(args, "daemon", False))
    func: Handler = args.func
    umask = os.umask(UMASK)  # what evidock makes is not for others on the host (issue 16)
    try:
        settings = load(args.config)
        out = Output(json_mode=args.json, zone=settings.zone)
        return func(args, out, settings)
    except FAILURES as e:
        _failure(e)
        return exit_code_for(e)
    except BrokenPipeError:
        # the reader went away (evidock items | head): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # the user gets a message, the log the traceback
        logger.debug("internal error", exc_info=True)
        detail = for_terminal(f"{type(e).__name__}: {e}")
        print(_("evidock: internal error: {detail}").format(detail=detail), file=sys.stderr)
        print(
            _("hint: nothing half-recorded; run again with -vv and report the log lines"),
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(
            _("evidock: interrupted; nothing half-recorded, run the command again"),
            file=sys.stderr,
        )
        return 130
    finally:
        os.umask(umask)


if __name__ == "__main__":
    sys.exit(main())
