"""The catalog's compliance facts rebuilt from the custody log and compared, field by field.

``Projection.apply`` is a pure fold over events: item attribution (officer, recorded
start/end, time source), state and ``durable_at``; the late flag of the offload measurement;
excuses; links and unlinks; the case lifecycle with its stage and its Art. 32 decisions;
activities; devices and officers (a row no event registers is reported). ``facts_recorded``
events (the baseline of a catalog written before the log held every fact) set the facts they
carry. A field no event
recorded (an old event without that key, and no baseline) is not known, so not compared.

``compare`` reports every difference with the catalog's rows (``storage.catalog.facts``) as a
problem naming the item or case, the field, the value the log gives and the value found.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from i18n import N_, _
from storage.catalog.facts import (
    ACTIVITY,
    CASE,
    DECISION,
    DEVICE,
    EXCUSE,
    EXPORT,
    FLAG,
    ITEM,
    LINK,
    OFFICER,
    PERSON,
    FactOps,
    Facts,
    Value,
    assignments_text,
    statuses_text,
    text_delay,
    text_time,
    text_value,
)
from storage.catalog.session import Catalog, Transaction
from storage.records import Event
from verify.custody import CustodyLog
from verify.log.events import EventType
from verify.problems import Problem, Problems

CASE_EVENTS = frozenset(
    {"case_opened", "case_closed", "case_archived", "activity_added", "case_decision",
     "case_stage_changed"}
)  # fmt: skip
DEVICE_EVENTS = frozenset(
    {"device_registered", "device_assigned", "device_docked", "device_status_changed"}
)
PERSON_EVENTS = frozenset(
    {"person_added", "role_granted", "role_revoked", "person_disabled", "second_factor_changed"}
)
LEVEL_EVENT = EventType.CONFIDENTIALITY_CHANGED.value
EXPORT_EVENTS = frozenset({"export_requested", "export_approved", "exported"})
FACT_EVENTS = frozenset(
    {
        "acquired",
        "durable",
        "late_flagged",
        "late_cleared",
        "excused",
        "linked",
        "unlinked",
        "facts_recorded",
        "metadata_corrected",
    }
    | CASE_EVENTS
    | DEVICE_EVENTS
    | {"officer_registered"}
    | PERSON_EVENTS
    | {LEVEL_EVENT}
    | EXPORT_EVENTS
)
BASELINE = EventType.FACTS_RECORDED

_TIMES = frozenset(
    {
        "recorded_start",
        "recorded_end",
        "durable_at",
        "reference_end",
        "returned_at",
        "granted_at",
        "linked_at",
        "unlinked_at",
        "opened_at",
        "closed_at",
        "archive_due_at",
        "archived_at",
        "start_at",
        "end_at",
        "decided_at",
    }
)


def norm(name: str, value: Any) -> Value:
    """A logged value in the spelling ``storage.catalog.facts`` gives the catalog's."""
    if name in _TIMES:
        return text_time(value)
    if name == "delay_s":
        return text_delay(value)
    return text_value(value)


def _take(out: dict[str, Value], data: Mapping[str, Any], names: Iterable[str]) -> None:
    for name in names:
        if name in data:
            out[name] = norm(name, data[name])


