"""The words of the regulation: stages, record types and case attributes.

A term's ``code`` is what the catalog and the custody log store; its ``name`` is English, marked
with ``N_``, and people read it as ``label``: the name in their language (issue 20: the Chinese
names are in the message catalog). Users may type a code, the English name or the Chinese
name. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import i18n
from i18n import N_, _
from ingest.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class Term:
    code: str
    name: str  # English, marked with N_; shown as ``label``
    requires_av: bool = False  # record types the regulation says must be recorded on A/V
    article: str = ""
    stage: str = ""  # the usual stage of a record type

    @property
    def label(self) -> str:
        """The name in the reader's language."""
        return _(self.name)

    @property
    def en(self) -> str:
        """The English name (for a page that shows both languages on purpose)."""
        return self.name

    @property
    def zh(self) -> str:
        """The Chinese name, whatever the reader's language (typed names are looked up in it)."""
        with i18n.speaking("zh"):
            return _(self.name)


class Vocabulary(dict[str, Term]):
    """The terms of one kind by code, and what one of them is called (``noun``, N_-marked)."""

    def __init__(self, noun: str, *terms: Term) -> None:
        super().__init__((t.code, t) for t in terms)
        self.noun = noun


# Art. 4: the whole process, stage by stage.
STAGES = Vocabulary(
    N_("stage"),
    Term(code="initiation", name=N_("initiation")),
    Term(code="investigation", name=N_("investigation and evidence")),
    Term(code="decision", name=N_("review and decision")),
    Term(code="execution", name=N_("service and execution")),
    Term(code="archiving", name=N_("archiving")),
)

# Art. 15-25. requires_av: Art. 16 (inspection, sampling, hearing), 18 (compulsory measures),
# 22 (lien and public-notice service), 25 (removal of obstruction, restoration).
RECORD_TYPES = Vocabulary(
    N_("record type"),
    Term(code="on-site-inspection", name=N_("on-site inspection"),
         requires_av=True, article="Art. 16", stage="investigation"),
    Term(code="sampling", name=N_("sampling"), requires_av=True, article="Art. 16",
         stage="investigation"),
    Term(code="hearing", name=N_("hearing"), requires_av=True, article="Art. 16",
         stage="investigation"),
    Term(code="inquiry", name=N_("inquiry"), article="Art. 15", stage="investigation"),
    Term(code="statement", name=N_("statement and defence"), article="Art. 15",
         stage="investigation"),
    Term(code="evidence-preservation", name=N_("evidence preservation"),
         article="Art. 17", stage="investigation"),
    Term(code="compulsory-measure", name=N_("compulsory measure"),
         requires_av=True, article="Art. 18", stage="investigation"),
    Term(code="direct-service", name=N_("direct service"), article="Art. 22",
         stage="execution"),
    Term(code="lien-service", name=N_("lien service"), requires_av=True,
         article="Art. 22", stage="execution"),
    Term(code="public-notice-service", name=N_("public-notice service"),
         requires_av=True, article="Art. 22", stage="execution"),
    Term(code="mail-service", name=N_("mail service"), article="Art. 22",
         stage="execution"),
    Term(code="removal-restoration", name=N_("removal or restoration"),
         requires_av=True, article="Art. 25", stage="execution"),
    # Art. 21: the simple procedure. Its acts need A/V only where they are likely to cause an
    # administrative dispute (``case activity add --disputed``).
    Term(code="simple-basis", name=N_("simple procedure: facts and legal basis"),
         article="Art. 21", stage="initiation"),
    Term(code="simple-steps", name=N_("simple procedure: steps and documents"),
         article="Art. 21", stage="investigation"),
    Term(code="simple-statement", name=N_("simple procedure: statement and defence"),
         article="Art. 21", stage="investigation"),
    Term(code="simple-statement-review", name=N_("simple procedure: review of the statement"),
         article="Art. 21", stage="decision"),
    Term(code="simple-filing", name=N_("simple procedure: filing with the street office"),
         article="Art. 21", stage="archiving"),
    Term(code="on-the-spot-fine", name=N_("on-the-spot fine collection"),
         article="Art. 21", stage="execution"),
    Term(code="other", name=N_("other"), stage="investigation"),
)  # fmt: skip

