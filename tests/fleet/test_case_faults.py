"""Issue 18: a fault inside a case operation's transaction leaves it undone whole, and a rerun
does it once.

The operations are those a custodian runs and the one a docking runs by itself: ``case link``,
the auto-link after a docking (``ingest``), ``excuse`` and ``case archive``. Each runs as a real
``evidock`` process that reaches ``ingest.cases.steps.CaseStep`` (its rows and custody events
written, nothing committed) and there either stops itself (SIGSTOP) while the test restarts
the PostgreSQL server under it, or SIGKILLs itself. The point is hit exactly, never raced for:
the test waits for the child to be stopped (``waitpid(WUNTRACED)``) before it restarts the
server, and continues it afterwards.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.cases.steps import CaseStep
from ingest.cli.main import build_parser
from ingest.config import Settings
from ingest.context import open_context
from ingest.errors import FAILURES, exit_code_for
from ingest.media.simcam import make_clip
from ingest.output import Output
from storage.catalog.caselinks import LinkOps
from storage.catalog.cases import CaseOps
from storage.catalog.offload import OffloadOps
from storage.catalog.session import Catalog
from support.pg import fresh_database
from tests.conftest import make_settings
from tests.fleet.conftest import OwnServer
from tests.procs import child_env

RECORDED = (datetime.now(UTC) - timedelta(hours=30)).replace(microsecond=0)  # late: > 24 h
CASE1, CASE2 = "2026-0001", "2026-0002"  # CASE1 has the activity the clip falls in
OPS = {  # the operation, and the step inside its transaction where the fault strikes
    "autolink": CaseStep.AUTOLINK,
    "link": CaseStep.LINK,
    "excuse": CaseStep.EXCUSE,
    "archive": CaseStep.ARCHIVE,
}


@pytest.fixture(scope="module")
def late_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s clip recorded 30 h ago: docked now, it is late (Art. 28)."""
    return make_clip(tmp_path_factory.mktemp("late") / "late.mp4", start=RECORDED, seconds=2,
                     size="160x120")  # fmt: skip


@dataclass
class Dock:
    """One dock's data dir on the catalog ``url``: ``evidock`` as a process (``run``), or in
    this process (``cli``: quicker, for getting ready and looking)."""

    env: dict[str, str]
    settings: Settings
    camera: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ingest.cli.main", *args], env=self.env,
                              capture_output=True, text=True, timeout=180)  # fmt: skip

    def cli(self, *argv: str) -> tuple[int, str]:
        """(exit code, stdout) of ``evidock ARGV`` run in this process."""
        args = build_parser().parse_args(list(argv))
        buf = io.StringIO()
        out = Output(json_mode=args.json, zone=self.settings.zone, stream=buf)
        try:
            return args.func(args, out, self.settings), buf.getvalue()
        except FAILURES as e:
            return exit_code_for(e), f"{e} [{e.code}]"

    def ok(self, *argv: str) -> str:
        code, said = self.cli(*argv)
        assert code == 0, (argv, said)
        return said

    def counts(self) -> Counter[str]:
        """Custody events of the case operations, by type (and case, for links)."""
        cat = Catalog(self.settings.catalog_url)
        try:
            with cat.read() as txn:
                seen: Counter[str] = Counter()
                for e in txn.log.events():
                    if e.type == "linked":
                        seen[f"linked {json.loads(e.data)['case']}"] += 1
                    elif e.type in ("excused", "late_flagged", "case_archived"):
                        seen[e.type] += 1
                return seen
        finally:
            cat.close()

    def rows(self) -> dict[str, object]:
        """The catalog rows the operations write (the projection of those events)."""
        cat = Catalog(self.settings.catalog_url)
        try:
            with cat.read() as txn:
                cases = CaseOps(txn)
                links = {
                    n: [k.item_id for k in LinkOps(txn).links(cases.case(n).id, live_only=True)]
                    for n in (CASE1, CASE2)
                }
                excuses = OffloadOps(txn).excuses([1], at=datetime.now(UTC)).get(1, [])
                return {"links": links, "excuses": len(excuses),
                        "status": cases.case(CASE2).status}  # fmt: skip
        finally:
            cat.close()


def _dock(root: Path, url: str, clip: Path) -> Dock:
    """A dock with officer J1, camera BWC-1 held by J1 for a month, case CASE1 with an
    inspection of J1 around the clip, CASE2 without activities; the camera not yet docked."""
    camera = root / "camera" / "DCIM" / "100MEDIA"
    camera.mkdir(parents=True)
    dest = camera / "REC_0001.MP4"
    os.link(clip, dest)
    end = (RECORDED + timedelta(seconds=2)).timestamp()
    os.utime(dest, (end, end))  # the camera's file time agrees with its clock
    home, name = root / "home", "dock-case"
    d = Dock(env=child_env(home, url, dock=name), settings=make_settings(home, url, name),
             camera=root / "camera")  # fmt: skip
    open_context(d.settings, create=True).close()  # what 'evidock init' makes
    month = (RECORDED - timedelta(days=30)).isoformat()
    d.ok("officer", "add", "J1", "--name", "Officer J1")
    d.ok("device", "add", "BWC-1", "--in-service-since", month)
    d.ok("device", "assign", "BWC-1", "J1", "--from", month)
    for number in (CASE1, CASE2):
        d.ok("case", "open", number, "--type", "penalty", "--handler", "J1", "--procedure",
             "simple")  # fmt: skip
    d.ok("case", "activity", "add", CASE1, "--type", "on-site-inspection", "--officer", "J1",
         "--from", (RECORDED - timedelta(minutes=1)).isoformat(),
         "--to", (RECORDED + timedelta(minutes=1)).isoformat())  # fmt: skip
    return d


