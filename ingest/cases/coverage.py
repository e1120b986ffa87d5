"""A/V coverage of case activities, read from the catalog: which part of each activity's window
linked, undamaged video covers (``rules.coverage``), and the gaps that leaves.

Used by the overdue report, by ``case show`` and by ``case archive``, which refuses a case with
open gaps unless someone accepts them with a reason (a custody event).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from i18n import _
from ingest.cases.rules import Coverage, Gap, activity_gap, coverage
from storage.catalog.caselinks import LinkOps
from storage.catalog.caserecords import Activity, LinkedRecording
from verify.log.events import data_time


def coverages(links: LinkOps, acts: Sequence[Activity], at: datetime) -> dict[int, Coverage]:
    """Each activity's coverage by what was linked to its case at ``at``: a clip linked for one
    activity is evidence of another one its span covers too (an item has one link per case)."""
    linked = links.linked_recordings([a.case_id for a in acts], at)
    out: dict[int, Coverage] = {}
    for a in acts:
        near = [
            r
            for r in linked.get(a.case_id, [])
            if r.activity_id == a.id or _overlaps(r, a.start_at, a.end_at)
        ]
        out[a.id] = coverage(a.start_at, a.end_at, near)
    return out


def _overlaps(r: LinkedRecording, start: datetime, end: datetime) -> bool:
    return r.start is not None and r.end is not None and r.start < end and r.end > start


def gaps(links: LinkOps, acts: Sequence[Activity], *, at: datetime, slack: timedelta) -> list[Gap]:
    """Expected recordings against actual ones, for ``acts`` as of ``at``."""
    cover = coverages(links, acts, at)
    out: list[Gap] = []
    for a in acts:
        recorded = 0
        if a.officer_ids:
            recorded = links.count_recorded(
                a.officer_ids,
                start_from=a.start_at - slack - timedelta(hours=12),
                start_to=a.end_at + slack,
                end_from=a.start_at - slack,
                acquired_by=at,
            )
        gap = activity_gap(a, cover=cover[a.id], recorded=recorded)
        if gap is not None:
            out.append(gap)
    return out


def open_gaps(found: Sequence[Gap]) -> list[Gap]:
    """The gaps that breach a rule: A/V required, not fully covered, no exemption."""
    return [g for g in found if g.counts]


def coverage_json(c: Coverage | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "percent": c.percent,
        "covered_s": round(c.covered_s, 3),
        "window_s": round(c.total_s, 3),
        "uncovered": [{"start": data_time(s.start), "end": data_time(s.end)} for s in c.uncovered],
        "covering_items": list(c.covering),
        "not_covering_items": list(c.not_covering),
    }


def coverage_text(c: Coverage, when: Callable[[datetime | None], str]) -> str:
    """'67% covered by undamaged video; uncovered 09:40 - 10:00; not counted: #3', in the
    reader's language."""
    parts = [_("{percent} covered by undamaged video").format(percent=f"{c.percent}%")]
    if c.uncovered:
        spans = ", ".join(f"{when(s.start)} - {when(s.end)}" for s in c.uncovered)
        parts.append(_("uncovered {spans}").format(spans=spans))
    if c.not_covering:
        items = ", ".join(f"#{i}" for i in c.not_covering)
        parts.append(
            _("not counted (damaged, not video or untrusted time): {items}").format(items=items)
        )
    return "; ".join(parts)
