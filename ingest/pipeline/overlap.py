"""Files in a pipeline: while one file is copied, the one before is probed and filed and the
one before that is recorded.

The three parts of a file's ingest wait on different things: the copy on the disks (writes,
fsyncs, the read-back), the probe on exiftool and ffprobe (other processes), the record
(``pipeline.record``: one catalog transaction and its commit's fsync) on the database and on
Python. ``Overlap`` runs the probe and filing of each file on one thread and its record on
another while the caller copies the next file: on two cores the three overlap, and at most
``depth`` files are in flight after the one being copied, so memory does not grow with the
device.

What does not change (issue 19):

- Each file passes its steps in the same order (copied, synced, read-back, probed, filed,
  recorded): it is probed from its staging copy and recorded only once filed and durable, in
  the same transaction as before.
- Files are probed one after another and recorded one after another, in the device's order,
  so the custody events of a docking are the same events in the same order as without the
  pipeline. Before the caller writes anything itself (a file that failed or does not fit) it
  calls ``settle``: everything in flight is recorded first.
- Results reach the caller in order, on the caller's thread (``settle`` hands each one on).
- A crash leaves what the crash tests already prove a rerun recovers from: staging files (the
  rerun removes them), filed objects no record names yet (found again by their hash), and
  records committed that no result reported yet (the rerun finds them 'already' stored).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import TypeVar

from ingest.pipeline.results import FileResult

logger = logging.getLogger(__name__)

Done = Callable[[FileResult], None]
T = TypeVar("T")

DEPTH = 2
"""Files in flight behind the one being copied: one being probed and filed, one recorded."""


class Overlap:
    """The probe-and-file thread and the record thread; ``settle`` waits for both."""

    def __init__(self, *, depth: int = DEPTH) -> None:
        self.depth = depth
        self._probing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidock-probe")
        self._recording = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidock-record")
        self._pending: deque[tuple[Future[FileResult], Done]] = deque()

    def submit(
        self, prepare: Callable[[], T], record: Callable[[Future[T]], FileResult], done: Done
    ) -> None:
        """``prepare`` (probe and file) on the probe thread, then ``record`` with its future
        (its result, or the error it raised) on the record thread; ``done`` gets the record's
        result on the caller's thread, in order, when it is settled."""
        prepared = self._probing.submit(prepare)
        self._pending.append((self._recording.submit(record, prepared), done))
        while len(self._pending) > self.depth:
            self._settle_one()

    def settle(self) -> None:
        """Wait for every file in flight and hand their results on, in order. An error a
        record did not turn into a result is raised here."""
        while self._pending:
            self._settle_one()

    def _settle_one(self) -> None:
        future, done = self._pending.popleft()
        done(future.result())

    def __enter__(self) -> Overlap:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.settle()  # what is in flight ends and is reported, whatever happened
        except Exception as e:
            if exc is None:
                raise
            # the ingest's own error is the one reported; this one goes to the journal
            logger.error("a file's record failed too while the ingest was failing: %s", e)
        finally:
            self._probing.shutdown(wait=True)
            self._recording.shutdown(wait=True)
