"""Problems an audit finds: a stable code, what was expected, what was found.

Audits collect every problem before failing once (bagit style). Consecutive events with the
same problem (an inserted event shifts every later one) are summarised as one run, and no
code lists more than ``limit_per_code`` problems: the rest are counted, not listed, so a
badly damaged catalog still gives a readable report.

The code is for programs and never translated; ``subject``, ``expected`` and ``found`` are
for the custodian, written in the reader's language when the problem is found (issue 20),
and ``hint`` is translated when it is read. Hashes, sizes and names inside them stay as they
are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from i18n import N_, _, n_

# Problems that mean the custody log or its signed checkpoints cannot be trusted: nothing is
# appended to such a log, and no checkpoint is signed over it.
LOG_CODES = frozenset(
    {
        "event-missing",
        "event-leaf-mismatch",
        "event-not-canonical",
        "event-outside-log",
        "chain-broken",
        "log-head-mismatch",
        "log-node-missing",
        "log-node-mismatch",
        "log-node-beyond-head",
        "log-root-mismatch",
        "dock-key-missing",
        "dock-key-mismatch",
        "dock-key-invalid",
        "checkpoint-malformed",
        "checkpoint-bad-signature",
        "checkpoint-unknown-key",
        "checkpoint-wrong-origin",
        "checkpoint-row-mismatch",
        "checkpoint-file-misnamed",
        "checkpoint-beyond-log",
        "checkpoint-root-mismatch",
        "checkpoint-inconsistent",
        "checkpoint-file-missing",
        "checkpoint-row-missing",
        "s3-checkpoint-mismatch",
        "witness-fork",
        "key-rotation-invalid",
        "checkpoint-wrong-key",
    }
)

_LOG_HINT = N_(
    "The custody log in the catalog was altered, or restored from an older copy. Do not "
    "ingest or repair anything: keep the catalog, the store and its checkpoints/ folder as "
    "they are and hand this report to the evidence custodian."
)
_OBJECT_HINT = N_(
    "Do not repair or replace the object: report the item to the evidence custodian, who "
    "restores it from a replica and records why."
)
_FACT_HINT = N_(
    "A fact in the catalog differs from what its custody events recorded: the row was edited "
    "outside evidock. Reports made from it (overdue, case show) cannot be trusted; trust the "
    "custody log and hand this report to the evidence custodian."
)
_UNLOGGED_HINT = N_(
    "A row in the catalog that no custody event records: it was written outside evidock. Do "
    "not rely on it; hand this report to the evidence custodian."
)
_DEFAULT_HINT = N_("Hand this report to the evidence custodian.")
HINTS = {
    "object-missing": _OBJECT_HINT,
    "object-corrupt": _OBJECT_HINT,
    "object-size-mismatch": _OBJECT_HINT,
    "object-unreadable": N_(
        "Check the permissions and the disk of the store, then run verify again."
    ),
    "object-not-in-catalog": N_(
        "Bytes in the store that the catalog does not know: the catalog was restored from an "
        "older copy, or an ingest stopped between filing and recording (docking the device "
        "again records it). Keep the object and hand this report to the custodian."
    ),
    "object-without-item": N_(
        "The catalog lost or changed this object's item: see the item problems."
    ),
    "item-object-missing": N_(
        "The catalog has no stored copy of this item's hash: see its events."
    ),
    "item-event-missing": N_("The item's record in the catalog lacks custody events: report it."),
    "item-event-mismatch": N_(
        "The item's hash or size in the catalog differs from what its custody events recorded: "
        "the catalog row was edited. Trust the custody log; report it."
    ),
    "event-item-unknown": N_("An item row the custody log refers to is gone from the catalog."),
    "derived-without-event": N_(
        "A proxy in the catalog has no 'transcoded' event from this item's original: it cannot "
        "be shown as derived from it. Do not use it; make it again with evidock worker."
    ),
    "derived-object-missing": N_("A proxy's file is gone from store/derived: make it again."),
    "derived-object-corrupt": N_("A proxy's bytes changed since it was made: do not use it."),
    "s3-unreachable": N_(
        "The object store could not be checked: check the endpoint and credentials, then run "
        "verify again. Nothing about the objects is known from this run."
    ),
    "s3-object-missing": _OBJECT_HINT,
    "s3-object-changed": _OBJECT_HINT,
    "s3-object-corrupt": _OBJECT_HINT,
    "s3-lock-missing": N_(
        "The object is not under the Object Lock retention it was written with: someone with "
        "bucket rights changed it. Report it; do not delete or overwrite anything."
    ),
    "s3-legal-hold-mismatch": N_(
        "The legal hold in the bucket differs from the catalog's: an upload job may be pending "
        "(see 'evidock jobs'); otherwise it was changed outside evidock. Report it."
    ),
    "s3-item-missing": N_(
        "An item counted as offloaded to S3 has no S3 copy in the catalog: report it."
    ),
    "witness-missing": N_(
        "A checkpoint older than [trust] witness_grace_seconds lacks the cosignatures of "
        "[trust] witness_quorum pinned witnesses: check that the witnesses are reachable (the "
        "next checkpoint or audit submits what is pending); if a witness refused, see "
        "witness-fork. A catalog restored from an older copy shows this too."
    ),
    "witness-bad-signature": N_(
        "A stored cosignature does not verify with the pinned witness key: the checkpoint or "
        "the cosignature was altered, or the pinned key is wrong. Report it."
    ),
    "timestamp-missing": N_(
        "A checkpoint older than the grace period has no RFC 3161 token: check [trust] tsa_url "
        "and that the TSA answers (the next checkpoint or audit asks for what is pending)."
    ),
    "timestamp-invalid": N_(
        "A stored token does not verify over its checkpoint with the pinned TSA chain: the "
        "checkpoint or the token was altered, or the pinned chain is wrong. Report it."
    ),
    "timestamp-out-of-order": N_(
        "A token is earlier than events it covers or than the token of an older checkpoint: "
        "the log or its checkpoints were rewritten after the fact, or the TSA's clock is "
        "wrong. Report it."
    ),
    "item-fact-mismatch": _FACT_HINT,
    "offload-mismatch": _FACT_HINT,
    "excuse-mismatch": _FACT_HINT,
    "excuse-unlogged": _UNLOGGED_HINT,
    "excuse-missing": _FACT_HINT,
    "link-mismatch": _FACT_HINT,
    "link-unlogged": _UNLOGGED_HINT,
    "link-missing": _FACT_HINT,
    "case-mismatch": _FACT_HINT,
    "case-unlogged": _UNLOGGED_HINT,
    "case-missing": _FACT_HINT,
    "activity-mismatch": _FACT_HINT,
    "activity-unlogged": _UNLOGGED_HINT,
    "activity-missing": _FACT_HINT,
    "device-mismatch": _FACT_HINT,
    "device-unlogged": _UNLOGGED_HINT,
    "officer-unlogged": _UNLOGGED_HINT,
    "decision-mismatch": _FACT_HINT,
    "decision-unlogged": _UNLOGGED_HINT,
    "decision-missing": _FACT_HINT,
    "export-mismatch": _FACT_HINT,
    "export-unlogged": _UNLOGGED_HINT,
    "export-missing": _FACT_HINT,
    "s3-checkpoint-missing": N_(
        "A checkpoint published to the bucket is gone: the bucket was changed outside evidock."
    ),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One finding. ``seq``/``last_seq`` name the events concerned (a run when they differ)."""

    code: str
    subject: str
    expected: str
    found: str
    item: int | None = None
    seq: int | None = None
    last_seq: int | None = None
    count: int = 1

    @property
    def hint(self) -> str:
        """What to do, in the reader's language (the table holds the English)."""
        if self.code in LOG_CODES:
            return _(_LOG_HINT)
        hint = HINTS.get(self.code, _DEFAULT_HINT)
        return _(hint)

    @property
    def message(self) -> str:
        return _("{subject}: expected {expected}, found {found}").format(
            subject=self.subject, expected=self.expected, found=self.found
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "item": self.item,
            "subject": self.subject,
            "expected": self.expected,
            "found": self.found,
            "seq": self.seq,
            "last_seq": self.last_seq,
            "count": self.count,
            "hint": self.hint,
        }


