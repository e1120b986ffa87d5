"""evidock verify covers proxies: a changed or missing proxy, or one without its derivation
event, is reported; a clean set passes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ingest.context import LOG_ORIGIN, Context
from storage.records import Item
from tests.proxies.conftest import derived_path, drain, ingest, put
from verify.audit.run import AuditReport, run_audit


def _audit(ctx: Context) -> AuditReport:
    return run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                     origin=LOG_ORIGIN)  # fmt: skip


def _photo(ctx: Context, card: Path, media: dict[str, Path]) -> tuple[Item, str]:
    put(card, media["jpg"], "IMG_0001.JPG")
    ingest(ctx, card.parent)
    drain(ctx)
    with ctx.catalog.read() as txn:
        item = txn.items()[0]
        sha = txn.s.execute(text("SELECT sha256 FROM derived_media")).scalar_one()
    return item, sha


def test_proxies_are_verified_with_their_derivation(
    ctx: Context, card: Path, media: dict[str, Path]
) -> None:
    """A clean proxy passes; changed bytes and a missing file are each reported by name."""
    _item, sha = _photo(ctx, card, media)
    clean = _audit(ctx)
    assert clean.ok and clean.checked.derived == 1 and clean.checked.derived_rehashed == 1
    path = derived_path(ctx, sha)
    path.chmod(0o644)
    path.write_bytes(b"retouched")
    assert [p.code for p in _audit(ctx).problems] == ["derived-object-corrupt"]
    path.unlink()
    assert [p.code for p in _audit(ctx).problems] == ["derived-object-missing"]


def test_proxy_row_without_its_transcoded_event_is_reported(
    ctx: Context, card: Path, media: dict[str, Path]
) -> None:
    """A derivative slipped into the catalog without a custody event cannot pass as derived."""
    _photo(ctx, card, media)
    with ctx.catalog.write() as txn:
        txn.s.execute(
            text(
                "INSERT INTO derived_media (item_id, kind, sha256, size, params, created_at) "
                "SELECT item_id, 'poster', sha256, size, params, created_at FROM derived_media"
            )
        )
        txn.s.execute(text("UPDATE derived_media SET sha256 = :s WHERE kind = 'poster'"),
                      {"s": "f" * 64})  # fmt: skip
    codes = sorted(p.code for p in _audit(ctx).problems)
    assert codes == ["derived-object-missing", "derived-without-event"]
