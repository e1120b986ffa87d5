"""The daemons' view of a catalog outage: how long they wait, and that they say it once."""

from __future__ import annotations

import logging

import pytest

from ingest.outage import CatalogOutage, retry_wait
from storage.errors import CatalogUnavailable


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_one_caller_waits_1_1_2_4_8_seconds_and_never_more_than_30() -> None:
    """Each wait is as long as the outage so far (at least 1 s, at most 30 s), so one caller's
    tries come after 1, 1, 2, 4, 8, ... seconds."""
    clock, waits = Clock(), []
    outage = CatalogOutage("test", monotonic=clock)
    for _ in range(9):
        wait = outage.failed(CatalogUnavailable("down"))
        waits.append(wait)
        clock.t += wait
    assert waits == [1, 1, 2, 4, 8, 16, 30, 30, 30]
    assert retry_wait(0.2) == 1 and retry_wait(3600) == 30


def test_many_callers_of_one_outage_do_not_make_each_other_wait_longer() -> None:
    """Ten bays failing at once all wait 1 s: the wait follows the outage's age, not the
    number of failed calls."""
    outage = CatalogOutage("test", monotonic=Clock())
    assert {outage.failed(CatalogUnavailable("down")) for _ in range(10)} == {1.0}


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Dozens of failed calls make one warning; a call begun before the outage and finished
    in time does not end it; the first call begun after it that succeeds does."""
    clock = Clock()
    outage = CatalogOutage("dock dock-a", monotonic=clock)
    before = outage.now()
    clock.t += 0.5
    with caplog.at_level(logging.WARNING, logger="ingest.outage"):
        for _ in range(30):
            outage.failed(CatalogUnavailable("catalog error: connection refused"))
            clock.t += 1
        outage.ok(before)
        assert outage.down and "catalog unavailable since" in (outage.describe() or "")
        outage.ok(outage.now())
        outage.ok(outage.now())
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("catalog unavailable: dock dock-a")
    assert "connection refused" in lines[0]
    assert lines[1].startswith("catalog available again: dock dock-a")
    assert "failed_calls=30" in lines[1]
    assert not outage.down and outage.describe() is None
