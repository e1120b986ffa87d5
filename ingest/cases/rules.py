"""Which recordings belong to a case activity, and what an activity still lacks. Pure.

Automatic linking rules (each link records the rule that made it):

- ``officer-window``: an item recorded by one of the activity's officers (the holder of the
  device when it recorded) that overlaps the activity's window widened by the slack.
- ``camera-important``: an item the camera marked important, by one of the activity's
  officers, overlapping the window widened by the (larger) important slack. What "marked
  important" means is a predicate handed in; the default reads the item flag
  ``camera_marked_important``, which a device profile sets when it knows its camera's mark.

Items whose recording time failed the clock checks are never linked by time: a person links
them. Items a person unlinked from a case are never relinked to it by a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.cases.vocab import RECORD_TYPES
from storage.catalog.caserecords import Activity
from storage.records import Item

RULE_WINDOW = "officer-window"
RULE_IMPORTANT = "camera-important"
MANUAL = "manual"
IMPORTANT_FLAG = "camera_marked_important"

GAP_NO_VIDEO = "no-video-linked"
GAP_NOTHING = "nothing-recorded"


def marked_important(item: Item) -> bool:
    return IMPORTANT_FLAG in item.facts.flags


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRules:
    slack: timedelta = timedelta(minutes=15)
    important_slack: timedelta = timedelta(hours=12)
    longest_recording: timedelta = timedelta(hours=12)  # how far back a start may lie
    is_important: Callable[[Item], bool] = field(default=marked_important)

    @property
    def widest(self) -> timedelta:
        return max(self.slack, self.important_slack)


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoMatch:
    item_id: int
    activity_id: int
    rule: str
    why: str


def candidate_starts(activity: Activity, rules: LinkRules) -> tuple[datetime, datetime]:
    """The span of recording starts worth fetching for ``activity`` (an index range)."""
    return (
        activity.start_at - rules.widest - rules.longest_recording,
        activity.end_at + rules.widest,
    )


def overlaps(item: Item, start: datetime, end: datetime) -> bool:
    f = item.facts
    if f.recorded_start is None:
        return False
    item_end = f.recorded_end or f.recorded_start
    return f.recorded_start <= end and item_end >= start


def auto_matches(
    activity: Activity,
    items: Sequence[Item],
    rules: LinkRules,
    *,
    untrusted: Collection[int] = (),
    excluded: Collection[int] = (),
) -> list[AutoMatch]:
    """The items the rules link to ``activity``, first rule first, each item once."""
    out: list[AutoMatch] = []
    officers = set(activity.officers)
    for item in items:
        if item.id in excluded or item.id in untrusted or item.officer_badge not in officers:
            continue
        if overlaps(item, activity.start_at - rules.slack, activity.end_at + rules.slack):
            why = (
                f"recorded by {item.officer_badge} on {item.device_serial} within the window "
                f"of activity {activity.id} (slack {_minutes(rules.slack)})"
            )
            out.append(
                AutoMatch(item_id=item.id, activity_id=activity.id, rule=RULE_WINDOW, why=why)
            )
        elif rules.is_important(item) and overlaps(
            item, activity.start_at - rules.important_slack, activity.end_at + rules.important_slack
        ):
            why = (
                f"marked important by the camera, recorded by {item.officer_badge} within "
                f"{_minutes(rules.important_slack)} of activity {activity.id}"
            )
            out.append(
                AutoMatch(item_id=item.id, activity_id=activity.id, rule=RULE_IMPORTANT, why=why)
            )
    return out


def _minutes(d: timedelta) -> str:
    m = int(d.total_seconds() // 60)
    return f"{m // 60} h" if m % 60 == 0 and m >= 60 else f"{m} min"


# -- compliance gaps -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    activity: Activity
    kind: str
    requires_av: bool
    recorded: int  # items the officers' devices recorded in the window
    exempt_reason: str  # Art. 16: not suited to A/V, with the reason written down
    counts: bool  # a breach of a rule (not exempted), as opposed to advice

    @property
    def article(self) -> str:
        t = RECORD_TYPES.get(self.activity.record_type)
        return t.article if t is not None else ""


def activity_gap(activity: Activity, *, has_video: bool, recorded: int) -> Gap | None:
    """Expected against actual: A/V-required types need a linked video; any activity with
    officers is expected to have left some recording on their devices."""
    t = RECORD_TYPES.get(activity.record_type)
    requires_av = t is not None and t.requires_av
    if requires_av and not has_video:
        kind = GAP_NOTHING if recorded == 0 else GAP_NO_VIDEO
        exempt = activity.no_av_reason
        return Gap(
            activity=activity,
            kind=kind,
            requires_av=True,
            recorded=recorded,
            exempt_reason=exempt,
            counts=not exempt,
        )
    if not requires_av and recorded == 0 and activity.officers:
        return Gap(
            activity=activity,
            kind=GAP_NOTHING,
            requires_av=False,
            recorded=0,
            exempt_reason="",
            counts=False,
        )
    return None