@dataclass(slots=True)
class Projection:
    """What the log says the catalog holds; fed one event at a time, in sequence order."""

    items: dict[int, dict[str, Value]] = field(default_factory=dict)
    flags: dict[int, dict[str, Value]] = field(default_factory=dict)  # by item
    excuses: dict[int, dict[str, Value]] = field(default_factory=dict)  # by excused seq
    links: dict[int, dict[str, Value]] = field(default_factory=dict)  # by linked seq
    cases: dict[str, dict[str, Value]] = field(default_factory=dict)  # by number
    live: dict[tuple[str, int], int] = field(default_factory=dict)  # (case, item): linked seq
    devices: dict[str, dict[str, Value]] = field(default_factory=dict)  # by serial
    activities: dict[int, dict[str, Value]] = field(default_factory=dict)  # by id
    starts: dict[str, dict[Value, Value]] = field(default_factory=dict)  # serial: start: badge
    statuses: dict[str, list[tuple[Value, Value, Value]]] = field(default_factory=dict)  # serial
    officers: dict[str, dict[str, Value]] = field(default_factory=dict)  # by badge
    decisions: dict[int, dict[str, Value]] = field(default_factory=dict)  # by event seq
    people: dict[str, dict[str, Value]] = field(default_factory=dict)  # by username
    exports: dict[int, dict[str, Value]] = field(default_factory=dict)  # by export id

    def apply(self, ev: Event) -> None:
        if ev.type not in FACT_EVENTS:
            return
        try:
            data = json.loads(ev.data)
        except ValueError:
            return  # the replay reports an event that is not JSON
        if not isinstance(data, dict):
            return
        match ev.type:
            case "acquired" | "durable" if ev.item is not None:
                names = ("officer", "recorded_start", "recorded_end", "time_source")
                facts = self.items.setdefault(ev.item, {})
                _take(facts, data,
                      (*names, "state", "durable_at") if ev.type == "acquired"
                      else ("state", "durable_at"))  # fmt: skip
                if ev.type == "acquired":
                    facts["confidentiality"] = "none"  # until a case makes it more (issue 16)
            case "metadata_corrected" if ev.item is not None:  # issue 20: the new values
                names = ("officer", "recorded_start", "recorded_end", "time_source")
                _take(self.items.setdefault(ev.item, {}), data, names)
            case "late_flagged" if ev.item is not None:
                flag: dict[str, Value] = {"late_flag_seq": str(ev.seq)}
                _take(flag, data, ("reference_end", "reference_source", "durable_at", "delay_s"))
                self.flags[ev.item] = flag
            case "late_cleared" if ev.item is not None:  # remeasured on time after a correction
                self.flags.pop(ev.item, None)
            case "excused" if ev.item is not None:
                excuse: dict[str, Value] = {"item": str(ev.item), "granted_by": ev.actor}
                _take(excuse, data, ("reason", "returned_at", "granted_at"))
                if "session" in data:
                    excuse["session"] = norm("session", data["session"])
                self.excuses[ev.seq] = excuse
            case "linked" if ev.item is not None:
                link: dict[str, Value] = {
                    "item": str(ev.item),
                    "linked_by": ev.actor,
                    "unlinked": "no",
                    "unlinked_seq": None,
                    "unlinked_by": None,
                    "unlink_reason": None,
                    "unlinked_at": None,
                }
                _take(link, data, ("case", "stage", "activity", "record_type", "how", "why",
                                   "linked_at"))  # fmt: skip
                self.links[ev.seq] = link
                self.live[(str(data.get("case")), ev.item)] = ev.seq
            case "unlinked" if ev.item is not None:
                at = self.live.pop((str(data.get("case")), ev.item), None)
                if at is not None:
                    gone = self.links[at]
                    gone.update(unlinked="yes", unlinked_seq=str(ev.seq), unlinked_by=ev.actor,
                                unlink_reason=norm("why", data.get("why")))  # fmt: skip
                    _take(gone, data, ("unlinked_at",))
            case "activity_added":
                act: dict[str, Value] = {}
                _take(act, data, ("case", "stage", "record_type", "start_at", "end_at",
                                  "no_av_reason"))  # fmt: skip
                if isinstance(data.get("officers"), list):
                    act["officers"] = ",".join(sorted(str(o) for o in data["officers"]))
                act["disputed"] = "yes" if data.get("disputed") else "no"  # older: not disputed
                self.activities[int(data.get("activity") or 0)] = act
            case "case_opened" | "case_closed" | "case_archived" | "case_stage_changed":
                self._case(ev, data)
            case "case_decision":
                decision: dict[str, Value] = {"decided_by": ev.actor}
                _take(decision, data, ("case", "step", "outcome", "officer", "opinion",
                                       "reasons", "decided_at"))  # fmt: skip
                self.decisions[ev.seq] = decision
            case "device_docked":
                serial = str(data.get("device"))
                if serial not in self.devices:  # first seen at a docking: registered by it
                    self.devices[serial] = {"registered": "yes" if data.get("registered")
                                            else "no"}  # fmt: skip
            case "device_registered" | "device_assigned" | "device_status_changed":
                self._device(ev.type, data)
            case "officer_registered":
                self.officers[str(data.get("badge"))] = {"badge": norm("badge", data["badge"])}
            case "confidentiality_changed" if ev.item is not None:
                self.items.setdefault(ev.item, {})["confidentiality"] = norm("to", data.get("to"))
            case "confidentiality_changed":
                level = norm("to", data.get("to"))
                self.cases.setdefault(str(data.get("case")), {})["confidentiality"] = level
            case t if t in PERSON_EVENTS:
                self._person(ev.type, data)
            case "export_requested" | "export_approved" | "exported":
                self._export(ev, data)
            case "facts_recorded":
                self._baseline(ev, data)
            case _:
                pass

    def _case(self, ev: Event, data: Mapping[str, Any]) -> None:
        number = str(data.get("case"))
        case = self.cases.setdefault(number, {})
        if ev.type == "case_opened":
            case.update(status="open", opened_by=ev.actor, closed_at=None, closed_by=None,
                        archive_due_at=None, archived_at=None, archived_by=None,
                        stage=norm("stage", data.get("stage", "initiation")))  # fmt: skip
            _take(case, data, ("enforcement_type", "procedure", "handler", "reviewer",
                               "approver", "opened_at", "confidentiality"))  # fmt: skip
        elif ev.type == "case_stage_changed":
            case["stage"] = norm("stage", data.get("to"))
        elif ev.type == "case_closed":
            case.update(status="closed", closed_by=ev.actor)
            _take(case, data, ("closed_at", "archive_due_at"))
        else:
            case.update(status="archived", archived_by=ev.actor)
            _take(case, data, ("archived_at",))

    def _export(self, ev: Event, data: Mapping[str, Any]) -> None:
        """Issue 17: an export's request, approval and package."""
        export = self.exports.setdefault(int(data.get("export") or 0), {})
        if ev.type == "export_requested":
            export.update(requested_by=ev.actor, approved_by=None, package_sha256=None)
            _take(export, data, ("case", "recipient", "purpose", "originals", "copies"))
            if isinstance(data.get("items"), list):
                export["items"] = ",".join(str(i) for i in data["items"])
        elif ev.type == "export_approved":
            export["approved_by"] = ev.actor
        else:
            _take(export, data, ("package_sha256",))

    def _person(self, type: str, data: Mapping[str, Any]) -> None:
        username = str(data.get("person"))
        person = self.people.setdefault(username, {})
        if type == "person_added":
            person.clear()
            _take(person, data, ("name", "badge", "unit", "os_user"))
            person.update(roles="", disabled="no", second_factor="none")
        elif type == "person_disabled":
            person["disabled"] = "yes"
        elif type == "second_factor_changed":
            person["second_factor"] = norm("factor", data.get("factor"))
        elif "roles" in person:
            roles = set(filter(None, (person["roles"] or "").split(",")))
            role = str(data.get("role"))
            roles = roles | {role} if type == "role_granted" else roles - {role}
            person["roles"] = ",".join(sorted(roles))

    def _device(self, type: str, data: Mapping[str, Any]) -> None:
        serial = str(data.get("serial"))
        device = self.devices.setdefault(serial, {})
        starts = self.starts.setdefault(serial, {})
        if type == "device_registered":
            _take(device, data, ("kind",))
            if "registered" in data:
                device["registered"] = "yes" if data["registered"] else "no"
            device.setdefault("statuses", "")  # registered here: no status change yet
        elif type == "device_status_changed":  # issue 20
            changes = self.statuses.setdefault(serial, [])
            changes.append((norm("status", data.get("status")), norm("start_at",
                            data.get("start_at")), norm("reason", data.get("reason"))))  # fmt: skip
            device["statuses"] = statuses_text(changes)
            return
        else:
            starts[norm("start_at", data.get("start_at"))] = norm("officer", data.get("officer"))
        ordered = sorted(starts.items(), key=lambda kv: kv[0] or "")
        ends: list[Value] = [s for s, _ in ordered[1:]] + ([None] if ordered else [])
        device["assignments"] = assignments_text(
            (badge, start, end) for (start, badge), end in zip(ordered, ends, strict=True)
        )

    def _baseline(self, ev: Event, data: Mapping[str, Any]) -> None:
        """Facts of a row recorded as they were (``record_baseline``); they replace what the
        log knew of that row."""
        kind, key, fields = data.get("kind"), data.get("key"), data.get("fields")
        if not isinstance(fields, dict) or key is None:
            return
        known = {str(k): text_value(v) for k, v in fields.items()}
        match kind:
            case "item":
                self.items[int(key)] = known
            case "offload":
                self.flags[int(key)] = known
            case "excuse":
                self.excuses[int(key)] = known
            case "link":
                self.links[int(key)] = known
                live = (str(known.get("case")), int(known.get("item") or 0))
                if known.get("unlinked") == "no":
                    self.live[live] = int(key)
                elif self.live.get(live) == int(key):
                    del self.live[live]
            case "case":
                self.cases[str(key)] = known
            case "activity":
                self.activities[int(key)] = known
            case "device":
                self.devices[str(key)] = known
                self.starts[str(key)] = _parse_spans(known.get("assignments"))
            case "officer":
                self.officers[str(key)] = known
            case _:
                pass


