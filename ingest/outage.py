"""Outages of the catalog as one daemon sees them: logged once, retried with a growing wait.

A PostgreSQL restart (or a network cut to the catalog) makes every catalog call of the dock
and the workers fail with ``CatalogUnavailable`` for a while. That is expected, not a crash:
the daemons keep their state, wait and try again, and say so once when the outage starts and
once when the catalog answers again, not once per failed call. The wait before the next try is
as long as the catalog has been down so far, at least 1 s and at most 30 s: one caller's tries
come after 1, 1, 2, 4, 8, ... s, and many callers (bays, worker threads) sharing one outage do
not make each other wait longer. The arithmetic is a pure function; ``CatalogOutage`` is the
thread-safe bookkeeper that bays and worker threads share.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from i18n import _
from storage.errors import StorageError

logger = logging.getLogger(__name__)

FIRST_WAIT_S = 1.0
MAX_WAIT_S = 30.0


def retry_wait(down_s: float, *, first_s: float = FIRST_WAIT_S, max_s: float = MAX_WAIT_S) -> float:
    """Seconds to wait before the next try when the catalog has been down for ``down_s``."""
    return min(max_s, max(first_s, down_s))


class CatalogOutage:
    """One process's view of the catalog's outages; logs the start and the end of each.

    ``failed()`` returns how long to wait before the next try. ``ok(started)`` ends the outage
    when a call that began at ``started`` (``now()``) succeeded after the outage began; a call
    that began before it and finished just in time proves nothing.
    """

    def __init__(
        self,
        who: str,
        *,
        first_s: float = FIRST_WAIT_S,
        max_s: float = MAX_WAIT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.who = who
        self.first_s = first_s
        self.max_s = max_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._since: float | None = None
        self._since_wall: float | None = None
        self._failures = 0
        self._last_error = ""

    def failed(self, err: StorageError) -> float:
        """Record one failed catalog call; returns the seconds to wait before trying again."""
        with self._lock:
            now = self._monotonic()
            self._failures += 1
            self._last_error = str(err)
            wait = retry_wait(0.0 if self._since is None else now - self._since,
                              first_s=self.first_s, max_s=self.max_s)  # fmt: skip
            if self._since is None:
                self._since = now
                self._since_wall = time.time()
                logger.warning(
                    "catalog unavailable: %s keeps its work and retries (every %.0f s at most) "
                    "code=%s error=%s",
                    self.who, self.max_s, err.code, _one_line(err),
                )  # fmt: skip
            else:
                logger.debug("catalog still unavailable who=%s retry_in=%.1f", self.who, wait)
            return wait

    def now(self) -> float:
        """The clock ``ok()`` compares with: read it before a catalog call."""
        return self._monotonic()

    def ok(self, started: float) -> None:
        """A catalog call begun at ``started`` succeeded: an outage older than it is over."""
        with self._lock:
            if self._since is None or started < self._since:
                return
            lasted = self._monotonic() - self._since
            failures = self._failures
            self._since = self._since_wall = None
            self._failures = 0
            self._last_error = ""
        logger.warning(
            "catalog available again: %s carries on outage_seconds=%.1f failed_calls=%d",
            self.who, lasted, failures,
        )  # fmt: skip

    @property
    def down(self) -> bool:
        with self._lock:
            return self._since is not None

    def describe(self) -> str | None:
        """'catalog unavailable since HH:MM:SS: <error>' during an outage, else None; for a
        person (the daemon's status line), in the reader's language."""
        with self._lock:
            if self._since_wall is None:
                return None
            since = time.strftime("%H:%M:%S", time.localtime(self._since_wall))
            return _("catalog unavailable since {since}, retrying: {error}").format(
                since=since, error=_one_line(self._last_error)
            )


def _one_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
