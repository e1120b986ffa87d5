"""The ``evidock`` command: argument parsing, dispatch, and the one map of errors to exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from devices.errors import DeviceError
from ingest.cli import audit as cmd_audit
from ingest.cli import cases as cmd_cases
from ingest.cli import catalog as cmd_catalog
from ingest.cli import commands
from ingest.cli import dock as cmd_dock
from ingest.cli import worker as cmd_worker
from ingest.config import load
from ingest.errors import EXIT_FAILURE, EXIT_USAGE, IngestError, UsageError
from ingest.output import Output, TerminalLogFormatter, for_terminal
from storage.errors import CatalogUnavailable, StorageError, StoreIntegrityError
from verify.errors import VerifyError

logger = logging.getLogger("evidock")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}", hint=f"Run '{self.prog} --help'.")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="evidock",
        description="Evidence-media ingestion: verified acquisition, custody log, compliance.",
    )
    p.add_argument("--config", type=Path, help="configuration file (TOML)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log lines on stderr")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("init", help="create the data dir, catalog and signing key (idempotent)")
    s.set_defaults(func=commands.cmd_init)

    s = sub.add_parser("ingest", help="one-shot ingest of a mounted device or folder")
    s.add_argument("path", type=Path)
    s.add_argument("--device", metavar="SERIAL", help="serial of the device (registered or not)")
    s.add_argument("--officer", metavar="BADGE", help="officer the recordings belong to")
    s.set_defaults(func=commands.cmd_ingest)

    s = sub.add_parser("items", help="list evidence items")
    s.add_argument("--device", metavar="SERIAL")
    s.add_argument("--officer", metavar="BADGE")
    s.set_defaults(func=commands.cmd_items)

    s = sub.add_parser(
        "custody",
        help="chain-of-custody report of one item, with proofs that can be checked offline",
    )
    s.add_argument("item", type=int)
    _json_flag(s)
    s.add_argument("--csv", action="store_true", help="one CSV row per event on stdout")
    s.set_defaults(func=commands.cmd_custody)

    s = sub.add_parser(
        "verify",
        help="check the custody log, its signed checkpoints and every stored object",
        description="Collects every problem, exits 1 if there is any; never repairs anything. "
        "Afterwards records a fixity event per re-hashed item and signs a checkpoint.",
    )
    s.add_argument("--item", type=int, metavar="ID", help="only this item (and the whole log)")
    s.add_argument("--case", metavar="NUMBER", help="only this case's facts and linked items")
    s.add_argument("--quick", action="store_true", help="do not re-hash the stored objects")
    s.add_argument(
        "--full",
        action="store_true",
        help="also download and re-hash every S3 object (default: size, checksum, version "
        "and lock from HEAD)",
    )
    s.add_argument(
        "--metrics-textfile",
        type=Path,
        metavar="PATH",
        help="also write the results for node_exporter's textfile collector (a *.prom file)",
    )  # metrics (issue 7)
    _json_flag(s)
    s.set_defaults(func=commands.cmd_verify)

    s = sub.add_parser(
        "verify-proof", help="check a custody report (evidock custody ITEM --json) offline"
    )
    s.add_argument("file", type=Path, help="the JSON report")
    s.add_argument(
        "--key", metavar="VERIFIER_KEY", help="the dock's verifier key as the office publishes it"
    )
    _json_flag(s)
    s.set_defaults(func=commands.cmd_verify_proof)

    s = sub.add_parser("checkpoint", help="sign and publish a checkpoint of the custody log now")
    s.set_defaults(func=commands.cmd_checkpoint)

    s = sub.add_parser("demo", help="the whole job on a simulated camera, end to end")
    s.add_argument("--home", type=Path, help="data dir for the demo (default: a new temp dir)")
    s.set_defaults(func=commands.cmd_demo)

    dev = sub.add_parser("device", help="register and list devices").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    s = dev.add_parser("add", help="register a device by its serial")
    s.add_argument("serial")
    s.add_argument("--kind", default="body-camera", help="body-camera, audio-recorder, camera, ...")
    s.add_argument("--vendor", default="")
    s.add_argument("--model", default="")
    s.add_argument("--officer", metavar="BADGE", help="assign it to this officer from now on")
    s.set_defaults(func=commands.cmd_device_add)
    s = dev.add_parser("list", help="list devices")
    s.set_defaults(func=commands.cmd_device_list)
    s = dev.add_parser("assign", help="hand a device to an officer (history is kept)")
    s.add_argument("serial")
    s.add_argument("badge")
    s.add_argument("--from", dest="start", metavar="TIME", help="ISO time (default: now)")
    s.set_defaults(func=commands.cmd_device_assign)

    off = sub.add_parser("officer", help="register and list officers").add_subparsers(
        dest="action", required=True, parser_class=_Parser
    )
    s = off.add_parser("add", help="register an officer")
    s.add_argument("badge")
    s.add_argument("--name", required=True)
    s.add_argument("--unit", default="")
    s.add_argument("--certificate", default="", help="enforcement certificate number")
    s.set_defaults(func=commands.cmd_officer_add)
    s = off.add_parser("list", help="list officers")
    s.set_defaults(func=commands.cmd_officer_list)

    cmd_dock.add_parsers(sub)
    cmd_audit.add_parsers(sub)
    cmd_cases.add_parsers(sub)
    cmd_worker.add_parsers(sub)  # issue 5: evidock worker, evidock jobs
    cmd_catalog.add_parsers(sub)  # issue 9: evidock catalog migrate-to
    return p


def _json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json`` after the subcommand too; SUPPRESS keeps a global ``--json`` intact."""
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="one JSON document"
    )


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)  # messages carry device names: escaped
    handler.setFormatter(
        TerminalLogFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    logging.basicConfig(level=level, handlers=[handler])


def exit_code_for(err: BaseException) -> int:
    """The one place where failures become exit codes (design.md, 'CLI contract')."""
    if isinstance(err, IngestError):
        return err.exit_code
    if isinstance(err, StoreIntegrityError | VerifyError):
        return EXIT_FAILURE
    if isinstance(err, CatalogUnavailable):
        return EXIT_USAGE
    if isinstance(err, StorageError | DeviceError):
        return EXIT_USAGE
    return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as e:
        print(f"evidock: {for_terminal(str(e))}\nhint: {for_terminal(e.hint)}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging(args.verbose)
    func: Callable[[argparse.Namespace, Output, object], int] = args.func
    try:
        settings = load(args.config)
        out = Output(json_mode=args.json, zone=settings.zone)
        return func(args, out, settings)
    except (IngestError, StorageError, DeviceError, VerifyError) as e:
        code = getattr(e, "code", "error")
        print(f"evidock: {for_terminal(f'{e} [{code}]')}\nhint: {for_terminal(e.hint)}",
              file=sys.stderr)  # fmt: skip
        return exit_code_for(e)
    except BrokenPipeError:
        # the reader went away (evidock items | head): not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # the user gets a message, the log the traceback
        logger.debug("internal error", exc_info=True)
        print(
            f"evidock: internal error: {type(e).__name__}: {for_terminal(str(e))}\n"
            "hint: nothing half-recorded; run again with -vv and report the log lines",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("evidock: interrupted; nothing half-recorded, run the command again", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
