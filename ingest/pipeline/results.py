"""What one docking reports: the outcome of each file and of the session.

The values of ``FileOutcome`` and ``SessionOutcome`` are recorded (a session's outcome in the
catalog), printed (``evidock ingest --json``) and used as metric labels: they never change. A
member is a ``str``, equal to its value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields


class FileOutcome(enum.StrEnum):
    """What became of one file of a docked device."""

    STORED = "stored"  # copied, verified, filed and recorded by this docking
    ALREADY = "already"  # its bytes were recorded from this device and path before
    FAILED = "failed"  # not stored: an error, recorded; the file stays on the device
    NOT_ACQUIRED = "not_acquired"  # left on the device on purpose, the reason recorded
    ABANDONED = "abandoned"  # the dock stopped mid-copy: nothing recorded, taken next time


class SessionOutcome(enum.StrEnum):
    """How one docking ended."""

    COMPLETE = "complete"  # every file stored or already stored (or left with its reason)
    INCOMPLETE = "incomplete"  # at least one file failed
    INTERRUPTED = "interrupted"  # stopped, or the device was pulled out, before the end
    REFUSED = "refused"  # nothing taken: the profile requires a registered device


# the names callers import (a member is its value: ``STORED == "stored"``)
STORED = FileOutcome.STORED
ALREADY = FileOutcome.ALREADY
FAILED = FileOutcome.FAILED
NOT_ACQUIRED = FileOutcome.NOT_ACQUIRED
ABANDONED = FileOutcome.ABANDONED

OUTCOME_COMPLETE = SessionOutcome.COMPLETE
OUTCOME_INCOMPLETE = SessionOutcome.INCOMPLETE
OUTCOME_INTERRUPTED = SessionOutcome.INTERRUPTED
OUTCOME_REFUSED = SessionOutcome.REFUSED


@dataclass(frozen=True, slots=True, kw_only=True)
class FileResult:
    path: str
    result: FileOutcome
    item: int | None = None
    sha256: str | None = None
    size: int | None = None
    reason: str | None = None
    flags: tuple[str, ...] = ()
    code: str | None = None  # the error's stable code, for a failed file
    raw_path: bytes | None = None  # the name as the device gave it (``path`` is its display)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileCounts:
    """How many files of one docking ended each way (the fields are ``FileOutcome`` values)."""

    seen: int = 0
    stored: int = 0
    already: int = 0
    failed: int = 0
    not_acquired: int = 0
    abandoned: int = 0
    flagged: int = 0
    bytes_stored: int = 0


class Tally:
    """A docking's file results as they come: counted, and kept (``keep``) for a report that
    lists them, or only counted for a caller that takes each one as it comes (the CLI prints
    or spills it): then a docking of 10,000 files holds no result of its files (issue 19)."""

    __slots__ = ("_counts", "keep", "results")

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.results: list[FileResult] = []  # every result when ``keep``, else none
        self._counts = {f.name: 0 for f in fields(FileCounts)}

    def add(self, result: FileResult) -> None:
        c = self._counts
        c["seen"] += 1
        c[result.result.value] += 1
        c["flagged"] += bool(result.flags)
        if result.result == FileOutcome.STORED:
            c["bytes_stored"] += result.size or 0
        if self.keep:
            self.results.append(result)

    def counts(self) -> FileCounts:
        return FileCounts(**self._counts)


def count_files(files: tuple[FileResult, ...]) -> FileCounts:
    tally = Tally(keep=False)
    for f in files:
        tally.add(f)
    return tally.counts()


@dataclass(frozen=True, slots=True, kw_only=True)
class IngestReport:
    session: int
    device: str
    officer: str | None
    files: tuple[FileResult, ...]  # every file's result; none when ``counts`` is given
    outcome: SessionOutcome = SessionOutcome.COMPLETE
    profile: str | None = None
    serial_source: str | None = None
    refused_reason: str | None = None
    checkpoint_size: int | None = None
    serial_claims: tuple[tuple[bytes, str], ...] = ()  # files naming another serial: (path, it)
    # the counts of a docking whose caller took each file's result as it came (issue 19:
    # ``ingest_device(keep_files=False)``); None: ``files`` is every file, counted from there
    counts: FileCounts | None = None

    def tally(self) -> FileCounts:
        return self.counts if self.counts is not None else count_files(self.files)

    def count(self, result: FileOutcome) -> int:
        n: int = getattr(self.tally(), FileOutcome(result).value)
        return n

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0 and self.outcome != OUTCOME_REFUSED

    def summary(self) -> dict[str, int]:
        c = self.tally()
        return {
            "seen": c.seen,
            "stored": c.stored,
            "already": c.already,
            "failed": c.failed,
            "not_acquired": c.not_acquired,
            "flagged": c.flagged,
            "bytes_stored": c.bytes_stored,
        }