def _parse_spans(text: Value) -> dict[Value, Value]:
    """The starts and holders of ``assignments_text`` (the baseline of a device)."""
    out: dict[Value, Value] = {}
    for part in (text or "").split("; "):
        badge, sep, rest = part.partition(" from ")
        if sep:
            out[rest.split(" to ")[0]] = None if badge == "None" else badge
    return out


def baseline_events(ops: FactOps) -> list[tuple[int | None, dict[str, Any]]]:
    """``(item, data)`` of one ``facts_recorded`` event per row holding a compliance fact."""
    out: list[tuple[int | None, dict[str, Any]]] = []
    for group in (ops.item_facts(), ops.flag_facts(), ops.excuse_facts(), ops.link_facts(),
                  ops.case_facts(), ops.device_facts(), ops.activity_facts(),
                  ops.officer_facts()):  # fmt: skip
        for f in group:
            if f.kind == FLAG and f.fields.get("late_flag_seq") is None:
                continue  # only a late flag is evidence; a measurement is remade at will
            out.append((f.item, {"kind": f.kind, "key": f.key, "fields": dict(f.fields)}))
    return out


# -- the comparison ---------------------------------------------------------------------------

_SUBJECT = {  # shown through _() when a problem is made
    ITEM: N_("item #{key}"),
    FLAG: N_("offload check of item #{key}"),
    EXCUSE: N_("excuse of event #{key}"),
    LINK: N_("case link of event #{key}"),
    CASE: N_("case {key}"),
    DEVICE: N_("device {key}"),
    ACTIVITY: N_("activity {key}"),
    OFFICER: N_("officer {key}"),
    DECISION: N_("decision of event #{key}"),
    PERSON: N_("person {key}"),
    EXPORT: N_("export #{key}"),
}
_MISMATCH = {
    ITEM: "item-fact-mismatch",
    FLAG: "offload-mismatch",
    EXCUSE: "excuse-mismatch",
    LINK: "link-mismatch",
    CASE: "case-mismatch",
    DEVICE: "device-mismatch",
    ACTIVITY: "activity-mismatch",
    OFFICER: "officer-mismatch",
    DECISION: "decision-mismatch",
    PERSON: "person-mismatch",
    EXPORT: "export-mismatch",
}
# a row no event records: forged, or written behind evidock's back (issue 14)
_UNLOGGED = {
    FLAG: "offload-mismatch",
    EXCUSE: "excuse-unlogged",
    LINK: "link-unlogged",
    CASE: "case-unlogged",
    DEVICE: "device-unlogged",
    OFFICER: "officer-unlogged",
    ACTIVITY: "activity-unlogged",
    DECISION: "decision-unlogged",
    PERSON: "person-unlogged",
    EXPORT: "export-unlogged",
}
_MISSING = {
    FLAG: "offload-mismatch",
    EXCUSE: "excuse-missing",
    LINK: "link-missing",
    CASE: "case-missing",
    ACTIVITY: "activity-missing",
    DECISION: "decision-missing",
    PERSON: "person-missing",
    EXPORT: "export-missing",
}


