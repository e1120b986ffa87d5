"""The words of the regulation: stages, record types and case attributes, in Chinese and English.

Codes are stored in the catalog; reports show ``zh en`` side by side. Users may type a code,
the Chinese name or the English name. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ingest.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    code: str
    zh: str
    en: str
    requires_av: bool = False  # record types the regulation says must be recorded on A/V
    article: str = ""
    stage: str = ""  # the usual stage of a record type

    @property
    def label(self) -> str:
        return f"{self.zh} {self.en}"


def _table(*terms: Term) -> dict[str, Term]:
    return {t.code: t for t in terms}


# Art. 4: the whole process, stage by stage.
STAGES = _table(
    Term(code="initiation", zh="程序启动", en="initiation"),
    Term(code="investigation", zh="调查取证", en="investigation and evidence"),
    Term(code="decision", zh="审查决定", en="review and decision"),
    Term(code="execution", zh="送达执行", en="service and execution"),
    Term(code="archiving", zh="归档管理", en="archiving"),
)

# Art. 15-25. requires_av: Art. 16 (inspection, sampling, hearing), 18 (compulsory measures),
# 22 (lien and public-notice service), 25 (removal of obstruction, restoration).
RECORD_TYPES = _table(
    Term(code="on-site-inspection", zh="现场检查（勘验）", en="on-site inspection",
         requires_av=True, article="Art. 16", stage="investigation"),
    Term(code="sampling", zh="抽样取证", en="sampling", requires_av=True, article="Art. 16",
         stage="investigation"),
    Term(code="hearing", zh="听证", en="hearing", requires_av=True, article="Art. 16",
         stage="investigation"),
    Term(code="inquiry", zh="询问", en="inquiry", article="Art. 15", stage="investigation"),
    Term(code="statement", zh="陈述申辩", en="statement and defence", article="Art. 15",
         stage="investigation"),
    Term(code="evidence-preservation", zh="证据保全", en="evidence preservation",
         article="Art. 17", stage="investigation"),
    Term(code="compulsory-measure", zh="行政强制措施", en="compulsory measure",
         requires_av=True, article="Art. 18", stage="investigation"),
    Term(code="direct-service", zh="直接送达", en="direct service", article="Art. 22",
         stage="execution"),
    Term(code="lien-service", zh="留置送达", en="lien service", requires_av=True,
         article="Art. 22", stage="execution"),
    Term(code="public-notice-service", zh="公告送达", en="public-notice service",
         requires_av=True, article="Art. 22", stage="execution"),
    Term(code="mail-service", zh="邮寄送达", en="mail service", article="Art. 22",
         stage="execution"),
    Term(code="removal-restoration", zh="排除妨碍、恢复原状", en="removal or restoration",
         requires_av=True, article="Art. 25", stage="execution"),
    Term(code="other", zh="其他", en="other", stage="investigation"),
)  # fmt: skip

# Art. 3: the kinds of administrative enforcement.
ENFORCEMENT_TYPES = _table(
    Term(code="licensing", zh="行政许可", en="licensing"),
    Term(code="penalty", zh="行政处罚", en="penalty"),
    Term(code="compulsory", zh="行政强制", en="compulsory measure"),
    Term(code="levy", zh="行政征收征用", en="levy or requisition"),
    Term(code="inspection", zh="行政检查", en="inspection"),
)

PROCEDURES = _table(
    Term(code="simple", zh="简易程序", en="simple procedure"),
    Term(code="general", zh="一般程序", en="general procedure"),
)

# Art. 31, from the least to the most restricted: an item takes the strictest level of its
# cases (``strictest``). Anything but "none" restricts its media, metadata and custody to the
# custodians and the people on its case (ingest.access.roles). State secrets are refused.
CONFIDENTIALITY = _table(
    Term(code="none", zh="无", en="none"),
    Term(code="work-secret", zh="工作秘密", en="work secret"),
    Term(code="commercial-secret", zh="商业秘密", en="commercial secret"),
    Term(code="personal-information", zh="个人信息", en="personal information"),
    Term(code="personal-privacy", zh="个人隐私", en="personal privacy"),
)
STATE_SECRET = Term(code="state-secret", zh="国家秘密", en="state secret")

STATUSES = _table(
    Term(code="open", zh="办理中", en="open"),
    Term(code="closed", zh="已结案", en="closed"),
    Term(code="archived", zh="已归档", en="archived"),
)


def confidentiality(text: str) -> Term:
    """The level named by ``text``; a state secret is refused: it does not belong here."""
    key = text.strip()
    if key.lower() in (STATE_SECRET.code, STATE_SECRET.en) or key == STATE_SECRET.zh:
        raise UsageError(
            "国家秘密不得存入本系统 state secrets do not belong in this system",
            hint="Keep state-secret material in the classified system that the secrecy rules "
            "(保密工作规定) prescribe; evidock holds work secrets, commercial secrets, personal "
            "information and personal privacy at most.",
        )
    return lookup(CONFIDENTIALITY, text, "confidentiality level")


def rank(code: str) -> int:
    """How restricted a stored level is; a level this release does not know (a case opened
    as "state-secret" before it was refused) counts as the most restricted."""
    order = list(CONFIDENTIALITY)
    return order.index(code) if code in order else len(order)


def strictest(codes: Iterable[str]) -> str:
    """The most restricted of the levels; "none" for none at all."""
    return max(codes, key=rank, default="none")


def lookup(table: Mapping[str, Term], text: str, what: str) -> Term:
    """The term named by its code, its Chinese name or its English name (any case)."""
    key = text.strip()
    for t in table.values():
        if key.lower() in (t.code, t.en.lower()) or key == t.zh:
            return t
    choices = ", ".join(f"{t.code} ({t.zh})" for t in table.values())
    raise UsageError(f"{text!r} is not a {what}", hint=f"Use one of: {choices}.")


def label(table: Mapping[str, Term], code: str | None) -> str:
    """``zh en`` for a stored code; an unknown code is shown as it is."""
    if code is None:
        return "-"
    t = table.get(code)
    return t.label if t is not None else code
