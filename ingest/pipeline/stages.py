"""The labelled steps of one docking, in their order, and the hook that sees them.

``ingest_device(on_stage=...)`` calls the hook after each step has happened (a per-file step
once for each file that gets there, in this order for each file; a file's probe, filing and
record may come after the next file's first steps, as they run while that file is copied:
ingest.pipeline.overlap). The crash tests kill an ingest at each of them
(``EVIDOCK_TEST_STOP_AT``: ``kill_at``) and prove that a rerun resumes, losing and
duplicating nothing: after every one of these points the catalog, the store and the staging
folder are in a state a rerun recovers from. The case operations' points, which an ingest
reaches too (its auto-links), are ``ingest.cases.steps``.
"""

from __future__ import annotations

import enum
import os
import signal
from collections.abc import Callable

from i18n import _
from ingest.cases.steps import CaseStep, signal_at
from ingest.errors import IngestError

OnStage = Callable[[str], None]  # a Stage is a str: tests may collect them in a list


class Stage(enum.StrEnum):
    WALKED = "walked"  # the device's tree is listed; nothing recorded yet
    DOCKED = "docked"  # the session and its 'device_docked' event are committed
    COPIED = "copied"  # a file's bytes are written to its staging file (the last range unsynced)
    SYNCED = "synced"  # ... and synced to the disk
    READ_BACK = "read-back"  # ... and read back from the disk with the copy's hash
    PROBED = "probed"  # its facts are read from the staging copy
    FILED = "filed"  # the staging file is in the content-addressed store, not yet recorded
    RECORDED = "recorded"  # its item and custody events are committed
    CLOSED = "closed"  # the session is closed (24-hour rule, case links)
    CHECKPOINT = "checkpoint"  # a checkpoint covers the docking: it is done


def kill_at(
    stage: str, *, signum: int = signal.SIGKILL, kill: Callable[[int, int], None] = os.kill
) -> OnStage:
    """A hook that sends ``signum`` (SIGKILL: a crash at a known point) to this process when
    ``stage`` is reached, for the fault tests (``EVIDOCK_TEST_STOP_AT``, a stage here or a
    case step, which the case code sees for itself); never set in service."""
    if stage not in set(Stage) | set(CaseStep):
        raise IngestError(
            _("EVIDOCK_TEST_STOP_AT={value} names no stage of an ingest").format(value=repr(stage)),
            hint=_("Use one of {stages}, or unset it (it is for the crash tests).").format(
                stages=", ".join([*Stage, *CaseStep])
            ),
        )
    return signal_at(stage, signum, kill=kill)
