"""Derived media (review proxies): each derivative must have its 'transcoded' custody event
and its bytes in the derived store under its hash. Proxies are not evidence, but a proxy
shown to a court must provably come from the original it claims."""

from __future__ import annotations

import json
from pathlib import Path

from i18n import _
from storage.blobs.localstore import LocalStore
from storage.catalog.derived import DerivedOps
from storage.catalog.session import Transaction
from verify.problems import Problem, Problems


def check_derived(
    txn: Transaction,
    store_root: Path,
    problems: Problems,
    *,
    quick: bool,
    only_item: int | None = None,
    skip_items: frozenset[int] = frozenset(),
) -> tuple[int, int]:
    """Returns (derivatives checked, derivatives re-hashed). The derivatives of
    ``skip_items`` are held by another node's store (``verify.audit.holders``): not checked."""
    ops = DerivedOps(txn)
    rows = ops.for_items([only_item]).get(only_item, []) if only_item is not None else ops.all()
    rows = [d for d in rows if d.item_id not in skip_items]
    store = LocalStore(store_root / "derived")
    events: dict[int, set[tuple[str, str]]] = {}
    rehashed = 0
    for d in rows:
        if d.item_id not in events:
            events[d.item_id] = {
                (data.get("source_sha256", ""), data.get("derivative_sha256", ""))
                for data in (
                    json.loads(e.data)
                    for e in txn.log.events_for_item(d.item_id)
                    if e.type == "transcoded"
                )
            }
        item = txn.item(d.item_id)
        subject = _("{kind} {sha256} of item #{item}").format(
            kind=d.kind, sha256=d.sha256[:12], item=d.item_id
        )
        if (item.sha256, d.sha256) not in events[d.item_id]:
            problems.add(
                Problem(
                    code="derived-without-event",
                    subject=subject,
                    expected=_("a 'transcoded' event from source {source} to {derived}").format(
                        source=item.sha256, derived=d.sha256
                    ),
                    found=_("none in the custody log"),
                    item=d.item_id,
                )
            )
        path = store.path_for(d.sha256)
        if not path.is_file():
            problems.add(
                Problem(
                    code="derived-object-missing",
                    subject=subject,
                    expected=_("the derivative at {path}").format(path=path),
                    found=_("no file"),
                    item=d.item_id,
                )
            )
            continue
        if quick:
            continue
        sha, size = store.hash_object(d.sha256)
        rehashed += 1
        if (sha, size) != (d.sha256, d.size):
            problems.add(
                Problem(
                    code="derived-object-corrupt",
                    subject=subject,
                    expected=_("sha256 {sha256}, {size} bytes").format(
                        sha256=d.sha256, size=d.size
                    ),
                    found=_("sha256 {sha256}, {size} bytes").format(sha256=sha, size=size),
                    item=d.item_id,
                )
            )
    return len(rows), rehashed
