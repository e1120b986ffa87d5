"""Filing items to cases: by hand, by the automatic rules, and after every ingest.

Each link and unlink commits together with its custody event (``linked`` / ``unlinked``) on
the item, which says who (the actor), how (``manual`` or the rule's name) and why (a rule's
reason in English, as the custody log keeps it). Refusals are in the reader's language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta

from i18n import _, n_
from ingest.cases.compliance import FUTURE
from ingest.cases.levels import refresh_item
from ingest.cases.offload import MEASURE_PART, measure, measure_brief
from ingest.cases.rules import (
    MANUAL,
    AutoMatch,
    LinkRules,
    auto_matches,
    candidate_starts,
    marked_important,
)
from ingest.cases.steps import CaseStep, OnStep, step_hook
from ingest.cases.vocab import STAGES, label
from ingest.context import Context, os_actor
from ingest.errors import FixityRefused, UsageError
from storage.catalog.caselinks import LinkOps
from storage.catalog.caserecords import Activity, Case, Link, NewLink
from storage.catalog.cases import ARCHIVED, CaseOps
from storage.catalog.fixity import fixity_failed_items
from storage.catalog.objects import queue_upload
from storage.catalog.offload import OffloadOps
from storage.catalog.session import Transaction
from storage.records import Item
from verify.log.events import EventType, data_time

logger = logging.getLogger(__name__)


def link_rules(
    ctx: Context, *, is_important: Callable[[Item], bool] = marked_important
) -> LinkRules:
    c = ctx.settings.compliance
    return LinkRules(
        slack=timedelta(minutes=c.link_slack_minutes),
        important_slack=timedelta(hours=c.important_slack_hours),
        is_important=is_important,
    )


def _writable(case: Case) -> None:
    if case.status == ARCHIVED:
        raise UsageError(
            _("case {number} is archived; its file can no longer change").format(
                number=case.number
            ),
            hint=_("Links are made while a case is open or closed, before it is archived."),
        )


def _link(
    txn: Transaction,
    ctx: Context,
    case: Case,
    item: Item,
    *,
    stage: str,
    activity: Activity | None,
    how: str,
    why: str,
    actor: str,
    fixity_override: str | None = None,
) -> Link:
    record_type = activity.record_type if activity is not None else None
    extra = {} if fixity_override is None else {"fixity_override": fixity_override}
    now = ctx.clock()
    ev = ctx.custody.append(
        txn,
        type=EventType.LINKED,
        actor=actor,
        item=item.id,
        data={
            "case": case.number,
            "stage": stage,
            "activity": activity.id if activity is not None else None,
            "record_type": record_type,
            "how": how,
            "why": why,
            "sha256": item.sha256,
            "linked_at": data_time(now),
            **extra,  # issue 18: linked although its stored bytes failed fixity, and why
        },
    )
    queue_upload(  # a legal hold on its S3 copy while the case is open
        txn, item.id, object_store=ctx.s3 is not None, shared=ctx.settings.store.shared,
        now=ctx.clock(),
    )  # fmt: skip
    link = LinkOps(txn).add_link(
        NewLink(
            case_id=case.id,
            item_id=item.id,
            stage=stage,
            record_type=record_type,
            activity_id=activity.id if activity is not None else None,
            how=how,
            why=why,
            linked_by=actor,
            linked_at=now,
            linked_seq=ev.seq,
        )
    )
    refresh_item(txn, ctx, item.id, actor=actor, case=case.number)  # Art. 31: its new level
    return link


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkOutcome:
    linked: tuple[Link, ...]
    already: tuple[int, ...]


def link_items(
    ctx: Context,
    *,
    number: str,
    item_ids: Sequence[int],
    stage: str,
    activity_id: int | None,
    why: str,
    actor: str,
    override_fixity: str | None = None,
    on_step: OnStep | None = None,
) -> LinkOutcome:
    """Link items to a case by hand. An item whose stored bytes failed their last fixity
    check (``storage.catalog.fixity``) is refused unless ``override_fixity`` gives the
    reason, which its ``linked`` event records. ``on_step`` sees ``CaseStep.LINK`` before
    the commit (default: the fault tests' hook, ``ingest.cases.steps``)."""
    if override_fixity is not None and not override_fixity.strip():
        raise UsageError(
            _("overriding a failed fixity check needs a reason"),
            hint=_("Say why: --override-fixity --reason 'the copy on the S3 replica verifies'"),
        )
    linked: list[Link] = []
    already: list[int] = []
    with ctx.catalog.write() as txn:
        failing = fixity_failed_items(txn, list(item_ids))
        if failing and override_fixity is None:
            listed = ", ".join(f"#{i}" for i in sorted(failing))
            raise FixityRefused(
                n_(
                    "fixity failed: the stored bytes of item {items} no longer matched their "
                    "hash at the last check; nothing was linked",
                    "fixity failed: the stored bytes of items {items} no longer matched their "
                    "hash at the last check; nothing was linked",
                    len(failing),
                ).format(items=listed),
                hint=_(
                    "See which copy failed: evidock verify --item ID. To link anyway, say why "
                    "(recorded in the 'linked' event): --override-fixity --reason TEXT"
                ),
            )
        ops = CaseOps(txn)
        case = ops.case(number)
        _writable(case)
        activity = ops.activity(activity_id) if activity_id is not None else None
        if activity is not None and activity.case_id != case.id:
            raise UsageError(
                _("activity {activity} belongs to case {case}, not {number}").format(
                    activity=activity.id, case=activity.case_number, number=number
                ),
                hint=_("List the activities of the case: evidock case show {number}").format(
                    number=number
                ),
            )
        if activity is not None and activity.stage != stage:
            raise UsageError(
                _("activity {activity} is in stage {stage}, not {given}").format(
                    activity=activity.id,
                    stage=label(STAGES, activity.stage),
                    given=label(STAGES, stage),
                ),
                hint=_("Use --stage {stage}, or leave out --activity.").format(
                    stage=activity.stage
                ),
            )
        for item_id in dict.fromkeys(item_ids):
            item = txn.item(item_id)
            if LinkOps(txn).live_link(case.id, item.id) is not None:
                already.append(item.id)
                continue
            linked.append(
                _link(
                    txn,
                    ctx,
                    case,
                    item,
                    stage=stage,
                    activity=activity,
                    how=MANUAL,
                    why=why,
                    actor=actor,
                    fixity_override=override_fixity if item.id in failing else None,
                )
            )
        (on_step or step_hook(ctx.settings))(CaseStep.LINK)
    return LinkOutcome(linked=tuple(linked), already=tuple(already))


def unlink_item(ctx: Context, *, number: str, item_id: int, reason: str, actor: str) -> Link:
    if not reason.strip():
        raise UsageError(_("unlinking needs a reason"), hint=_("Say why: --reason 'wrong case'"))
    with ctx.catalog.write() as txn:
        ops = CaseOps(txn)
        case = ops.case(number)
        _writable(case)
        item = txn.item(item_id)
        live = LinkOps(txn).live_link(case.id, item.id)
        if live is None:
            raise UsageError(
                _("item {item} is not linked to case {number}").format(item=item_id, number=number),
                hint=_("See what is linked: evidock case show {number}").format(number=number),
            )
        now = ctx.clock()
        ev = ctx.custody.append(
            txn,
            type=EventType.UNLINKED,
            actor=actor,
            item=item.id,
            data={
                "case": number,
                "stage": live.stage,
                "activity": live.activity_id,
                "how": MANUAL,
                "why": reason,
                "link_how": live.how,
                "sha256": item.sha256,
                "unlinked_at": data_time(now),
            },
        )
        queue_upload(  # the legal hold may no longer be needed
            txn, item.id, object_store=ctx.s3 is not None, shared=ctx.settings.store.shared,
            now=ctx.clock(),
        )  # fmt: skip
        gone = LinkOps(txn).retire_link(live.id, at=now, by=actor, reason=reason, seq=ev.seq)
        refresh_item(txn, ctx, item.id, actor=actor, case=number)  # Art. 31: its new level
        return gone


def autolink_activities(
    txn: Transaction,
    ctx: Context,
    activities: Sequence[Activity],
    *,
    actor: str,
    rules: LinkRules,
    items: Sequence[Item] | None = None,
    clock_problems: Collection[int] | None = None,
) -> list[AutoMatch]:
    """Run the rules for ``activities`` over ``items`` (default: the officers' items around
    each window) and link what they find; returns the links made. ``clock_problems``: those
    of ``items`` whose measurement found clock problems (default: measured here)."""
    ops, links = CaseOps(txn), LinkOps(txn)
    made: list[AutoMatch] = []
    done: set[tuple[int, int]] = set()  # (case, item) linked by this run
    for activity in activities:
        case = ops.case(activity.case_number)
        if case.status == ARCHIVED or not activity.officer_ids:
            continue
        pool = items
        if pool is None:
            lo, hi = candidate_starts(activity, rules)
            pool = links.items_of_officers(activity.officer_ids, start_from=lo, start_to=hi)
        if not pool:
            continue
        if clock_problems is None:
            measured = measure(txn, ctx, [i.id for i in pool], actor=actor)
            bad: Collection[int] = {i for i, c in measured.items() if c.clock_problems}
        else:
            bad = clock_problems
        untrusted = {i.id for i in pool if FUTURE in i.facts.flags or i.id in bad}
        excluded = links.ever_linked(case.id, [i.id for i in pool])
        # issue 18: failed fixity is linked only by hand, with a recorded reason
        excluded |= fixity_failed_items(txn, [i.id for i in pool])
        excluded |= {item for c, item in done if c == case.id}
        by_id = {i.id: i for i in pool}
        for m in auto_matches(activity, pool, rules, untrusted=untrusted, excluded=excluded):
            _link(
                txn,
                ctx,
                case,
                by_id[m.item_id],
                stage=activity.stage,
                activity=activity,
                how=m.rule,
                why=m.why,
                actor=actor,
            )
            done.add((case.id, m.item_id))
            made.append(m)
    return made


def autolink_case(ctx: Context, number: str, *, actor: str) -> list[AutoMatch]:
    with ctx.catalog.write() as txn:
        ops = CaseOps(txn)
        case = ops.case(number)
        _writable(case)
        return autolink_activities(
            txn, ctx, ops.activities(case.id), actor=actor, rules=link_rules(ctx)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class AfterIngest:
    measured: int
    late: tuple[int, ...]
    linked: tuple[AutoMatch, ...]


def after_ingest(
    ctx: Context,
    session_id: int,
    *,
    actor: str | None = None,
    is_important: Callable[[Item], bool] = marked_important,
    close_as: str | None = None,
    on_step: OnStep | None = None,
) -> AfterIngest:
    """The hook the pipeline calls once a dock session is finished: measure the session's items
    against the 24-hour rule (flagging late ones) and link them to the activities they fit.

    Idempotent: a second call measures again and links nothing twice. With ``close_as`` the
    session is closed with that outcome in the same transaction, so no crash can leave a
    closed session whose items were never measured or linked. ``on_step`` sees
    ``CaseStep.AUTOLINK`` before the commit (default: the fault tests' hook).
    """
    who = actor or os_actor()
    rules = link_rules(ctx, is_important=is_important)
    with ctx.catalog.write() as txn:
        if close_as is not None:
            txn.close_session(session_id, outcome=close_as, now=ctx.clock())
        ids = OffloadOps(txn).session_items(session_id)
        measured = measure_brief(txn, ctx, ids, actor=who)
        mine: list[Item] = []  # items linkable by time: an officer, a recording time, a
        for start in range(0, len(ids), MEASURE_PART):  # trusted clock; read in parts
            mine += [
                i
                for i in txn.items(ids=ids[start : start + MEASURE_PART])
                if i.officer_badge is not None
                and i.facts.recorded_start is not None
                and i.id not in measured.clock_problems
            ]
        linked: list[AutoMatch] = []
        if mine:
            officer_ids = sorted({txn.officer(i.officer_badge).id for i in mine if i.officer_badge})
            starts = [i.facts.recorded_start for i in mine if i.facts.recorded_start]
            ends = [i.facts.recorded_end or i.facts.recorded_start for i in mine]
            span_lo = min(starts) - rules.widest
            span_hi = max(e for e in ends if e is not None) + rules.widest
            acts = CaseOps(txn).activities_of_officers(officer_ids, start=span_lo, end=span_hi)
            linked = autolink_activities(
                txn,
                ctx,
                acts,
                actor=who,
                rules=rules,
                items=mine,
                clock_problems=measured.clock_problems,
            )
        (on_step or step_hook(ctx.settings))(CaseStep.AUTOLINK)
    logger.info(
        "after ingest session=%d measured=%d late=%d linked=%d",
        session_id,
        measured.count,
        len(measured.late),
        len(linked),
    )
    return AfterIngest(measured=measured.count, late=measured.late, linked=tuple(linked))
