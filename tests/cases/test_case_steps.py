"""The fault tests' hook inside the case operations (ingest.cases.steps), without a process."""

from __future__ import annotations

import os
import signal

import pytest

from ingest.cases.steps import CaseStep, signal_at, stop_signal
from ingest.errors import IngestError


def test_the_hook_signals_this_process_only_at_its_step() -> None:
    """Other steps (and the ingest's stages) pass; its own step sends the signal to itself."""
    sent: list[tuple[int, int]] = []
    hook = signal_at(CaseStep.EXCUSE, signal.SIGSTOP, kill=lambda pid, sig: sent.append((pid, sig)))
    for step in (CaseStep.LINK, CaseStep.ARCHIVE, "recorded"):
        hook(step)
    assert sent == []
    hook(CaseStep.EXCUSE)
    assert sent == [(os.getpid(), signal.SIGSTOP)]


def test_the_stop_signal_is_kill_by_default_stop_when_asked_and_nothing_else() -> None:
    """EVIDOCK_TEST_STOP_SIGNAL: unset is KILL; a typo is refused, saying what to use."""
    assert stop_signal(None) == signal.SIGKILL and stop_signal("STOP") == signal.SIGSTOP
    with pytest.raises(IngestError, match="neither KILL nor STOP") as err:
        stop_signal("TERM")
    assert "KILL or STOP" in err.value.hint
