"""Whether a closed case may be archived (Art. 27), decided without I/O.

A case file is complete when every live-linked item is stored and verified in the system of
record, and every item that should have a review proxy has one or a recorded failure. A/V gaps
(``coverage``) block the archive unless someone accepts them with a reason, which the caller
records as a ``gaps_accepted`` custody event. What is missing is said in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from i18n import _, n_
from ingest.cases.coverage import coverage_json
from ingest.cases.rules import Gap
from ingest.cases.vocab import RECORD_TYPES, label
from ingest.errors import UsageError
from ingest.media.kinds import wants_proxy
from storage.records import Item
from verify.log.events import data_time

STORED = "stored"


class ArchiveRefused(UsageError):
    code = "archive-refused"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyFact:
    present: bool  # a derived proxy exists
    failure: str | None  # why there is none, when its job failed for good


@dataclass(frozen=True, slots=True, kw_only=True)
class Missing:
    item_id: int
    what: str  # in the reader's language


def missing_for_archive(items: Sequence[Item], proxies: Mapping[int, ProxyFact]) -> list[Missing]:
    """What keeps the case file from being complete, item by item."""
    out: list[Missing] = []
    for i in sorted(items, key=lambda i: i.id):
        if i.state != STORED or i.durable_at is None:
            what = _("not stored and verified (state {state})").format(state=i.state)
            out.append(Missing(item_id=i.id, what=what))
        p = proxies.get(i.id)
        if wants_proxy(i.facts) and (p is None or (not p.present and p.failure is None)):
            what = _("no review proxy yet, and no failure recorded")
            out.append(Missing(item_id=i.id, what=what))
    return out


def decide_archive(
    number: str,
    *,
    gaps: Sequence[Gap],
    missing: Sequence[Missing],
    accept_gaps: bool,
    reason: str | None,
) -> None:
    """Refuse, saying what is missing and what to do; return when the archive may go ahead."""
    if missing:
        detail = "; ".join(f"#{m.item_id}: {m.what}" for m in missing)
        raise ArchiveRefused(
            _("case {number} is not complete: {detail}").format(number=number, detail=detail),
            hint=_(
                "Let the workers finish (evidock work), or find why an item is not stored; "
                "then archive again."
            ),
        )
    if not gaps:
        return
    listed = "; ".join(
        _("activity {activity} {record_type} {article}: {percent} covered").format(
            activity=g.activity.id,
            record_type=label(RECORD_TYPES, g.activity.record_type),
            article=g.article,
            percent=f"{g.coverage.percent if g.coverage else 0}%",
        )
        for g in gaps
    )
    if not accept_gaps or not (reason or "").strip():
        raise ArchiveRefused(
            n_(
                "case {number} has {n} open audio/video gap: {gaps}",
                "case {number} has {n} open audio/video gaps: {gaps}",
                len(gaps),
            ).format(number=number, n=len(gaps), gaps=listed),
            hint=_(
                "Link the recordings that cover them (evidock case link), or archive with "
                "--accept-gaps --reason 'why the gaps stay open' (recorded as a custody event)."
            ),
        )


def accepted_json(number: str, gaps: Sequence[Gap], reason: str, at: datetime) -> dict[str, Any]:
    """The data of the ``gaps_accepted`` event."""
    return {
        "case": number,
        "reason": reason,
        "archived_at": data_time(at),
        "gaps": [
            {
                "activity": g.activity.id,
                "record_type": g.activity.record_type,
                "article": g.article,
                "kind": g.kind,
                "coverage": coverage_json(g.coverage),
            }
            for g in gaps
        ],
    }
