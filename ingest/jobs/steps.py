"""The labelled points of an ``upload`` job (ingest.jobs.uploads), for the fault tests.

Each names a point between two effects that a crash may separate: bytes in S3 and not yet in
the catalog, a legal hold changed in S3 and not yet recorded, the job's transaction written and
not committed, a local copy's release committed and its file not yet unlinked. The fault tests
reach each one exactly (``EVIDOCK_TEST_STOP_AT``, ``EVIDOCK_TEST_STOP_SIGNAL``: the same
variables and signals as the case operations' points, ingest.cases.steps) and prove that a
rerun of the job finishes it once. Never set in service.
"""

from __future__ import annotations

import enum

from ingest.cases.steps import OnStep, signal_at, stop_signal
from ingest.config import Settings


class JobStep(enum.StrEnum):
    UPLOADED = "uploaded"  # the PUTs of an upload job are done, nothing of them recorded
    HOLD_SET = "hold-set"  # a legal hold set (or released) in S3, not yet recorded
    WRITTEN = "upload-written"  # step 3: objects, events, job done: written, not committed
    RELEASED = "released-recorded"  # a local copy's release committed, its file not unlinked


def _unseen(_step: str) -> None:
    return None


def job_hook(settings: Settings) -> OnStep:
    """The fault tests' hook from the settings; a hook that does nothing in service. A name
    that is no job step is left to the ingest and the case operations."""
    point = settings.test_stop_at
    if point is None or point not in set(JobStep):
        return _unseen
    return signal_at(point, stop_signal(settings.test_stop_signal))
