"""The regulation's rules as pure functions: no database, no clock, no files."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

import i18n
from ingest.cases.compliance import (
    APART_FROM_SESSION,
    BEFORE_SERVICE,
    FAR_FROM_FILE,
    FUTURE,
    ClockRules,
    archive_due,
    check_case_number,
    dock_overdue,
    format_span,
    is_late,
    judge,
    normalise_case_number,
    offload_check,
    offload_reference,
)
from ingest.cases.rules import (
    GAP_NO_VIDEO,
    GAP_NOTHING,
    GAP_PARTIAL,
    RULE_IMPORTANT,
    RULE_WINDOW,
    LinkRules,
    Span,
    activity_gap,
    auto_matches,
    candidate_starts,
    coverage,
)
from ingest.cases.vocab import RECORD_TYPES, STAGES, lookup
from ingest.config import DEFAULT_CASE_NUMBER_PATTERN
from ingest.errors import UsageError, exit_code_for
from storage.catalog.caserecords import (
    Activity,
    DeviceInService,
    Excuse,
    LinkedRecording,
    OffloadInput,
)
from storage.records import Item, MediaFacts

T = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
H24 = timedelta(hours=24)
RULES = ClockRules()


def _input(**kw: object) -> OffloadInput:
    base = dict(
        item_id=1,
        device_serial="BWC-1",
        officer_badge="J1",
        session_id=1,
        recorded_start=T - timedelta(minutes=5),
        recorded_end=T,
        time_source="container",
        flags=(),
        file_mtime=T,
        acquired_at=T + timedelta(hours=30),
        durable_at=T + timedelta(hours=30),
        device_registered=True,
        in_service_since=T - timedelta(days=10),
        previous_dock_at=T - timedelta(hours=20),
    )
    base.update(kw)
    return OffloadInput(**base)  # type: ignore[arg-type]


def _excuse(returned: datetime | None, granted: datetime = T + timedelta(hours=31)) -> Excuse:
    return Excuse(
        id=1,
        item_id=1,
        session_id=None,
        reason="field work",
        returned_at=returned,
        granted_by="user:c",
        granted_at=granted,
        event_seq=9,
    )


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("凤里执罚〔2026〕12号", "凤里执罚〔2026〕12号"),
        ("凤里执罚[2026]12号", "凤里执罚〔2026〕12号"),
        (" 凤里执罚（２０２６）１２号 ", "凤里执罚〔2026〕12号"),
        ("2026-0012", "2026-0012"),
    ],
)
def test_case_numbers_are_accepted_in_the_office_forms_and_kept_in_one_spelling(
    typed: str, kept: str
) -> None:
    """Brackets and full-width digits are normalised before the pattern is applied."""
    assert check_case_number(typed, DEFAULT_CASE_NUMBER_PATTERN) == kept
    assert normalise_case_number(kept) == kept


@pytest.mark.parametrize("bad", ["", "12", "case 12", "凤里执罚2026-12号", "1999999-1"])
def test_other_case_numbers_are_refused_with_a_hint(bad: str) -> None:
    """A refused number names the accepted forms and the setting that changes them."""
    with pytest.raises(UsageError) as err:
        check_case_number(bad, DEFAULT_CASE_NUMBER_PATTERN)
    assert exit_code_for(err.value) == 2 and "2026-0012" in err.value.hint
    assert "case_number_pattern" in err.value.hint


def test_trusted_recording_time_is_what_the_delay_is_measured_from() -> None:
    """30 h between recording end and durability: late; 23 h: on time."""
    check = offload_check(_input(), RULES, now=T, late_flag_seq=None)
    assert check.reference_source == "recorded" and check.clock_problems == ()
    assert check.delay_s == 30 * 3600 and is_late(check, H24)
    on_time = offload_check(
        _input(durable_at=T + timedelta(hours=23)), RULES, now=T, late_flag_seq=None
    )
    assert not is_late(on_time, H24)


def test_future_camera_time_falls_back_to_the_file_time_when_that_is_plausible() -> None:
    """2099 is never used: the file time (a plausible one) is taken instead."""
    ref = offload_reference(
        _input(recorded_end=datetime(2099, 1, 1, tzinfo=UTC), file_mtime=T), RULES
    )
    assert FUTURE in ref.problems and FAR_FROM_FILE in ref.problems
    assert (ref.end, ref.source) == (T, "file-mtime")


def test_when_no_camera_time_is_plausible_the_earliest_bound_is_used() -> None:
    """Previous docking, else start of service, else unknown (which counts as late)."""
    future = datetime(2099, 1, 1, tzinfo=UTC)
    ref = offload_reference(_input(recorded_end=future, file_mtime=future), RULES)
    assert (ref.end, ref.source) == (T - timedelta(hours=20), "previous-docking")
    ref = offload_reference(
        _input(recorded_end=future, file_mtime=future, previous_dock_at=None), RULES
    )
    assert (ref.end, ref.source) == (T - timedelta(days=10), "in-service-since")
    unknown = _input(
        recorded_end=future, file_mtime=future, previous_dock_at=None, device_registered=False
    )
    check = offload_check(unknown, RULES, now=T, late_flag_seq=None)
    assert check.reference_source == "unknown" and check.delay_s is None and is_late(check, H24)


def test_recording_before_the_documented_start_of_service_is_a_clock_problem() -> None:
    """Earlier than the documented start of service (minus the tolerance) is doubted; a
    device without one has no such bound, however late it was registered."""
    early = T - timedelta(days=30)
    ref = offload_reference(_input(recorded_end=early, file_mtime=early), RULES)
    assert ref.problems == (BEFORE_SERVICE,) and ref.source == "previous-docking"
    unregistered = offload_reference(
        _input(recorded_end=early, file_mtime=early, device_registered=False), RULES
    )
    assert unregistered.problems == () and unregistered.end == early
    undocumented = offload_reference(
        _input(recorded_end=early, file_mtime=early, in_service_since=None), RULES
    )
    assert undocumented.problems == () and undocumented.end == early


def test_recording_time_far_from_the_file_time_takes_the_earlier_of_the_two() -> None:
    """Two disagreeing clocks: the earlier one, so the delay is never understated."""
    ref = offload_reference(_input(file_mtime=T - timedelta(hours=40)), RULES)
    assert ref.problems == (FAR_FROM_FILE,) and ref.end == T - timedelta(hours=40)
    same = offload_reference(_input(file_mtime=T - timedelta(hours=9)), RULES)
    assert same.problems == ()  # a zone mix-up of a few hours is tolerated


def test_excuses_cover_by_reason_or_by_the_return_time() -> None:
    """A stated reason covers; a return time covers only if durable within 24 h of it."""
    args = dict(
        reference_end=T,
        durable_at=T + timedelta(hours=30),
        acquired_at=T,
        at=T + timedelta(hours=40),
        deadline=H24,
    )
    bare = judge(**args, excuses=())  # type: ignore[arg-type]
    assert bare.overdue and bare.excused_by is None and bare.delay == timedelta(hours=30)
    by_reason = judge(**args, excuses=[_excuse(None)])  # type: ignore[arg-type]
    assert by_reason.excused_by is not None
    back = judge(**args, excuses=[_excuse(T + timedelta(hours=10))])  # type: ignore[arg-type]
    assert back.excused_by is not None
    too_early = _excuse(T + timedelta(hours=2))
    not_covered = judge(**args, excuses=[too_early])  # type: ignore[arg-type]
    assert not_covered.excused_by is None and not_covered.not_covering == (too_early,)
    later = judge(
        **{**args, "at": T + timedelta(hours=30, minutes=30)},  # type: ignore[arg-type]
        excuses=[_excuse(None)],
    )  # granted at +31 h: not yet, as of +30.5 h
    assert later.excused_by is None


def test_pending_item_is_overdue_once_its_deadline_passes() -> None:
    """Not durable at 'at': measured to 'at'; without a trusted time, from its acquisition."""
    j = judge(
        reference_end=T,
        durable_at=None,
        acquired_at=T,
        at=T + timedelta(hours=25),
        deadline=H24,
        excuses=(),
    )
    assert j.pending and j.overdue and j.due_at == T + H24
    j = judge(
        reference_end=None,
        durable_at=None,
        acquired_at=T,
        at=T + timedelta(hours=2),
        deadline=H24,
        excuses=(),
    )
    assert j.pending and not j.overdue


def test_device_undocked_time_runs_from_last_docking_or_assignment() -> None:
    """Never docked: from the assignment; docked before being reassigned: from the assignment."""
    dev = DeviceInService(serial="S", officer_badge="J1", assigned_at=T, last_docked_at=None)
    assert dock_overdue(dev, at=T + timedelta(hours=25), deadline=H24) == timedelta(hours=25)
    assert dock_overdue(dev, at=T + timedelta(hours=23), deadline=H24) is None
    docked = dataclasses.replace(dev, last_docked_at=T + timedelta(hours=20))
    assert dock_overdue(docked, at=T + timedelta(hours=25), deadline=H24) is None
    stale = dataclasses.replace(dev, last_docked_at=T - timedelta(days=3))
    assert dock_overdue(stale, at=T + timedelta(hours=25), deadline=H24) == timedelta(hours=25)


def test_archive_deadline_is_days_after_closing_and_spans_read_well() -> None:
    """Art. 27: 30 days by default; spans print as 1d06h / 5h03m."""
    assert archive_due(T, 30) == T + timedelta(days=30)
    assert format_span(timedelta(hours=30)) == "1d06h"
    assert format_span(timedelta(hours=5, minutes=3)) == "5h03m"


def _item(item_id: int, badge: str | None, start: datetime, flags: tuple[str, ...] = ()) -> Item:
    return Item(
        id=item_id,
        sha256="0" * 64,
        size=1,
        device_serial="BWC-1",
        officer_badge=badge,
        session_id=1,
        original_path=b"x",
        original_path_display="x",
        source_mtime_ns=0,
        state="stored",
        acquired_at=start,
        durable_at=start,
        confidentiality="none",
        facts=MediaFacts(
            recorded_start=start, recorded_end=start + timedelta(minutes=2), flags=flags
        ),
    )


ACT = Activity(
    id=7,
    case_id=1,
    case_number="2026-0001",
    stage="investigation",
    record_type="on-site-inspection",
    officers=("J1", "J2"),
    officer_ids=(1, 2),
    place="",
    start_at=T,
    end_at=T + timedelta(hours=1),
    no_av_reason="",
    note="",
    created_at=T,
    created_by="u",
)


def test_rules_link_the_officers_items_in_the_window_and_important_ones_near_it() -> None:
    """Window with slack for the officers; farther only if marked important; never another
    officer's, an untrusted clock's, or an excluded item."""
    rules = LinkRules(is_important=lambda i: "camera_marked_important" in i.facts.flags)
    items = [
        _item(1, "J1", T + timedelta(minutes=10)),
        _item(2, "J2", T - timedelta(minutes=14)),  # inside the 15 min slack
        _item(3, "J3", T + timedelta(minutes=10)),  # not an officer of the activity
        _item(4, "J1", T - timedelta(hours=3), ("camera_marked_important",)),
        _item(5, "J1", T - timedelta(hours=3)),
        _item(6, "J1", T + timedelta(minutes=20)),
        _item(7, "J1", T + timedelta(minutes=30)),
    ]
    found = auto_matches(ACT, items, rules, untrusted={6}, excluded={7})
    assert [(m.item_id, m.rule) for m in found] == [
        (1, RULE_WINDOW),
        (2, RULE_WINDOW),
        (4, RULE_IMPORTANT),
    ]
    lo, hi = candidate_starts(ACT, rules)
    assert lo <= T - timedelta(hours=12) and hi >= ACT.end_at + timedelta(hours=12)


def _rec(
    item: int, start: datetime, end: datetime, *flags: str, video: bool = True
) -> LinkedRecording:
    return LinkedRecording(
        case_id=ACT.case_id,
        activity_id=ACT.id,
        item_id=item,
        start=start,
        end=end,
        is_video=video,
        flags=flags,
    )


FULL = coverage(ACT.start_at, ACT.end_at, [_rec(1, T - timedelta(minutes=1), ACT.end_at)])
NONE = coverage(ACT.start_at, ACT.end_at, [])


def test_gaps_compare_expected_and_actual_recordings() -> None:
    """A/V-required without covering video: a counted gap, unless a reason is recorded (Art.
    16); other types with nothing recorded: advice only."""
    assert FULL.complete and FULL.percent == 100
    assert activity_gap(ACT, cover=FULL, recorded=3) is None
    gap = activity_gap(ACT, cover=NONE, recorded=2)
    assert gap is not None and gap.kind == GAP_NO_VIDEO and gap.counts and gap.article == "Art. 16"
    exempt = dataclasses.replace(ACT, no_av_reason="unsafe to film")
    gap = activity_gap(exempt, cover=NONE, recorded=0)
    assert gap is not None and gap.kind == GAP_NOTHING and not gap.counts
    inquiry = dataclasses.replace(ACT, record_type="inquiry")
    gap = activity_gap(inquiry, cover=NONE, recorded=0)
    assert gap is not None and not gap.requires_av and not gap.counts
    assert activity_gap(inquiry, cover=NONE, recorded=1) is None


def test_damaged_short_clip_does_not_cover_an_inspection() -> None:
    """A 0.17 s clip ffprobe could not read covers nothing: the whole window stays a gap."""
    clip = _rec(1, T, T + timedelta(seconds=0.17), "media_damaged")
    cover = coverage(ACT.start_at, ACT.end_at, [clip])
    assert cover.percent == 0 and cover.not_covering == (1,) and cover.covering == ()
    assert cover.uncovered == (Span(start=ACT.start_at, end=ACT.end_at),)
    gap = activity_gap(ACT, cover=cover, recorded=1)
    assert gap is not None and gap.counts and gap.kind == GAP_NO_VIDEO


@pytest.mark.parametrize("flag", ["media_unreadable", "not_media_container", "empty"])
def test_unplayable_recordings_do_not_cover(flag: str) -> None:
    """Unreadable, non-container and empty files cover nothing; nor does audio alone."""
    cover = coverage(ACT.start_at, ACT.end_at, [_rec(1, ACT.start_at, ACT.end_at, flag)])
    assert cover.percent == 0
    audio = coverage(ACT.start_at, ACT.end_at, [_rec(2, ACT.start_at, ACT.end_at, video=False)])
    assert audio.percent == 0


def test_two_clips_covering_40_of_60_minutes_give_67_percent_and_the_open_span() -> None:
    """09:00-10:00 covered by 09:00-09:25 and 09:20-09:40 (overlapping): 67 %, 09:40-10:00 open."""
    nine = T.replace(hour=9, minute=0)
    clips = [
        _rec(1, nine, nine + timedelta(minutes=25)),
        _rec(2, nine + timedelta(minutes=20), nine + timedelta(minutes=40)),
    ]
    cover = coverage(nine, nine + timedelta(hours=1), clips)
    assert cover.percent == 67 and cover.covered_s == 40 * 60
    assert cover.uncovered == (
        Span(start=nine + timedelta(minutes=40), end=nine + timedelta(hours=1)),
    )
    act = dataclasses.replace(ACT, start_at=nine, end_at=nine + timedelta(hours=1))
    gap = activity_gap(act, cover=cover, recorded=2)
    assert gap is not None and gap.kind == GAP_PARTIAL and gap.counts


def test_vocabulary_accepts_codes_chinese_and_english_names() -> None:
    """'调查取证', 'investigation' and 'Investigation and evidence' are the same stage, in
    either language; a refusal lists the codes with the names in the reader's language."""
    assert lookup(STAGES, "调查取证", "stage").code == "investigation"
    assert lookup(STAGES, "Investigation and evidence", "stage").code == "investigation"
    assert lookup(RECORD_TYPES, "留置送达", "record type").requires_av
    with pytest.raises(UsageError) as err:
        lookup(STAGES, "lunch", "stage")
    assert str(err.value) == "'lunch' is not a stage"
    assert "decision (review and decision)" in err.value.hint
    with i18n.speaking("zh"):
        assert lookup(STAGES, "Investigation and evidence", "stage").code == "investigation"
        with pytest.raises(UsageError) as err:
            lookup(STAGES, "lunch", "stage")
    assert str(err.value) == "'lunch' 不是有效的阶段"
    assert err.value.hint == (
        "请使用以下之一：initiation (程序启动), investigation (调查取证), decision (审查决定), "
        "execution (送达执行), archiving (归档管理)。"
    )
    assert STAGES["investigation"].label == "investigation and evidence"
    required = {c for c, t in RECORD_TYPES.items() if t.requires_av}
    assert required == {
        "on-site-inspection",
        "sampling",
        "hearing",
        "compulsory-measure",
        "lien-service",
        "public-notice-service",
        "removal-restoration",
    }