class Problems:
    """The collector an audit writes into; ``listed()`` gives the final, ordered problems."""

    def __init__(self, *, limit_per_code: int = 1000) -> None:
        self._limit = limit_per_code
        self._listed: list[Problem] = []
        self._per_code: dict[str, int] = {}
        self._unlisted: dict[str, int] = {}
        self._open_runs: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._listed) + len(self._unlisted)

    def add(self, problem: Problem) -> None:
        n = self._per_code.get(problem.code, 0)
        if n >= self._limit:
            self._unlisted[problem.code] = self._unlisted.get(problem.code, 0) + problem.count
            return
        self._per_code[problem.code] = n + 1
        self._listed.append(problem)

    def add_event(
        self, code: str, seq: int, *, what: str, expected: str, found: str, item: int | None
    ) -> None:
        """A problem of event ``seq``; it extends a run of the same code ending at ``seq - 1``.

        ``what`` completes the subject: "event #12 <what>" or "events #12..#40, each <what>";
        the caller gives it in the reader's language (``_()``), as ``expected`` and ``found``.
        """
        at = self._open_runs.get(code)
        if at is not None:
            run = self._listed[at]
            if run.last_seq == seq - 1 and run.seq is not None:
                self._listed[at] = replace(
                    run,
                    # a run has two events or more: no singular
                    subject=_(
                        "events #{first}..#{last}, each {what} ({n} events; expected/found "
                        "are those of the first)"
                    ).format(first=run.seq, last=seq, what=what, n=run.count + 1),
                    item=run.item if run.item == item else None,
                    last_seq=seq,
                    count=run.count + 1,
                )
                return
        self.add(
            Problem(
                code=code,
                subject=_("event #{seq} {what}").format(seq=seq, what=what),
                expected=expected,
                found=found,
                item=item,
                seq=seq,
                last_seq=seq,
            )
        )
        if self._listed and self._listed[-1].seq == seq and self._listed[-1].code == code:
            self._open_runs[code] = len(self._listed) - 1

    def codes(self) -> set[str]:
        return {p.code for p in self._listed} | set(self._unlisted)

    def listed(self) -> tuple[Problem, ...]:
        tail = [
            Problem(
                code=code,
                subject=n_(
                    "{n} further problem of this kind, counted but not listed",
                    "{n} further problems of this kind, counted but not listed",
                    n,
                ).format(n=n),
                expected="-",
                found="-",
                count=n,
            )
            for code, n in sorted(self._unlisted.items())
        ]
        return (*self._listed, *tail)
