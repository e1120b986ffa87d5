"""Media tools die with the process that started them: a SIGKILLed dock leaves no child."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.media.probe import die_with_parent
from tests.procs import gone, wait_until

_CHILD = """
import sys
from ingest.media.probe import MediaProbe
with MediaProbe() as probe:
    assert probe.exif.pid is not None
    print(probe.exif.pid, flush=True)
    sys.stdin.readline()  # hold exiftool open until killed
"""


@pytest.mark.skipif(not die_with_parent(), reason="util-linux setpriv is not installed")
def test_a_sigkilled_ingest_leaves_no_exiftool_behind(tmp_path: Path) -> None:
    """The persistent exiftool of a process killed with SIGKILL is killed with it, instead of
    living on re-parented to PID 1 (seven of them after one test run, before)."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout is not None
        exiftool = int(child.stdout.readline())
        assert not gone(exiftool)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        assert wait_until(lambda: gone(exiftool), 30), f"exiftool {exiftool} outlived its parent"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdin is not None:
            child.stdin.close()
        if child.stdout is not None:
            child.stdout.close()
