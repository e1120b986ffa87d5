"""The store's disk full in the middle of a copy (a real ENOSPC from an 8 MiB tmpfs mounted as
the store): the file stays on the device, nothing of it stays in staging or the catalog, and a
rerun once there is room ingests it; verify is clean (issue 18)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ingest.config import Settings
from ingest.context import Context, open_context
from ingest.pipeline.run import FAILED, STORED, ingest_device
from tests.ingest.conftest import mount
from tests.verify.tamper import audit


def test_a_full_store_mid_copy_leaves_the_file_on_the_device_and_a_rerun_takes_it(
    small_store: Settings, tmp_path: Path
) -> None:
    """The space check is fooled (another writer took the room after it asked: the
    ``free_bytes`` seam); the 12 MiB copy hits ENOSPC. The small file is stored, the big one
    failed with the reason and stays; no staging file, no item, no object of it. With room
    made (the tmpfs grown), the rerun stores it and verify finds nothing wrong."""
    camera = tmp_path / "camera" / "DCIM"
    camera.mkdir(parents=True)
    (camera / "A_SMALL.MP4").write_bytes(os.urandom(100_000))
    big = camera / "B_BIG.MP4"
    big.write_bytes(os.urandom(12 << 20))
    big_sha = hashlib.sha256(big.read_bytes()).hexdigest()
    ctx = open_context(small_store, create=True)
    try:
        first = ingest_device(ctx, camera.parent, serial="BWC-F", officer=None, actor="test",
                              free_bytes=lambda: 1 << 40, space_margin=0)  # fmt: skip
        results = {f.path: f for f in first.files}
        assert results["DCIM/A_SMALL.MP4"].result == STORED
        failed = results["DCIM/B_BIG.MP4"]
        assert failed.result == FAILED and "No space left on device" in (failed.reason or "")
        assert big.stat().st_size == 12 << 20  # still on the device
        assert not list(ctx.store.staging_dir.iterdir()), "a partial staging file was left"
        assert big_sha not in set(ctx.store.iter_keys())
        _only_small_item(ctx)
        assert audit(ctx).ok

        grown = mount("-o", "remount,size=64m", str(small_store.store_dir))
        assert grown.returncode == 0, grown.stderr
        # the real free space now, with a margin fit for a small store
        again = ingest_device(ctx, camera.parent, serial="BWC-F", officer=None, actor="test",
                              space_margin=1 << 20)  # fmt: skip
        assert {f.path: f.result for f in again.files} == {
            "DCIM/A_SMALL.MP4": "already", "DCIM/B_BIG.MP4": STORED,
        }  # fmt: skip
        report = audit(ctx)
        assert report.ok, report.problems
        assert big_sha in set(ctx.store.iter_keys())
    finally:
        ctx.close()


def _only_small_item(ctx: Context) -> None:
    with ctx.catalog.read() as txn:
        assert [i.original_path for i in txn.items()] == [b"DCIM/A_SMALL.MP4"]
