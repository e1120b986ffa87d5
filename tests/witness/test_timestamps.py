"""RFC 3161 timestamps of checkpoints: stored, checkable with openssl, enforced by verify."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ingest.config import TrustSettings
from ingest.context import LOG_ORIGIN, Context
from storage.catalog.cosignatures import CosignatureOps
from tests.witness.tsa import Tsa, running_tsa
from verify.audit.run import run_audit
from verify.audit.witnesses import WitnessPolicy
from verify.log.events import EventType
from verify.tsa.rfc3161 import TimestampError, check, load_chain


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[Tsa]:
    with running_tsa(tmp_path / "tsa") as t:
        yield t


def stamped(ctx: Context, url: str, chain_file: Path) -> Context:
    trust = TrustSettings(tsa_url=url, tsa_chain=load_chain(chain_file.read_bytes()))
    return dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, trust=trust))


def append(ctx: Context, n: int) -> None:
    with ctx.catalog.write() as txn:
        for i in range(n):
            ctx.custody.append(txn, type=EventType.VIEWED, actor="user:test", data={"n": i})


def codes(ctx: Context) -> list[str]:
    policy = WitnessPolicy(keys=(), grace=timedelta(0), tsa=ctx.settings.trust.tsa_chain)
    report = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                       origin=LOG_ORIGIN, quick=True, witnesses=policy)  # fmt: skip
    return sorted({p.code for p in report.problems})


def test_checkpoint_token_is_stored_and_verifies_with_openssl(ctx: Context, tsa: Tsa) -> None:
    """Each checkpoint gets a token; openssl ts -verify accepts the stored one over the note."""
    dock = stamped(ctx, tsa.url, tsa.folder / "chain.pem")
    append(dock, 2)
    assert dock.checkpoint() == (2, True)
    folder = dock.store.root / "checkpoints"
    note, token = folder / "000000000002.dock-test.note", folder / "000000000002.dock-test.tsr"
    proc = subprocess.run(
        ["openssl", "ts", "-verify", "-data", str(note), "-in", str(token),
         "-CAfile", str(tsa.folder / "ca.pem"), "-untrusted", str(tsa.folder / "tsa.pem")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stderr
    with dock.catalog.read() as txn:
        (row,) = CosignatureOps(txn).timestamps()
    assert row.token == token.read_bytes()
    assert codes(dock) == []


def test_a_token_over_another_note_is_invalid(ctx: Context, tsa: Tsa) -> None:
    """A token does not verify over a changed note; with the wrong chain it does not either."""
    dock = stamped(ctx, tsa.url, tsa.folder / "chain.pem")
    append(dock, 1)
    dock.checkpoint()
    with dock.catalog.read() as txn:
        (cp,) = txn.log.checkpoints()
        (row,) = CosignatureOps(txn).timestamps()
    chain = load_chain((tsa.folder / "chain.pem").read_bytes())
    with pytest.raises(TimestampError):
        check(row.token, cp.note.replace("\n1\n", "\n2\n").encode(), chain)
    wrong = load_chain((tsa.folder / "ca.pem").read_bytes() * 2)
    with pytest.raises(TimestampError):
        check(row.token, cp.note.encode(), wrong)


def test_tsa_down_leaves_checkpoints_pending_then_missing_until_stamped(
    ctx: Context, tsa: Tsa
) -> None:
    """Without an answer the checkpoints wait (timestamp-missing); later they are stamped."""
    offline = stamped(ctx, "http://127.0.0.1:9/tsa", tsa.folder / "chain.pem")
    for n in (1, 2):
        append(offline, n)
        offline.checkpoint()
    assert codes(offline) == ["timestamp-missing"]
    dock = stamped(ctx, tsa.url, tsa.folder / "chain.pem")
    assert dock.timestamp_checkpoints() == (2, 0)
    assert codes(dock) == []


def test_a_token_earlier_than_the_events_it_covers_is_out_of_order(ctx: Context, tsa: Tsa) -> None:
    """A log whose last event claims a time after its checkpoint's token is caught."""
    dock = stamped(ctx, tsa.url, tsa.folder / "chain.pem")
    append(dock, 1)
    dock.checkpoint()
    with dock.catalog.write() as txn:  # the covered event claims a time after the token
        txn.s.execute(text("UPDATE custody_event SET time = '2099-01-01T00:00:00.000000Z'"))
    assert "timestamp-out-of-order" in codes(dock)
