"""Who may do what (Art. 29, 31, 32; issue 16). Pure: no I/O, no clock.

``decide(roles, action, level, relation)`` answers one question from the table ``RULES``: which
roles may take an action, and in which relation to the item or case. A person holding several
roles may do what any of them allows. Restricted content (any level but ``none``) is then
narrowed further: its media, metadata and custody go only to custodians and to the people on
its case (handler, reviewer, approver). Every refusal says why (Chinese first, English) and who
to ask.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

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


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str  # Chinese / English
    ask: str  # who to ask when refused ("" when allowed)


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

ROLE_NAMES: Mapping[Role, tuple[str, str]] = {
    Role.OFFICER: ("执法人员", "officers"),
    Role.CUSTODIAN: ("证据保管员", "custodians"),
    Role.REVIEWER: ("审核人", "reviewers"),
    Role.APPROVER: ("批准人", "approvers"),
    Role.SUPERVISOR: ("执法监督人员", "supervisors"),
    Role.AUDITOR: ("审计员", "auditors"),
    Role.ADMIN: ("系统管理员", "administrators"),
}
ACTION_NAMES: Mapping[Action, tuple[str, str]] = {
    Action.VIEW_ITEM: ("查看证据信息和保管记录", "viewing an item and its custody"),
    Action.STREAM: ("播放证据音视频", "playing an item's media"),
    Action.DOWNLOAD_ORIGINAL: ("下载原始文件", "downloading an original"),
    Action.VIEW_CASE: ("查看案件", "viewing a case"),
    Action.VIEW_COMPLIANCE: ("查看合规报告", "viewing compliance reports"),
    Action.RUN_VERIFY: ("运行完整性校验", "running verification"),
    Action.VIEW_ACCESS_LOG: ("查看访问日志", "viewing the access log"),
    Action.MANAGE_PEOPLE: ("管理人员和角色", "managing people and roles"),
    Action.EXPORT: ("导出证据", "exporting evidence"),
    Action.APPROVE_EXPORT: ("批准导出", "approving an export"),
    Action.DECIDE_CASE: ("审核、批准案件", "reviewing or approving a case"),
}
_QUALIFIER: Mapping[frozenset[Relation], tuple[str, str]] = {
    ANY: ("", ""),
    ON_CASE: ("（限所办案件）", " (of their cases)"),
    OWN_OR_CASE: ("（限本人录像或所办案件）", " (own recordings or their cases)"),
}
LEVEL_NAMES: Mapping[Level, tuple[str, str]] = {
    Level(t.code): (t.zh, t.en) for t in vocab.CONFIDENTIALITY.values()
}

ASK_CUSTODIAN = "证据保管员 evidence custodian"
ASK_CONTENT = "证据保管员或案件承办人 the evidence custodian or the handler of its case"
ASK_ADMIN = "系统管理员 system administrator"
ASK_APPROVER = "案件批准人或执法监督人员 the case's approver or a supervisor"
ASK_EXPORT_APPROVER = "批准人或证据保管员 an approver or the evidence custodian"
_ASK: Mapping[Action, str] = {
    Action.MANAGE_PEOPLE: ASK_ADMIN,
    Action.APPROVE_EXPORT: ASK_EXPORT_APPROVER,
    Action.DECIDE_CASE: ASK_APPROVER,
}


_ROLE_VALUES = frozenset(r.value for r in Role)


def _who(action: Action) -> tuple[str, str]:
    zh, en = [], []
    for role, relations in RULES[action].items():
        rz, re_ = ROLE_NAMES[role]
        qz, qe = _QUALIFIER[relations]
        zh.append(rz + qz)
        en.append(re_ + qe)
    return "、".join(zh), ", ".join(en)


def _refuse(why: str, action: Action) -> Decision:
    ask = ASK_CONTENT if action in CONTENT else _ASK.get(action, ASK_CUSTODIAN)
    return Decision(allowed=False, why=why, ask=ask)


def decide(roles: frozenset[str], action: Action, level: Level, relation: Relation) -> Decision:
    """May someone holding ``roles``, in ``relation`` to the thing, take ``action`` on it at
    confidentiality ``level``?"""
    held = {Role(r) for r in roles if r in _ROLE_VALUES}
    rules = RULES[action]
    granted = [r for r, relations in rules.items() if r in held and relation in relations]
    az, ae = ACTION_NAMES[action]
    if not granted:
        if held == {Role.ADMIN} and action in CONTENT:
            why = ("系统管理员不接触证据内容（职责分离）"
                   " / administrators see no evidence content (separation of duties)")  # fmt: skip
            return _refuse(why, action)
        wz, we = _who(action)
        return _refuse(f"{az}仅限{wz} / {ae} is for {we}", action)
    restricted = action in CONTENT and level != Level.NONE
    if restricted and Role.CUSTODIAN not in held and relation != Relation.ON_CASE:
        lz, le = LEVEL_NAMES[level]
        why = (
            f"该内容密级为{lz}，仅限证据保管员和案件承办人、审核人、批准人 / this is {le}: "
            "only custodians and the handler, reviewer and approver of its case"
        )
        return _refuse(why, action)
    rz, re_ = ROLE_NAMES[granted[0]]
    return Decision(allowed=True, why=f"{rz}可{az} / {re_} may do {ae}", ask="")
