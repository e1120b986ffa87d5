"""Which recordings belong to a case activity, and what an activity still lacks. Pure.

Automatic linking rules (each link records the rule that made it):

- ``officer-window``: an item recorded by one of the activity's officers (the holder of the
  device when it recorded) that overlaps the activity's window widened by the slack.
- ``camera-important``: an item the camera marked important, by one of the activity's
  officers, overlapping the window widened by the (larger) important slack. What "marked
  important" means is a predicate handed in; the default reads the item flag
  ``camera_marked_important``, which a device profile sets when it knows its camera's mark.

Items whose recording time failed the clock checks are never linked by time: a person links
them. Items a person unlinked from a case are never relinked to it by a rule. A rule's ``why``
is English whatever the reader's language: the 'linked' custody event and the link row keep it.

An activity that requires audio/video is measured, not counted: only undamaged video whose
recorded span is trusted covers it, and what of its window no such recording covers is a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.cases.vocab import RECORD_TYPES, av_article, requires_av
from storage.catalog.caserecords import Activity, LinkedRecording
from storage.records import Item

RULE_WINDOW = "officer-window"
RULE_IMPORTANT = "camera-important"
MANUAL = "manual"
IMPORTANT_FLAG = "camera_marked_important"
OFFICER_MISMATCH = "officer_mismatch"  # the file name names another officer than the holder

GAP_NO_VIDEO = "no-video-linked"
GAP_NOTHING = "nothing-recorded"
GAP_PARTIAL = "partly-covered"

# flags that make a recording no evidence of what happened in its span: its media cannot be
# played as a whole (ffprobe failed, nothing could read it, no container, no bytes), or its
# recording time is not the camera's (in the future, or only the file's time)
NOT_COVERING_FLAGS = frozenset(
    {
        "media_damaged",
        "media_unreadable",
        "not_media_container",
        "empty",
        "clock_in_future",
        "time_from_mtime",
    }
)


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


# -- coverage of an activity's window --------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    start: datetime
    end: datetime


def covers(r: LinkedRecording) -> bool:
    """Undamaged video with a trusted recorded span."""
    return (
        r.is_video
        and r.start is not None
        and r.end is not None
        and r.end > r.start
        and not NOT_COVERING_FLAGS.intersection(r.flags)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Coverage:
    window: Span
    covered_s: float
    uncovered: tuple[Span, ...]
    covering: tuple[int, ...]  # items whose span counts
    not_covering: tuple[int, ...]  # linked, but damaged, not video or of untrusted time

    @property
    def total_s(self) -> float:
        return (self.window.end - self.window.start).total_seconds()

    @property
    def percent(self) -> int:
        """Whole percent, never 100 while a span is uncovered, never 0 while one is covered."""
        if self.total_s <= 0:
            return 0 if self.uncovered else 100
        p = round(100 * self.covered_s / self.total_s)
        if self.uncovered:
            p = min(p, 99)
        if self.covered_s > 0:
            p = max(p, 1)
        return p

    @property
    def complete(self) -> bool:
        return not self.uncovered


def coverage(start: datetime, end: datetime, recordings: Sequence[LinkedRecording]) -> Coverage:
    """How much of [start, end] the covering recordings span, and the spans they leave."""
    good = [r for r in recordings if covers(r)]
    bad = [r.item_id for r in recordings if not covers(r)]
    spans = sorted(
        (max(r.start, start), min(r.end, end))
        for r in good
        if r.start is not None and r.end is not None and r.start < end and r.end > start
    )
    uncovered: list[Span] = []
    covered = 0.0
    at = start
    for s, e in spans:
        if s > at:
            uncovered.append(Span(start=at, end=s))
        if e > at:
            covered += (e - max(s, at)).total_seconds()
            at = e
    if at < end:
        uncovered.append(Span(start=at, end=end))
    return Coverage(
        window=Span(start=start, end=end),
        covered_s=covered,
        uncovered=tuple(uncovered),
        covering=tuple(r.item_id for r in good),
        not_covering=tuple(bad),
    )


# -- compliance gaps -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Gap:
    activity: Activity
    kind: str
    requires_av: bool
    recorded: int  # items the officers' devices recorded in the window
    exempt_reason: str  # Art. 16: not suited to A/V, with the reason written down
    counts: bool  # a breach of a rule (not exempted), as opposed to advice
    coverage: Coverage | None = None  # for A/V-required activities

    @property
    def article(self) -> str:
        a = self.activity
        if self.requires_av:
            return av_article(a.record_type, disputed=a.disputed)
        t = RECORD_TYPES.get(a.record_type)
        return t.article if t is not None else ""


def activity_gap(activity: Activity, *, cover: Coverage, recorded: int) -> Gap | None:
    """Expected against actual: an A/V-required activity needs its window covered by linked,
    undamaged video; any activity with officers is expected to have left some recording on
    their devices."""
    needs_av = requires_av(activity.record_type, disputed=activity.disputed)
    if needs_av and not cover.complete:
        if cover.covered_s > 0:
            kind = GAP_PARTIAL
        else:
            kind = GAP_NOTHING if recorded == 0 else GAP_NO_VIDEO
        exempt = activity.no_av_reason
        return Gap(
            activity=activity,
            kind=kind,
            requires_av=True,
            recorded=recorded,
            exempt_reason=exempt,
            counts=not exempt,
            coverage=cover,
        )
    if not needs_av and recorded == 0 and activity.officers:
        return Gap(
            activity=activity,
            kind=GAP_NOTHING,
            requires_av=False,
            recorded=0,
            exempt_reason="",
            counts=False,
        )
    return None
