"""The metrics module on private registries: series that exist from the start, bay states,
store failures counted by backend, the verify textfile, and prometheus_client kept in one
module."""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

import pytest

from ingest.cli.main import build_parser
from ingest.config import Settings
from ingest.context import Context
from ingest.errors import UsageError
from ingest.metrics.metered_store import metered
from ingest.metrics.prometheus import (
    BAY_STATES,
    DockMetrics,
    Family,
    bay_states,
    exposition,
    parse_exposition,
    read_textfile,
    write_textfile,
)
from ingest.output import Output
from ingest.pipeline.run import ingest_device
from ingest.version import commit, release
from tests.conftest import CLIP1

ROOT = Path(__file__).resolve().parents[2]
sqlite_only = pytest.mark.parametrize("catalog_url", ["sqlite"], indirect=True)


def test_every_counter_series_exists_before_its_first_event() -> None:
    """Results, outcomes and the store's backend are exported at 0 from the start, so that
    increase() in an alert sees the very first failure."""
    m = DockMetrics("dock-a", backends=("local", "s3"))
    s = parse_exposition(exposition(m.registry))
    for result in ("stored", "already", "failed", "not_acquired"):
        assert s["evidock_files_ingested_total", (("dock", "dock-a"), ("result", result))] == 0
    for outcome in ("complete", "incomplete", "interrupted", "refused"):
        assert s["evidock_dock_sessions_total", (("dock", "dock-a"), ("outcome", outcome))] == 0
    for backend in ("local", "s3"):
        assert s["evidock_storage_errors_total", (("backend", backend), ("dock", "dock-a"))] == 0
    assert s["evidock_offload_delay_seconds_count", (("dock", "dock-a"),)] == 0
    assert not any(name.endswith("_created") for name, _ in s)
    [build] = [labels for name, labels in s if name == "evidock_build_info"]
    assert dict(build)["version"] == release() and dict(build)["commit"] == (commit() or "unknown")


def test_bay_status_lines_are_counted_by_state() -> None:
    """Free-text bay states become a fixed set of state labels; anything else is an error."""
    m = DockMetrics("dock-a")
    m.watch_bays(
        lambda: ["ingesting", "complete: 3 stored, 0 already", "refused: not registered",
                 "error: disk full", "something new", "queued"]
    )  # fmt: skip
    s = parse_exposition(exposition(m.registry))
    got = {dict(k)["state"]: v for name, k in s if name == "evidock_bays" for v in [s[name, k]]}
    assert set(got) == set(BAY_STATES)
    assert got["ingesting"] == got["complete"] == got["refused"] == got["queued"] == 1
    assert got["error"] == 2 and got["waiting"] == 0
    assert bay_states([]) == dict.fromkeys(BAY_STATES, 0)


@sqlite_only
def test_store_failure_during_ingest_is_counted_by_backend(ctx: Context, camera: Path) -> None:
    """An object in the store whose bytes do not match its name: the file fails with the
    store's integrity error and evidock_storage_errors_total{backend="local"} counts it."""
    clip = next(camera.rglob(CLIP1))
    sha = hashlib.sha256(clip.read_bytes()).hexdigest()
    bad = ctx.store.path_for(sha)
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"not the clip")
    m = DockMetrics("dock-a")
    report = ingest_device(
        metered(ctx, m.storage_error), camera, serial="BWC-1", officer=None, actor="user:test"
    )
    assert [f.reason for f in report.files if f.result == "failed"] != []
    assert m.registry.get_sample_value(
        "evidock_storage_errors_total", {"dock": "dock-a", "backend": "local"}
    ) == 1.0  # fmt: skip


def _verify(settings: Settings, *argv: str) -> int:
    args = build_parser().parse_args(["verify", *argv])
    out = Output(json_mode=False, zone=settings.zone, stream=io.StringIO())
    code: int = args.func(args, out, settings)
    return code


@sqlite_only
def test_verify_textfile_counts_fixity_failures_and_keeps_the_last_sweep_on_quick_runs(
    ctx: Context, settings: Settings, camera: Path, tmp_path: Path
) -> None:
    """A clean sweep, then a corrupted object: failures 1 and its problem code; a --quick run
    afterwards (it re-hashes nothing, so sees nothing) keeps the last sweep's time and
    failures and updates only its own lines."""
    ingest_device(ctx, camera, serial="BWC-1", officer=None, actor="user:test")
    prom = tmp_path / "evidock.prom"
    assert _verify(settings, "--metrics-textfile", str(prom)) == 0
    first = read_textfile(prom)
    assert first["evidock_fixity_failures"] == 0 and first["evidock_fixity_objects_checked"] == 4
    with ctx.catalog.read() as txn:
        victim = ctx.store.path_for(txn.items()[0].sha256)
    os.chmod(victim, 0o644)
    victim.write_bytes(b"x" * victim.stat().st_size)  # same size: only a re-hash sees it
    assert _verify(settings, "--metrics-textfile", str(prom)) == 1
    swept = parse_exposition(prom.read_text())
    assert swept["evidock_fixity_failures", ()] == 1
    assert swept["evidock_verify_problems", (("code", "object-corrupt"),)] == 1
    assert swept["evidock_verify_log_intact", ()] == 1
    assert _verify(settings, "--quick", "--metrics-textfile", str(prom)) == 0
    quick = read_textfile(prom)
    for kept in ("evidock_fixity_last_sweep_timestamp_seconds", "evidock_fixity_failures"):
        assert quick[kept] == swept[kept, ()]
    assert (
        quick["evidock_verify_last_run_timestamp_seconds"]
        >= first["evidock_verify_last_run_timestamp_seconds"]
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("evidock.prom")] == [
        "evidock.prom"
    ]


@sqlite_only
def test_textfile_not_named_prom_is_refused_before_any_work(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    """node_exporter reads only *.prom files: another name is a usage error, and the audit does
    not run (no fixity event, no checkpoint)."""
    with ctx.catalog.read() as txn:
        size, checkpoints = txn.log.head().size, len(txn.log.checkpoints())
    with pytest.raises(UsageError, match=r"\.prom"):
        _verify(settings, "--metrics-textfile", str(tmp_path / "evidock.txt"))
    with pytest.raises(UsageError, match="does not exist"):
        _verify(settings, "--metrics-textfile", str(tmp_path / "missing" / "evidock.prom"))
    with ctx.catalog.read() as txn:
        assert (txn.log.head().size, len(txn.log.checkpoints())) == (size, checkpoints)


def test_textfile_round_trip(tmp_path: Path) -> None:
    """What write_textfile writes, read_textfile reads back (labelled samples are skipped)."""
    path = tmp_path / "x.prom"
    write_textfile(
        path,
        [
            Family.single("evidock_a", "a", 1.5),
            Family.single("evidock_none", "unknown", None),
            Family(name="evidock_b", help="b", labels=("code",), samples=((("x",), 2.0),)),
        ],
    )
    assert read_textfile(path) == {"evidock_a": 1.5}
    assert read_textfile(tmp_path / "absent.prom") == {}


def test_only_the_metrics_module_imports_prometheus_client() -> None:
    """prometheus_client has one adapter module, like every third-party library."""
    importers = sorted(
        str(p.relative_to(ROOT))
        for pkg in ("ingest", "devices", "storage", "verify")
        for p in (ROOT / pkg).rglob("*.py")
        if re.search(r"^\s*(from|import) prometheus_client", p.read_text(), re.MULTILINE)
    )
    assert importers == ["ingest/metrics/prometheus.py"]
