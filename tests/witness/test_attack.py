"""Done-when of issue 15: a dock that rewrites its own history is caught by its witness."""

from __future__ import annotations

import base64
import dataclasses
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text

from ingest.config import TrustSettings, WitnessSettings
from ingest.context import LOG_ORIGIN, Context
from ingest.metrics.witness import witness_families
from ingest.pipeline.run import ingest_device
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.models import Base
from verify.audit.run import run_audit
from verify.audit.witnesses import WitnessPolicy
from verify.log.events import EventType
from verify.log.note import parse_verifier_key
from verify.witness.server import WitnessServer
from verify.witness.state import init_state, load_key, load_latest

Snapshot = list[tuple[Any, list[dict[str, Any]]]]


@pytest.fixture
def witnessed(ctx: Context, tmp_path: Path) -> Iterator[Context]:
    """A witness serving on 127.0.0.1 (its own state dir) and the dock pinned to it."""
    state = tmp_path / "witness"
    key, _ = init_state(state, "legal.example/w1")
    name, seed = load_key(state)
    server = WitnessServer(("127.0.0.1", 0), state=state, name=name, seed=seed,
                           logs={LOG_ORIGIN: [parse_verifier_key(ctx.key.verifier)]})  # fmt: skip
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    trust = TrustSettings(witnesses=(WitnessSettings(url=url, key=key),), witness_quorum=1,
                          witness_grace_seconds=0)  # fmt: skip
    try:
        yield dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, trust=trust))
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def dump(ctx: Context) -> Snapshot:
    """Every catalog table's rows: the older copy an attacker keeps (like pg_dump)."""
    with ctx.catalog.engine.begin() as conn:
        return [(t, [dict(r._mapping) for r in conn.execute(select(t))])
                for t in Base.metadata.sorted_tables]  # fmt: skip


def restore(ctx: Context, snapshot: Snapshot) -> None:
    """Put the older copy back in place of the catalog's rows (like pg_restore --clean)."""
    with ctx.catalog.engine.begin() as conn:
        for table, _ in reversed(snapshot):
            conn.execute(delete(table))
        for table, rows in snapshot:
            if rows:
                conn.execute(insert(table), rows)


def append_events(ctx: Context, n: int, what: str) -> None:
    with ctx.catalog.write() as txn:
        for i in range(n):
            ctx.custody.append(
                txn, type=EventType.VIEWED, actor="user:test", data={"what": f"{what}{i}"}
            )


def codes(ctx: Context) -> list[str]:
    policy = WitnessPolicy(keys=tuple(w.key for w in ctx.settings.trust.witnesses), quorum=1,
                           grace=timedelta(0))  # fmt: skip
    report = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                       origin=LOG_ORIGIN, quick=True, witnesses=policy)  # fmt: skip
    return sorted({p.code for p in report.problems})


@pytest.mark.parametrize(("forged", "status"), [(5, 422), (1, 409)], ids=["fork", "rollback"])
def test_witness_refuses_a_restored_and_rewritten_log_and_verify_reports_it(
    witnessed: Context,
    camera: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    forged: int,
    status: int,
) -> None:
    """Docked and cosigned; catalog restored from an older copy, another history appended and
    signed with the dock's key: the witness refuses (422: our tree at its size differs; 409:
    it saw more than our log holds), the dock records the alarm, verify fails."""
    ctx = witnessed
    folder = ctx.store.root / "checkpoints"
    report = ingest_device(ctx, camera, serial="CAM-1", officer=None, actor="user:test")
    assert report.checkpoint_size == 13
    assert sorted(p.name for p in folder.glob("*.cosig")) == ["000000000013.dock-test.cosig"]
    older = dump(ctx)
    append_events(ctx, 3, "honest")
    assert ctx.checkpoint() == (16, True)
    assert load_latest(tmp_path / "witness")[LOG_ORIGIN].size == 16
    with ctx.catalog.read() as txn:
        assert [c.checkpoint_id for c in CosignatureOps(txn).cosignatures()] == [1, 2]
    assert codes(ctx) == []

    # the attack: root on the dock restores yesterday's catalog, erases the newer checkpoint
    # files, appends another history and signs it with the dock's own key
    restore(ctx, older)
    for path in folder.glob("000000000016.*"):
        path.unlink()
    append_events(ctx, forged, "forged")
    with caplog.at_level(logging.ERROR, logger="verify.witness.submit"):
        assert ctx.checkpoint() == (13 + forged, True)
    assert any("WITNESS REFUSED" in r.getMessage() for r in caplog.records)
    assert load_latest(tmp_path / "witness")[LOG_ORIGIN].size == 16  # it kept what it saw
    with ctx.catalog.read() as txn:
        refusals = CosignatureOps(txn).refusals()
        gauges = {f.name: f.samples for f in witness_families(txn, ctx.settings.trust,
                                                              at=ctx.clock())}  # fmt: skip
    assert [(f.size, f.witness, f.status, f.witness_size) for f in refusals] == [
        (13 + forged, "legal.example/w1", status, 16)
    ]
    assert gauges["evidock_witness_refusals"] == ((("legal.example/w1",), 1.0),)
    assert gauges["evidock_witness_pending_checkpoints"] == ((("legal.example/w1",), 1.0),)
    assert codes(ctx) == ["witness-fork", "witness-missing"]


