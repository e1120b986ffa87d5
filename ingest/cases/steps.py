"""The labelled points inside the case operations' transactions, and the hook that sees them.

Each case operation writes its rows and custody events in one transaction. ``CaseStep`` names
the point where everything of it is written and nothing is committed yet: a fault there (a
SIGKILL, a PostgreSQL restart) must leave the operation undone, and a rerun must do it once.
The fault tests reach that point exactly (``EVIDOCK_TEST_STOP_AT``): the process sends itself
``EVIDOCK_TEST_STOP_SIGNAL`` there, ``KILL`` (the default: a crash) or ``STOP`` (it waits,
stopped, while the test restarts the database, and goes on when it gets SIGCONT). Never set
in service. The ingest's own stages are ``ingest.pipeline.stages``; the same variables drive
both.
"""

from __future__ import annotations

import enum
import os
import signal
from collections.abc import Callable

from i18n import _
from ingest.config import Settings
from ingest.errors import IngestError

OnStep = Callable[[str], None]  # the hook: called with the step's name when it is reached


class CaseStep(enum.StrEnum):
    LINK = "link-written"  # 'case link': links and 'linked' events written, not committed
    AUTOLINK = "autolink-written"  # after a docking: 24-hour measures and auto-links written
    EXCUSE = "excuse-written"  # 'excuse': excuses and 'excused' events written
    ARCHIVE = "archive-written"  # 'case archive': the case archived, 'case_archived' written


STOP_SIGNALS = {"KILL": signal.SIGKILL, "STOP": signal.SIGSTOP}


def stop_signal(name: str | None) -> int:
    """The signal ``EVIDOCK_TEST_STOP_SIGNAL`` names (default ``KILL``)."""
    found = STOP_SIGNALS.get(name or "KILL")
    if found is None:
        raise IngestError(
            _("EVIDOCK_TEST_STOP_SIGNAL={value} is neither KILL nor STOP").format(value=repr(name)),
            hint=_("Use KILL or STOP, or unset it (it is for the fault tests)."),
        )
    return found


def signal_at(
    point: str, signum: int, *, kill: Callable[[int, int], None] = os.kill
) -> Callable[[str], None]:
    """A hook that sends ``signum`` to this process each time ``point`` is reached."""

    def hook(reached: str) -> None:
        if reached == point:
            kill(os.getpid(), signum)

    return hook


def _unseen(_step: str) -> None:
    return None


def step_hook(settings: Settings) -> OnStep:
    """The fault tests' hook from the settings (``EVIDOCK_TEST_STOP_AT``/``_SIGNAL``); a hook
    that does nothing in service. A name that is no case step is left to the ingest."""
    point = settings.test_stop_at
    if point is None or point not in set(CaseStep):
        return _unseen
    return signal_at(point, stop_signal(settings.test_stop_signal))