def _subject(kind: str, key: object) -> str:
    """What a fact is about (made only for a problem: ``compare`` reads many rows)."""
    return _(_SUBJECT[kind]).format(key=key)


def _shown(v: Value) -> str:
    return _("nothing") if v is None else repr(v)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scope:
    """What to compare: everything, or the facts about some items and cases."""

    items: frozenset[int] | None = None
    cases: frozenset[str] | None = None

    def wants(self, f: Facts) -> bool:
        if self.items is None and self.cases is None:
            return True
        if f.kind == CASE:
            return self.cases is not None and f.key in self.cases
        if f.kind in (ACTIVITY, DECISION):
            return self.cases is not None and f.fields.get("case") in self.cases
        return self.items is not None and f.item is not None and f.item in self.items


def _expected(p: Projection, kind: str) -> Mapping[Any, dict[str, Value]]:
    by_kind: dict[str, Mapping[Any, dict[str, Value]]] = {
        ITEM: p.items, FLAG: p.flags, EXCUSE: p.excuses, LINK: p.links, CASE: p.cases,
        DEVICE: p.devices, ACTIVITY: p.activities, OFFICER: p.officers, DECISION: p.decisions,
        PERSON: p.people, EXPORT: p.exports,
    }  # fmt: skip
    return by_kind[kind]