def test_a_witness_that_is_down_leaves_checkpoints_pending_and_gets_them_later(
    witnessed: Context, tmp_path: Path
) -> None:
    """Checkpoints taken while the witness is unreachable are cosigned in order later."""
    ctx = witnessed
    good = ctx.settings.trust
    down = TrustSettings(
        witnesses=(WitnessSettings(url="http://127.0.0.1:9", key=good.witnesses[0].key),)
    )
    offline = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, trust=down))
    for n in (2, 3):
        append_events(offline, n, f"batch{n}")
        offline.checkpoint()
    with ctx.catalog.read() as txn:
        assert CosignatureOps(txn).pending_count("legal.example/w1") == 2
    assert codes(ctx) == ["witness-missing"]
    done = ctx.submit_to_witnesses()
    assert done is not None and (done.cosigned, done.pending, done.refused) == (2, 0, ())
    assert load_latest(tmp_path / "witness")[LOG_ORIGIN].size == 5
    assert codes(ctx) == []


def test_an_altered_cosignature_is_a_bad_signature_and_does_not_count(witnessed: Context) -> None:
    """A stored cosignature line edited in the catalog: witness-bad-signature, and missing."""
    ctx = witnessed
    append_events(ctx, 2, "x")
    ctx.checkpoint()
    assert codes(ctx) == []
    with ctx.catalog.engine.begin() as conn:
        line = conn.execute(text("SELECT line FROM witness_cosignature")).scalar_one()
        blob = bytearray(base64.b64decode(line.split(" ")[2]))
        blob[-1] ^= 0x01
        forged = f"{line.rsplit(' ', 1)[0]} {base64.b64encode(bytes(blob)).decode()}\n"
        conn.execute(text("UPDATE witness_cosignature SET line = :l"), {"l": forged})
    assert codes(ctx) == ["witness-bad-signature", "witness-missing"]


@pytest.mark.parametrize(("retired", "found"), [(-1, ["witness-missing"]), (1, [])],
                         ids=["after-retirement", "before-retirement"])  # fmt: skip
def test_a_retired_witness_counts_only_for_cosignatures_made_before_it_retired(
    witnessed: Context, retired: int, found: list[str]
) -> None:
    """A cosignature whose signed time is at or after the witness's retired_at counts for
    nothing; one made before still counts toward the quorum."""
    ctx = witnessed
    append_events(ctx, 2, "x")
    ctx.checkpoint()
    key = ctx.settings.trust.witnesses[0].key
    at = datetime.now(UTC) + timedelta(hours=retired)
    policy = WitnessPolicy(keys=(key,), quorum=1, grace=timedelta(0), retired=((key.name, at),))
    report = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                       origin=LOG_ORIGIN, quick=True, witnesses=policy)  # fmt: skip
    assert sorted({p.code for p in report.problems}) == found


def test_a_retired_witness_is_sent_nothing_more(witnessed: Context, tmp_path: Path) -> None:
    """Once retired_at has passed, checkpoints no longer go to that witness."""
    (w,) = witnessed.settings.trust.witnesses
    gone = dataclasses.replace(w, retired_at=datetime.now(UTC) - timedelta(seconds=1))
    trust = dataclasses.replace(witnessed.settings.trust, witnesses=(gone,), witness_quorum=0)
    ctx = dataclasses.replace(witnessed, settings=dataclasses.replace(witnessed.settings,
                                                                      trust=trust))  # fmt: skip
    append_events(ctx, 2, "y")
    assert ctx.checkpoint() == (2, True)
    assert ctx.submit_to_witnesses() is None
    assert LOG_ORIGIN not in load_latest(tmp_path / "witness")