def test_registration_after_recording_is_no_clock_problem_but_docking_time_is_evidence() -> None:
    """A device registered after it recorded says nothing about its clock; a recording that
    ends after the dock's time at docking does."""
    undocumented = _input(in_service_since=None, previous_dock_at=None)
    assert offload_reference(undocumented, RULES).problems == ()
    after_docking = _input(docked_at=T - timedelta(hours=3), acquired_at=T + timedelta(hours=1))
    ref = offload_reference(after_docking, RULES)
    assert FUTURE in ref.problems


def test_camera_time_apart_from_its_other_files_of_the_docking_is_doubted() -> None:
    """Files whose camera time runs 30 h from their file time, where the camera's other files
    of the session agree with theirs, are doubted; a lone file or a small offset is not."""
    odd = _input(file_mtime=T - timedelta(hours=30), session_offset_s=0.0, session_items=5)
    assert APART_FROM_SESSION in offload_reference(odd, RULES).problems
    few = _input(file_mtime=T - timedelta(hours=30), session_offset_s=0.0, session_items=2)
    assert APART_FROM_SESSION not in offload_reference(few, RULES).problems
    near = _input(file_mtime=T - timedelta(hours=2), session_offset_s=0.0, session_items=5)
    assert offload_reference(near, RULES).problems == ()