def _ready(d: Dock, op: str) -> tuple[str, ...]:
    """Bring the dock to where ``op`` can run; returns its command line."""
    ingest = ("--json", "ingest", str(d.camera), "--device", "BWC-1")
    if op == "autolink":
        return ingest
    d.ok(*ingest)
    if op == "link":
        return ("case", "link", CASE2, "1", "--stage", "investigation")
    if op == "excuse":
        return ("excuse", "1", "--reason", "field work, back at 18:00")
    d.ok("case", "link", CASE2, "1", "--stage", "investigation")
    d.ok("worker", "--drain")  # its review proxy: the case file is complete
    d.ok("case", "close", CASE2)
    return ("case", "archive", CASE2)


DONE = {  # what the operation leaves when it has happened (once)
    "autolink": (
        {"linked 2026-0001": 1, "late_flagged": 1},
        {"links": {CASE1: [1], CASE2: []}, "excuses": 0, "status": "open"},
    ),
    "link": (
        {"linked 2026-0001": 1, "late_flagged": 1, "linked 2026-0002": 1},
        {"links": {CASE1: [1], CASE2: [1]}, "excuses": 0, "status": "open"},
    ),
    "excuse": (
        {"linked 2026-0001": 1, "late_flagged": 1, "excused": 1},
        {"links": {CASE1: [1], CASE2: []}, "excuses": 1, "status": "open"},
    ),
    "archive": (
        {"linked 2026-0001": 1, "late_flagged": 1, "linked 2026-0002": 1, "case_archived": 1},
        {"links": {CASE1: [1], CASE2: [1]}, "excuses": 0, "status": "archived"},
    ),
}
BEFORE = {  # ... and what there is before it
    "autolink": ({}, {"links": {CASE1: [], CASE2: []}, "excuses": 0, "status": "open"}),
    "link": ({"linked 2026-0001": 1, "late_flagged": 1}, DONE["autolink"][1]),
    "excuse": ({"linked 2026-0001": 1, "late_flagged": 1}, DONE["autolink"][1]),
    "archive": (
        {"linked 2026-0001": 1, "late_flagged": 1, "linked 2026-0002": 1},
        {"links": {CASE1: [1], CASE2: [1]}, "excuses": 0, "status": "closed"},
    ),
}


def _undone_then_done_once(d: Dock, op: str, argv: tuple[str, ...]) -> None:
    """Nothing of ``op`` is recorded; the rerun does it; another rerun adds nothing; the log,
    the checkpoints and the objects agree."""
    assert (d.counts(), d.rows()) == BEFORE[op], "a part of the cut operation was recorded"
    again = d.run(*argv)
    assert again.returncode == 0, again.stderr
    assert (d.counts(), d.rows()) == DONE[op]
    d.cli(*argv)  # once more: 'already' or a refusal, never a second event
    assert (d.counts(), d.rows()) == DONE[op], "the operation was recorded twice"
    code, said = d.cli("verify")
    assert code == 0, said


@pytest.fixture
def restartable(own_pg: OwnServer) -> Iterator[str]:
    """A database on a server of the test's own, which it may restart."""
    with fresh_database(own_pg.admin_url) as url:
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["fast", "immediate"])
@pytest.mark.parametrize("op", list(OPS))
def test_a_postgresql_restart_inside_a_case_operation_undoes_it_and_a_rerun_does_it_once(
    tmp_path: Path, restartable: str, own_pg: OwnServer, late_clip: Path, op: str, mode: str
) -> None:
    """The server restarts while the operation's rows and events are written and not
    committed: the command exits 4 (catalog unavailable) with a message and no traceback,
    nothing of it is recorded, the rerun does it once, 'evidock verify' is clean."""
    d = _dock(tmp_path, restartable, late_clip)
    argv = _ready(d, op)
    stop = {"EVIDOCK_TEST_STOP_AT": OPS[op], "EVIDOCK_TEST_STOP_SIGNAL": "STOP"}
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "ingest.cli.main", *argv],
                                env=d.env | stop, stdout=out, stderr=err)  # fmt: skip
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), (status, (tmp_path / "err").read_text())
        own_pg.restart_now(mode)  # its session is cut in the middle of the transaction
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    code = proc.wait(timeout=120)
    said = (tmp_path / "err").read_text()
    assert code == 4, said
    assert "[catalog-unavailable]" in said and "hint:" in said, said
    assert "Traceback" not in said and "internal error" not in said, said
    _undone_then_done_once(d, op, argv)


@pytest.mark.parametrize("op", list(OPS))
def test_a_sigkill_inside_a_case_operation_undoes_it_and_a_rerun_does_it_once(
    tmp_path: Path, catalog_url: str, late_clip: Path, op: str
) -> None:
    """Killed while the operation's rows and events are written and not committed: nothing
    of it is recorded, the rerun does it once, 'evidock verify' is clean (both catalogs)."""
    d = _dock(tmp_path, catalog_url, late_clip)
    argv = _ready(d, op)
    killed = subprocess.run([sys.executable, "-m", "ingest.cli.main", *argv],
                            env=d.env | {"EVIDOCK_TEST_STOP_AT": OPS[op]}, capture_output=True,
                            timeout=180)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    _undone_then_done_once(d, op, argv)