# Art. 3: the kinds of administrative enforcement.
ENFORCEMENT_TYPES = Vocabulary(
    N_("type of enforcement"),
    Term(code="licensing", name=N_("licensing")),
    Term(code="penalty", name=N_("penalty")),
    Term(code="compulsory", name=N_("administrative compulsion")),
    Term(code="levy", name=N_("levy or requisition")),
    Term(code="inspection", name=N_("inspection")),
)

PROCEDURES = Vocabulary(
    N_("procedure"),
    Term(code="simple", name=N_("simple procedure")),
    Term(code="general", name=N_("general procedure")),
)

# Art. 31, from the least to the most restricted: an item takes the strictest level of its
# cases (``strictest``). Anything but "none" restricts its media, metadata and custody to the
# custodians and the people on its case (ingest.access.roles). State secrets are refused.
CONFIDENTIALITY = Vocabulary(
    N_("confidentiality level"),
    Term(code="none", name=N_("none")),
    Term(code="work-secret", name=N_("work secret")),
    Term(code="commercial-secret", name=N_("commercial secret")),
    Term(code="personal-information", name=N_("personal information")),
    Term(code="personal-privacy", name=N_("personal privacy")),
)
STATE_SECRET = Term(code="state-secret", name=N_("state secret"))

# A device's life (issue 20), storage.catalog.caserecords.DEVICE_STATUSES.
DEVICE_STATUSES = Vocabulary(
    N_("device status"),
    Term(code="in-service", name=N_("in service")),
    Term(code="retired", name=N_("retired")),
    Term(code="lost", name=N_("lost")),
    Term(code="repair", name=N_("in repair")),
)

# Art. 32: the internal approval, step by step, and what each step may conclude.
DECISION_STEPS = Vocabulary(
    N_("step of the internal approval"),
    Term(code="propose", name=N_("handler's proposal")),
    Term(code="review", name=N_("review")),
    Term(code="approve", name=N_("approval")),
)

OUTCOMES = Vocabulary(
    N_("outcome"),
    Term(code="agree", name=N_("agreed")),
    Term(code="disagree", name=N_("disagreed")),
    Term(code="approve", name=N_("approved")),
    Term(code="reject", name=N_("rejected")),
)

STATUSES = Vocabulary(
    N_("case status"),
    Term(code="open", name=N_("open")),
    Term(code="closed", name=N_("closed")),
    Term(code="archived", name=N_("archived")),
)


def requires_av(record_type: str, *, disputed: bool = False) -> bool:
    """An activity must be on audio/video: its record type says so (Art. 16, 18, 22, 25), or
    it is a simple-procedure act likely to cause an administrative dispute (Art. 21)."""
    t = RECORD_TYPES.get(record_type)
    return disputed or (t is not None and t.requires_av)


def av_article(record_type: str, *, disputed: bool = False) -> str:
    """The article that requires A/V of the activity ('' when none does)."""
    t = RECORD_TYPES.get(record_type)
    if t is not None and t.requires_av:
        return t.article
    return "Art. 21" if disputed else ""


def confidentiality(text: str) -> Term:
    """The level named by ``text``; a state secret is refused: it does not belong here."""
    if _names(STATE_SECRET, text.strip()):
        raise UsageError(
            _("state secrets do not belong in this system"),
            hint=_(
                "Keep state-secret material in the classified system that the secrecy rules "
                "prescribe; evidock holds work secrets, commercial secrets, personal "
                "information and personal privacy at most."
            ),
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
    """The term named by its code, its English name (any case) or its Chinese name. A refusal
    calls the term by the table's own noun (``Vocabulary.noun``), else by ``what``."""
    key = text.strip()
    for t in table.values():
        if _names(t, key):
            return t
    noun = _(table.noun) if isinstance(table, Vocabulary) else what
    choices = ", ".join(t.code if t.label == t.code else f"{t.code} ({t.label})"
                        for t in table.values())  # fmt: skip
    raise UsageError(
        _("{text} is not a {what}").format(text=repr(text), what=noun),
        hint=_("Use one of: {choices}.").format(choices=choices),
    )


def _names(t: Term, key: str) -> bool:
    """``key`` (trimmed) is the term's code, English name (any case) or Chinese name."""
    return key.lower() in (t.code, t.name.lower()) or key == t.zh


def label(table: Mapping[str, Term], code: str | None) -> str:
    """The name of a stored code in the reader's language; an unknown code is shown as it is."""
    if code is None:
        return "-"
    t = table.get(code)
    return t.label if t is not None else code