def _key(kind: str, key: str) -> Any:
    return key if kind in (CASE, DEVICE, OFFICER, PERSON) else int(key)  # EXPORT: its id


def compare(
    projection: Projection,
    found: Iterable[Facts],
    problems: Problems,
    *,
    scope: Scope = Scope(),
) -> int:
    """Every catalog record in ``found`` against the log; then what the log has and the
    catalog lacks (within ``scope``). Returns how many records were compared."""
    seen: dict[str, set[Any]] = {k: set() for k in _SUBJECT}
    count = 0
    for f in found:
        count += 1
        key = _key(f.kind, f.key)
        seen[f.kind].add(key)
        expected = _expected(projection, f.kind).get(key)
        if expected is None:
            if f.kind == FLAG and f.fields.get("late_flag_seq") is None:
                continue  # an unflagged measurement: nothing in the log to agree with
            if f.kind in _UNLOGGED:
                problems.add(
                    Problem(
                        code=_UNLOGGED[f.kind],
                        subject=_("{subject}: no custody event records it").format(
                            subject=_subject(f.kind, f.key)
                        ),
                        expected=_("no such row (the log has none)"),
                        found=", ".join(
                            f"{k}={_shown(v)}" for k, v in f.fields.items() if v is not None
                        ),
                        item=f.item,
                    )
                )
            continue  # an item without events: fixity reports item-event-missing
        for name, want in expected.items():
            if name not in f.fields:
                continue
            got = f.fields[name]
            if got != want:
                problems.add(
                    Problem(
                        code=_MISMATCH[f.kind],
                        subject=_("{subject}, field {field}").format(
                            subject=_subject(f.kind, f.key), field=name
                        ),
                        expected=_("{value} (custody log)").format(value=_shown(want)),
                        found=_("{value} (catalog)").format(value=_shown(got)),
                        item=f.item,
                    )
                )
    for kind, code in _MISSING.items():
        for key, fields in _expected(projection, kind).items():
            if key in seen[kind]:
                continue
            named = fields.get("item")
            item = int(named) if named else (key if kind == FLAG else None)
            probe = Facts(kind=kind, key=str(key), item=item, fields=fields)
            if not scope.wants(probe) and not (kind == LINK and _in_cases(scope, fields)):
                continue
            problems.add(
                Problem(
                    code=code,
                    subject=_("{subject}: its row is gone from the catalog").format(
                        subject=_subject(kind, key)
                    ),
                    expected=", ".join(
                        f"{k}={_shown(v)}" for k, v in fields.items() if v is not None
                    ),
                    found=_("no row"),
                    item=item,
                )
            )
    return count


def _in_cases(scope: Scope, fields: Mapping[str, Value]) -> bool:
    return scope.cases is not None and fields.get("case") in scope.cases


