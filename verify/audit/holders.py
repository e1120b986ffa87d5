"""Which node's local store holds which objects, in a fleet whose docks each keep their own
store (``[store] shared = false``) on one catalog (issue 18).

There, a dock's store holds the recordings of its own dockings only. ``evidock verify`` on one
dock re-hashes what it holds and names the docks that hold the rest ("held by dock X: verify
there"): an object that is only elsewhere is not missing. Pure: the catalog query that says
which dock took each item in is ``storage.catalog.objects.ObjectOps.item_nodes``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storage.records import StoredObject


@dataclass(frozen=True, slots=True, kw_only=True)
class Elsewhere:
    """What this node left to another one: its originals and proxies, to verify there."""

    dock: str
    objects: int
    derived: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    """The split of an audit between this node and the others."""

    away_shas: frozenset[str]  # local-store originals that only other docks hold
    away_items: frozenset[int]  # items docked elsewhere (their proxies are there too)
    elsewhere: tuple[Elsewhere, ...]


def split(
    objects: Sequence[StoredObject],
    item_nodes: Mapping[int, str],
    by_sha: Mapping[str, Sequence[int]],
    derived_items: Sequence[int],
    *,
    node: str,
    backend: str,
) -> Holding:
    """Objects of the local ``backend`` whose items were all docked by other docks than
    ``node`` are theirs; an object with no item, or with an item of this node, is checked
    here. ``derived_items``: the item of each derivative (proxy) row."""
    away_items = frozenset(i for i, dock in item_nodes.items() if dock != node)
    originals: Counter[str] = Counter()
    away: set[str] = set()
    for o in objects:
        if o.backend != backend or o.role != "original":
            continue
        docks = {item_nodes[i] for i in by_sha.get(o.sha256, ()) if i in item_nodes}
        if docks and node not in docks:
            away.add(o.sha256)
            originals[min(docks)] += 1
    proxies = Counter(item_nodes[i] for i in derived_items if i in away_items)
    return Holding(
        away_shas=frozenset(away),
        away_items=away_items,
        elsewhere=tuple(
            Elsewhere(dock=d, objects=originals[d], derived=proxies[d])
            for d in sorted(set(originals) | set(proxies))
        ),
    )
