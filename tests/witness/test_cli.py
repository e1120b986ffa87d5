"""``evidock witness init`` and ``serve`` as an operator runs them, as real processes."""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.config import TrustSettings, WitnessSettings
from ingest.context import LOG_ORIGIN, Context
from verify.log.events import EventType
from verify.witness.cosignature import parse_cosigner_key


def evidock(*args: str) -> subprocess.CompletedProcess[str]:
    # the suite's language (tests/conftest.py) stays: the assertions read English
    env = {
        k: v for k, v in os.environ.items() if k == "EVIDOCK_LANG" or not k.startswith("EVIDOCK_")
    }
    return subprocess.run([sys.executable, "-m", "ingest.cli.main", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@contextmanager
def serving(state: Path, log: str) -> Iterator[str]:
    """``evidock witness serve`` on a free port; yields its URL; SIGTERM at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest.cli.main", "witness", "serve", "--state", str(state),
         "--listen", "127.0.0.1:0", "--log", f"{LOG_ORIGIN}={log}"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert " listening on 127.0.0.1:" in line, line
        yield "http://" + line.split(" listening on ")[1].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
        assert code == 0


def test_init_prints_a_cosignature_key_and_never_replaces_it(tmp_path: Path) -> None:
    """init makes a 0600 key and prints its vkey; a second init prints the same key."""
    state = tmp_path / "w"
    first = evidock("witness", "init", "--state", str(state), "--name", "legal.example/w1")
    assert first.returncode == 0, first.stderr
    vkey = first.stdout.split("(pin it in the docks' [trust] witnesses): ")[1].strip()
    assert parse_cosigner_key(vkey).name == "legal.example/w1"
    assert stat.S_IMODE((state / "witness.key").stat().st_mode) == 0o600
    again = evidock("witness", "init", "--state", str(state), "--name", "legal.example/w1")
    assert again.returncode == 0 and vkey in again.stdout and "already there" in again.stdout
    other = evidock("witness", "init", "--state", str(state), "--name", "other/w2")
    assert other.returncode == 2 and "already holds the key of witness" in other.stderr


def test_served_witness_cosigns_and_remembers_its_latest_checkpoint_across_restarts(
    ctx: Context, tmp_path: Path
) -> None:
    """The dock's checkpoints are cosigned; after a restart the witness still holds the
    latest (served at /latest) and cosigns the next one from there."""
    state = tmp_path / "w"
    init = evidock("witness", "init", "--state", str(state), "--name", "legal.example/w1")
    key = parse_cosigner_key(init.stdout.split("witnesses): ")[1].strip())
    for round_ in (1, 2):
        with serving(state, ctx.key.verifier) as url:
            trust = TrustSettings(witnesses=(WitnessSettings(url=url, key=key),))
            dock = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, trust=trust))
            with dock.catalog.write() as txn:
                dock.custody.append(txn, type=EventType.VIEWED, actor="user:t", data={"n": round_})
            size, _ = dock.checkpoint()
            query = urllib.parse.urlencode({"origin": LOG_ORIGIN})
            with urllib.request.urlopen(f"{url}/latest?{query}", timeout=10) as r:
                latest = r.read().decode()
            assert latest.split("\n")[:2] == [LOG_ORIGIN, str(size)]
            assert (dock.store.root / "checkpoints" / f"{size:012d}.dock-test.cosig").exists()
    with ctx.catalog.read() as txn:
        assert [cp.size for cp in txn.log.checkpoints()] == [1, 2]
    done = dock.submit_to_witnesses()
    assert done is None or done.pending == 0
