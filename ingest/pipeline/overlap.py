"""Files in a pipeline: the catalog record of one file runs while the next is copied.

Recording a file (``pipeline.record``: one catalog transaction, its commit's fsync) and the
next file's copy, fsyncs, read-back and probe wait on different things: the database and
Python on one side, the disks and exiftool on the other. ``Overlap`` runs each record on a
second thread while the caller goes on with the next file; at most one record is in flight,
so on two cores both sides work at once and memory does not grow with the device.

What does not change (issue 19):

- A file is handed over only once its bytes are filed and durable: the record is the same
  transaction as before and commits only what is on the disk.
- Records run one after another, in the device's order, so the custody events of a docking
  are the same events in the same order as without the pipeline. Before the caller writes
  anything itself (a file that failed or does not fit) it calls ``settle``: the record in
  flight commits first.
- Results reach the caller in order, on the caller's thread (``settle`` hands each one on).
- A crash leaves at most one committed record more than the results said and one filed object
  or staging file that no record names yet: the state the crash tests already prove a rerun
  recovers from (a staging file is removed, a filed object is found again by its hash).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from ingest.pipeline.results import FileResult

logger = logging.getLogger(__name__)

Done = Callable[[FileResult], None]


class Overlap:
    """One record at a time on a thread of its own; ``settle`` waits for it."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evidock-record")
        self._pending: tuple[Future[FileResult], Done] | None = None

    def submit(self, record: Callable[[], FileResult], done: Done) -> None:
        """Record (after the one in flight) on the record thread; ``done`` gets its result on
        the caller's thread, at the next ``settle``."""
        self.settle()
        self._pending = (self._pool.submit(record), done)

    def settle(self) -> FileResult | None:
        """Wait for the record in flight, hand its result on, and return it (None: none was
        in flight). An error the record did not turn into a result is raised here."""
        if self._pending is None:
            return None
        future, done = self._pending
        self._pending = None
        result = future.result()
        done(result)
        return result

    def __enter__(self) -> Overlap:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.settle()  # the record in flight ends and is reported, whatever happened
        except Exception:
            if exc is None:
                raise
            logger.exception("a file's record failed while the ingest was failing")
        finally:
            self._pool.shutdown(wait=True)
