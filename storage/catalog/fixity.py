"""Which items' stored bytes last failed their fixity check (issue 18), read from the log.

``evidock verify`` appends, for each item of each object it re-hashed, a ``fixity_checked``
or a ``fixity_failed`` event naming the backend and key. An item whose latest check of some
copy (backend and key) failed is 'fixity failed': listings show it, and linking it to a case
or exporting it needs an explicit, recorded override. A later passing check of the same copy
(the disk came back, the object was restored from a backup and re-verified) clears it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable

from storage.catalog.session import Transaction
from storage.records import Event

FIXITY_CHECKED = "fixity_checked"  # the event types of verify.log.events.EventType
FIXITY_FAILED = "fixity_failed"
FLAG_FIXITY_FAILED = "fixity-failed"  # the flag listings show


def failed_items(events: Iterable[Event]) -> set[int]:
    """Pure: the items whose latest fixity event for some copy is a failure, from fixity
    events in sequence order."""
    latest: dict[tuple[int, str, str], bool] = {}
    for ev in events:
        if ev.item is None or ev.type not in (FIXITY_CHECKED, FIXITY_FAILED):
            continue
        try:
            data = json.loads(ev.data)
            copy = (ev.item, str(data.get("backend")), str(data.get("key")))
        except (ValueError, AttributeError):
            copy = (ev.item, "", "")
        latest[copy] = ev.type == FIXITY_FAILED
    return {item for (item, _, _), failed in latest.items() if failed}


def fixity_failed_items(txn: Transaction, item_ids: Collection[int] | None = None) -> set[int]:
    """The items among ``item_ids`` (None: all) whose stored bytes last failed fixity."""
    if item_ids is not None and not item_ids:
        return set()
    return failed_items(txn.log.item_events_typed((FIXITY_CHECKED, FIXITY_FAILED), item_ids))


def fixity_failed(txn: Transaction, item_id: int) -> bool:
    """True when a stored copy of item ``item_id`` failed its last fixity check."""
    return item_id in fixity_failed_items(txn, (item_id,))