def catalog_facts(txn: Transaction, scope: Scope) -> Iterable[Facts]:
    ops = FactOps(txn)
    items = None if scope.items is None else sorted(scope.items)
    if scope.items is None and scope.cases is None:
        yield from ops.item_facts()
        yield from ops.flag_facts()
        yield from ops.excuse_facts()
        yield from ops.link_facts()
        yield from ops.case_facts()
        yield from ops.device_facts()
        yield from ops.activity_facts()
        yield from ops.officer_facts()
        yield from ops.decision_facts()
        yield from ops.person_facts()
        yield from ops.export_facts()
        return
    if items:
        yield from ops.item_facts(items)
        yield from ops.flag_facts(items)
        yield from ops.excuse_facts(items)
        yield from ops.link_facts(items)
    for number in sorted(scope.cases or ()):
        yield from ops.link_facts(case=number)
        yield from ops.case_facts(number)
        yield from ops.activity_facts(number)
        yield from ops.decision_facts(number)


def scoped_projection(txn: Transaction, scope: Scope) -> Projection:
    """The fold over just the events of the scope's items and cases (cheap: no full replay)."""
    events: dict[int, Event] = {}
    for item in sorted(scope.items or ()):
        events.update((e.seq, e) for e in txn.log.events_for_item(item))
    for number in sorted(scope.cases or ()):
        needle = json.dumps(number, ensure_ascii=False)
        for e in txn.log.events_typed(CASE_EVENTS | {BASELINE, LEVEL_EVENT}, containing=needle):
            data = json.loads(e.data)
            if not isinstance(data, dict):
                continue
            fields = data.get("fields")
            named = fields.get("case") if isinstance(fields, dict) else None
            if number in (data.get("case"), data.get("key"), named):
                events[e.seq] = e
    p = Projection()
    for seq in sorted(events):
        p.apply(events[seq])
    return p


def check_scope(txn: Transaction, problems: Problems, scope: Scope) -> int:
    """``verify --item`` / ``--case`` and ``overdue``: the comparison for some items/cases."""
    cases = scope.cases or frozenset()
    linked: set[int] = set(scope.items or ())
    for number in cases:
        linked.update(FactOps(txn).case_items(number))
    full = Scope(items=frozenset(linked), cases=cases)
    found = [f for f in catalog_facts(txn, full) if full.wants(f) or _in_cases(full, f.fields)]
    return compare(scoped_projection(txn, full), _unique(found), problems, scope=full)


def _unique(found: Sequence[Facts]) -> list[Facts]:
    out: dict[tuple[str, str], Facts] = {}
    for f in found:
        out.setdefault((f.kind, f.key), f)
    return list(out.values())


def logged_late_items(txn: Transaction) -> set[int]:
    """Items the log says were flagged late or excused: a report on offloads covers them
    whatever the catalog's rows say (a row edited away must not hide one)."""
    found = {e.item for e in txn.log.events_typed(("late_flagged", "excused"), containing="")}
    for kind in ("offload", "excuse"):
        needle = f'"kind":"{kind}"'
        found |= {e.item for e in txn.log.events_typed((BASELINE,), containing=needle)}
    return {i for i in found if i is not None}


def disagreements(txn: Transaction, item_ids: Sequence[int]) -> tuple[Problem, ...]:
    """The problems of the catalog's facts about ``item_ids`` and every item the log flagged
    late or excused, against their events: what an offload report must not be made from."""
    problems = Problems()
    check_scope(txn, problems, Scope(items=frozenset(item_ids) | logged_late_items(txn)))
    return problems.listed()


MIGRATION_ACTOR = "system:migration"


def record_baseline(catalog: Catalog, custody: CustodyLog, *, actor: str = MIGRATION_ACTOR) -> int:
    """Record the facts of a catalog written before they were events, once: one
    ``facts_recorded`` event per row (item, late flag, excuse, link, case), in the transaction
    that clears the marker of schema revision 0006. Idempotent; returns the events appended.
    The caller signs a checkpoint after it."""
    with catalog.read() as txn:
        if not FactOps(txn).baseline_pending():
            return 0
    with catalog.write() as txn:
        txn.log.lock_head()  # one migrator at a time (PostgreSQL row lock)
        ops = FactOps(txn)
        if not ops.baseline_pending():
            return 0  # another process recorded it while we waited
        rows = baseline_events(ops)
        for item, data in rows:
            custody.append(txn, type=BASELINE, actor=actor, item=item, data=data)
        ops.baseline_done()
    return len(rows)
