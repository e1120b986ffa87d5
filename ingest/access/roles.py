"""Who may do what (Art. 29, 31, 32; issue 16). Pure: no I/O, no clock.

``decide(roles, action, level, relation)`` answers one question from the table ``RULES``: which
roles may take an action, and in which relation to the item or case. A person holding several
roles may do what any of them allows. Restricted content (any level but ``none``) is then
narrowed further: its media, metadata and custody go only to custodians and to the people on
its case (handler, reviewer, approver). Every refusal says why and who to ask: in the
reader's language (``Decision.why``, ``Decision.ask``), and in English, the source, as the
custody log keeps it (``Decision.recorded``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import i18n
from i18n import N_, _
from ingest.cases import vocab


class Role(StrEnum):
    OFFICER = "officer"  # sees own recordings
    CUSTODIAN = "custodian"  # Art. 29 keeper: items, custody, excuses, exports
    REVIEWER = "reviewer"  # Art. 32
    APPROVER = "approver"  # Art. 32
    SUPERVISOR = "supervisor"  # compliance reports; media only on their cases
    AUDITOR = "auditor"  # verify, custody and access logs; no media
    ADMIN = "admin"  # people, devices, docks; no evidence content (separation of duties)


class Level(StrEnum):
    """Art. 31 levels, least to most restricted ("state-secret" is refused everywhere)."""

    NONE = "none"
    WORK_SECRET = "work-secret"  # noqa: S105 (a level, not a password)
    COMMERCIAL_SECRET = "commercial-secret"  # noqa: S105
    PERSONAL_INFORMATION = "personal-information"
    PERSONAL_PRIVACY = "personal-privacy"


class Action(StrEnum):
    VIEW_ITEM = "view-item"  # metadata and custody timeline
    STREAM = "stream"  # proxy, poster, contact sheet
    DOWNLOAD_ORIGINAL = "download-original"
    VIEW_CASE = "view-case"
    VIEW_COMPLIANCE = "view-compliance"  # overdue and coverage reports
    RUN_VERIFY = "run-verify"
    VIEW_ACCESS_LOG = "view-access-log"
    MANAGE_PEOPLE = "manage-people"
    EXPORT = "export"
    APPROVE_EXPORT = "approve-export"
    DECIDE_CASE = "decide-case"


class Relation(StrEnum):
    OWN = "own"  # the item's officer
    ON_CASE = "on-case"  # handler/reviewer/approver of a case the item is linked to (or the case)
    NONE = "none"


class Words(Protocol):
    """Something to say, put into words only when it is said: in the reader's language."""

    def said(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Text:
    """A message marked with ``N_`` and its named values (words themselves), translated when
    said: a decision is made once and read in Chinese on the page, in English in the log."""

    message: str
    values: tuple[tuple[str, Words], ...] = ()

    def said(self) -> str:
        text = _(self.message)
        return text.format(**{k: v.said() for k, v in self.values}) if self.values else text


@dataclass(frozen=True, slots=True)
class Listed:
    """Words said one after another (``a, b`` in English, ``a、b`` in Chinese)."""

    items: tuple[Words, ...]

    def said(self) -> str:
        return _(LIST_SEPARATOR).join(w.said() for w in self.items)


LIST_SEPARATOR = N_(", ")


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    allowed: bool
    reason: Words
    asking: Words | None = None  # who to ask when refused (None when allowed)

    @property
    def why(self) -> str:
        """Why, in the reader's language."""
        return self.reason.said()

    @property
    def ask(self) -> str:
        """Who to ask, in the reader's language ("" when allowed)."""
        return "" if self.asking is None else self.asking.said()

    def recorded(self) -> str:
        """Why, as the custody log keeps it: in English, the source language, whoever read
        the refusal in which language."""
        with i18n.speaking(i18n.SOURCE):
            return self.reason.said()


def level_of(code: str | None) -> Level:
    """The level of a stored code; one this release does not know (a case opened as
    "state-secret" before that was refused) is handled as the most restricted."""
    try:
        return Level(code or "none")
    except ValueError:
        return Level.PERSONAL_PRIVACY


def strictest(levels: Iterable[Level]) -> Level:
    return level_of(vocab.strictest(str(x) for x in levels))


ANY = frozenset(Relation)
ON_CASE = frozenset({Relation.ON_CASE})
OWN_OR_CASE = frozenset({Relation.OWN, Relation.ON_CASE})

_R = Role
RULES: Mapping[Action, Mapping[Role, frozenset[Relation]]] = {
    Action.VIEW_ITEM: {_R.OFFICER: OWN_OR_CASE, _R.CUSTODIAN: ANY, _R.REVIEWER: ON_CASE,
                       _R.APPROVER: ON_CASE, _R.SUPERVISOR: ON_CASE, _R.AUDITOR: ANY},
    Action.STREAM: {_R.OFFICER: OWN_OR_CASE, _R.CUSTODIAN: ANY, _R.REVIEWER: ON_CASE,
                    _R.APPROVER: ON_CASE, _R.SUPERVISOR: ON_CASE},
    # Art. 28: an officer keeps no copy of a recording; originals go to the people on the case
    Action.DOWNLOAD_ORIGINAL: {_R.CUSTODIAN: ANY, _R.OFFICER: ON_CASE, _R.REVIEWER: ON_CASE,
                               _R.APPROVER: ON_CASE},
    Action.VIEW_CASE: {_R.CUSTODIAN: ANY, _R.OFFICER: ON_CASE, _R.REVIEWER: ON_CASE,
                       _R.APPROVER: ON_CASE, _R.SUPERVISOR: ANY, _R.AUDITOR: ANY},
    Action.VIEW_COMPLIANCE: {_R.SUPERVISOR: ANY, _R.CUSTODIAN: ANY, _R.AUDITOR: ANY},
    Action.RUN_VERIFY: {_R.AUDITOR: ANY, _R.CUSTODIAN: ANY},
    Action.VIEW_ACCESS_LOG: {_R.AUDITOR: ANY, _R.CUSTODIAN: ANY},
    Action.MANAGE_PEOPLE: {_R.ADMIN: ANY},
    Action.EXPORT: {_R.CUSTODIAN: ANY, _R.OFFICER: ON_CASE, _R.REVIEWER: ON_CASE,
                    _R.APPROVER: ON_CASE},
    Action.APPROVE_EXPORT: {_R.APPROVER: ANY, _R.CUSTODIAN: ANY},  # Art. 30, issue 17
    Action.DECIDE_CASE: {_R.REVIEWER: ON_CASE, _R.APPROVER: ON_CASE},
}  # fmt: skip

CONTENT = frozenset(
    {Action.VIEW_ITEM, Action.STREAM, Action.DOWNLOAD_ORIGINAL, Action.VIEW_CASE, Action.EXPORT}
)
"""Actions that show media, metadata or custody: restricted levels narrow them."""

ROLE_LABELS: Mapping[Role, str] = {
    Role.OFFICER: N_("officer"),
    Role.CUSTODIAN: N_("evidence custodian"),
    Role.REVIEWER: N_("reviewer"),
    Role.APPROVER: N_("approver"),
    Role.SUPERVISOR: N_("supervisor"),
    Role.AUDITOR: N_("auditor"),
    Role.ADMIN: N_("system administrator"),
}
"""One person's role, as a person reads it (``role_name``)."""
_HOLDERS: Mapping[Role, str] = {
    Role.OFFICER: N_("officers"),
    Role.CUSTODIAN: N_("custodians"),
    Role.REVIEWER: N_("reviewers"),
    Role.APPROVER: N_("approvers"),
    Role.SUPERVISOR: N_("supervisors"),
    Role.AUDITOR: N_("auditors"),
    Role.ADMIN: N_("administrators"),
}
ACTION_NAMES: Mapping[Action, str] = {
    Action.VIEW_ITEM: N_("viewing an item and its custody"),
    Action.STREAM: N_("playing an item's media"),
    Action.DOWNLOAD_ORIGINAL: N_("downloading an original"),
    Action.VIEW_CASE: N_("viewing a case"),
    Action.VIEW_COMPLIANCE: N_("viewing compliance reports"),
    Action.RUN_VERIFY: N_("running verification"),
    Action.VIEW_ACCESS_LOG: N_("viewing the access log"),
    Action.MANAGE_PEOPLE: N_("managing people and roles"),
    Action.EXPORT: N_("exporting evidence"),
    Action.APPROVE_EXPORT: N_("approving an export"),
    Action.DECIDE_CASE: N_("reviewing or approving a case"),
}
_QUALIFIER: Mapping[frozenset[Relation], str | None] = {
    ANY: None,
    ON_CASE: N_("{roles} (of their cases)"),
    OWN_OR_CASE: N_("{roles} (own recordings or their cases)"),
}
LEVEL_NAMES: Mapping[Level, str] = {
    Level.NONE: N_("none"),
    Level.WORK_SECRET: N_("work secret"),
    Level.COMMERCIAL_SECRET: N_("commercial secret"),
    Level.PERSONAL_INFORMATION: N_("personal information"),
    Level.PERSONAL_PRIVACY: N_("personal privacy"),
}
"""The Art. 31 levels as a refusal names them (the words of ``vocab.CONFIDENTIALITY``)."""

ASK_CUSTODIAN = N_("the evidence custodian")
ASK_CONTENT = N_("the evidence custodian or the handler of its case")
ASK_ADMIN = N_("the system administrator")
ASK_APPROVER = N_("the case's approver or a supervisor")
ASK_EXPORT_APPROVER = N_("an approver or the evidence custodian")
_ASK: Mapping[Action, str] = {
    Action.MANAGE_PEOPLE: ASK_ADMIN,
    Action.APPROVE_EXPORT: ASK_EXPORT_APPROVER,
    Action.DECIDE_CASE: ASK_APPROVER,
}


_ROLE_VALUES = frozenset(r.value for r in Role)


def role_name(role: str) -> str:
    """A role as the reader reads it; a name that is no role (yet) as it is."""
    return _(ROLE_LABELS[Role(role)]) if role in _ROLE_VALUES else role


def _who(action: Action) -> Listed:
    said: list[Words] = []
    for role, relations in RULES[action].items():
        holders = Text(_HOLDERS[role])
        qualified = _QUALIFIER[relations]
        said.append(holders if qualified is None else Text(qualified, (("roles", holders),)))
    return Listed(tuple(said))


def _refuse(why: Words, action: Action) -> Decision:
    ask = ASK_CONTENT if action in CONTENT else _ASK.get(action, ASK_CUSTODIAN)
    return Decision(allowed=False, reason=why, asking=Text(ask))


def decide(roles: frozenset[str], action: Action, level: Level, relation: Relation) -> Decision:
    """May someone holding ``roles``, in ``relation`` to the thing, take ``action`` on it at
    confidentiality ``level``?"""
    held = {Role(r) for r in roles if r in _ROLE_VALUES}
    rules = RULES[action]
    granted = [r for r, relations in rules.items() if r in held and relation in relations]
    doing = Text(ACTION_NAMES[action])
    if not granted:
        if held == {Role.ADMIN} and action in CONTENT:
            why = N_("administrators see no evidence content (separation of duties)")
            return _refuse(Text(why), action)
        return _refuse(
            Text(N_("{action} is for {roles}"), (("action", doing), ("roles", _who(action)))),
            action,
        )
    restricted = action in CONTENT and level != Level.NONE
    if restricted and Role.CUSTODIAN not in held and relation != Relation.ON_CASE:
        why = N_(
            "this is {level}: only custodians and the handler, reviewer and approver of its case"
        )
        return _refuse(Text(why, (("level", Text(LEVEL_NAMES[level])),)), action)
    may = Text(N_("{roles} may do {action}"), (("roles", Text(_HOLDERS[granted[0]])),
                                               ("action", doing)))  # fmt: skip
    return Decision(allowed=True, reason=may)
