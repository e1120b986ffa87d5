"""What one docking reports: the outcome of each file and of the session.

The values of ``FileOutcome`` and ``SessionOutcome`` are recorded (a session's outcome in the
catalog), printed (``evidock ingest --json``) and used as metric labels: they never change. A
member is a ``str``, equal to its value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
class IngestReport:
    session: int
    device: str
    officer: str | None
    files: tuple[FileResult, ...]
    outcome: SessionOutcome = SessionOutcome.COMPLETE
    profile: str | None = None
    serial_source: str | None = None
    refused_reason: str | None = None
    checkpoint_size: int | None = None
    serial_claims: tuple[tuple[bytes, str], ...] = ()  # files naming another serial: (path, it)

    def count(self, result: FileOutcome) -> int:
        return sum(1 for f in self.files if f.result == result)

    @property
    def ok(self) -> bool:
        return self.count(FAILED) == 0 and self.outcome != OUTCOME_REFUSED

    def summary(self) -> dict[str, int]:
        return {
            "seen": len(self.files),
            "stored": self.count(STORED),
            "already": self.count(ALREADY),
            "failed": self.count(FAILED),
            "not_acquired": self.count(NOT_ACQUIRED),
            "flagged": sum(1 for f in self.files if f.flags),
            "bytes_stored": sum(f.size or 0 for f in self.files if f.result == STORED),
        }
