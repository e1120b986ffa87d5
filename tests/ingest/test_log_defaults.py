"""What reaches the journal by default (issue 20): the daemons log INFO without ``-v``, other
commands stay quiet, and watchdog's expected-state RuntimeWarnings do not reach stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ingest.cli.main import build_parser

PROBE = """
import logging, sys
from ingest.cli.main import _configure_logging, build_parser
args = build_parser().parse_args(sys.argv[1:])
_configure_logging(args.verbose, getattr(args, "daemon", False))
print(logging.getLevelName(logging.getLogger().level))
"""


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["dock"], "INFO"),
        (["worker"], "INFO"),
        (["witness", "serve", "--state", "/nonexistent"], "INFO"),
        (["items"], "WARNING"),
        (["-v", "items"], "INFO"),
        (["-vv", "dock"], "DEBUG"),
    ],
)
def test_daemons_log_info_by_default_and_commands_warning(argv: list[str], level: str) -> None:
    # a fresh interpreter: basicConfig configures the root logger once per process
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == level


def test_only_daemon_parsers_set_the_daemon_default() -> None:
    p = build_parser()
    assert p.parse_args(["dock"]).daemon is True
    assert not getattr(p.parse_args(["verify"]), "daemon", False)


def test_watchdog_callback_warnings_do_not_reach_stderr() -> None:
    # the exact warnings InotifyFD gives when a wiped device folder's watch is already gone
    code = (
        "import warnings, devices.watch\n"
        "warnings.warn(\"Callback with id '7' does not exist for watch <Watch wd=3>"
        ' and therefore cannot be removed", RuntimeWarning)\n'
        "warnings.warn(\"Callback with id '8' already exists for watch <Watch wd=4>."
        ' It will be Overwritten.", RuntimeWarning)\n'
        "warnings.warn('another warning', RuntimeWarning)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Callback with id" not in done.stderr
    assert "another warning" in done.stderr  # the filter is that narrow
