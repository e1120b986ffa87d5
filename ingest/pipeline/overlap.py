"""Files in a pipeline: while one file is copied, the one before is probed and filed and those
before it are recorded, several in one transaction.

The three parts of a file's ingest wait on different things: the copy on the disks (writes,
fsyncs, the read-back), the probe on exiftool and ffprobe (other processes), the record
(``pipeline.record``: catalog rows, custody events, a commit's fsync) on the database and on
Python. ``Overlap`` runs the probe of each file on one of ``probers`` threads (two on a dock,
each with its own exiftool) and its filing (the caller's ``then``: the store's fsyncs) and
record on another while the caller copies the next file: on two cores the three overlap, and
at most ``depth`` files are in flight after the one being copied, so memory does not grow
with the device. Filing is on the record thread because the probe is the step that waits
longest (on exiftool, issue 19), and it is done before the transaction that records the file
opens, never while the log's lock is held.

The record thread takes the files that are probed and waiting, up to ``group`` of them in
device order, files them, and records them in one transaction (``FileRecord.together``): one
commit, one
fsync and one hold of the log's lock for the group instead of one for each file. When the
group's transaction fails, nothing of it was committed; each of its files is then recorded
alone (``FileRecord.alone``), as without groups, so one file's failure (say, its stored copy
released meanwhile) is that file's alone. A file whose probe or filing failed is recorded alone
(its error becomes its result) and splits the group.

What does not change (issue 19):

- Each file passes its steps in the same order (copied, synced, read-back, probed, filed,
  recorded): it is probed from its staging copy and recorded only once filed and durable.
- Files are recorded in the device's order, whichever of two is probed first, so the custody
  events of a docking are the same events in the same order as without the pipeline. Before the
  caller
  writes anything itself (a file that failed or does not fit) it calls ``settle``: everything
  in flight is recorded first.
- Results reach the caller in order, on the caller's thread (``settle`` hands each one on).
- A crash leaves what the crash tests already prove a rerun recovers from: staging files (the
  rerun removes them), filed objects no record names yet (found again by their hash), and
  records committed that no result reported yet (the rerun finds them 'already' stored). A
  crash before a group's commit leaves all of its files in the second state, after it all in
  the third.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar, overload

from ingest.pipeline.results import FileResult

logger = logging.getLogger(__name__)

Done = Callable[[FileResult], None]
T = TypeVar("T")
P = TypeVar("P")

DEPTH = 8
"""Files in flight behind the one being copied (being probed and filed, or waiting to be
recorded): staging files and small records, not file contents."""
GROUP = 8
"""Files recorded in one transaction at most: the writer lock other processes wait for is
held for one group."""


class FileRecord(Protocol[T]):
    """How one file is recorded, given what its probe-and-file step returned."""

    def together(self, prepared: T, group: Any) -> FileResult:
        """Record it in the group's open transaction; any error rolls the group back."""
        ...

    def alone(self, prepared: Future[T]) -> FileResult:
        """Record it in a transaction of its own; a failure becomes the file's result."""
        ...

    def committed(self, prepared: T, result: FileResult) -> None:
        """After the commit that holds its record (``together``'s ``result``)."""
        ...


@dataclass(slots=True)
class _Flight(Generic[T]):
    prepared: Future[Any]  # the probe thread's part
    record: FileRecord[T]
    result: Future[FileResult]
    done: Done
    then: Callable[[Any], T] | None = None  # the record thread's part, before the record
    ready: Future[T] = field(default_factory=Future)  # both parts: what the record gets


class Overlap:
    """The probe threads and the record thread; ``settle`` waits for them.

    ``group`` opens the transaction a group of files is recorded in (a context manager);
    None records each file alone. ``probers``: files probed at the same time (each thread
    needs its own tools: ingest.media.probe.Probes)."""

    def __init__(
        self,
        *,
        group: Callable[[], contextlib.AbstractContextManager[Any]] | None = None,
        depth: int = DEPTH,
        most: int = GROUP,
        probers: int = 1,
    ) -> None:
        self.depth = depth
        self.most = most if group is not None else 1
        self._group = group
        self._probing = ThreadPoolExecutor(max_workers=probers, thread_name_prefix="evidock-probe")
        self._pending: deque[_Flight[Any]] = deque()  # submitted, result not handed on yet
        self._waiting: deque[_Flight[Any]] = deque()  # submitted, not taken by the recorder
        self._cond = threading.Condition()
        self._closing = False
        self._recorder = threading.Thread(target=self._records, name="evidock-record")
        self._recorder.start()

    @overload
    def submit(self, prepare: Callable[[], T], record: FileRecord[T], done: Done) -> None: ...

    @overload
    def submit(
        self, prepare: Callable[[], P], record: FileRecord[T], done: Done, *, then: Callable[[P], T]
    ) -> None: ...

    def submit(
        self,
        prepare: Callable[[], Any],
        record: FileRecord[Any],
        done: Done,
        *,
        then: Callable[[Any], Any] | None = None,
    ) -> None:
        """``prepare`` (probe) on a probe thread, then ``then`` (file) and the file's record
        on the record thread, ``then`` before the transaction that holds the record opens;
        ``done`` gets its result on the caller's thread, in order, when it is settled."""
        flight = _Flight(
            prepared=self._probing.submit(prepare), record=record, result=Future(), done=done,
            then=then,
        )  # fmt: skip
        self._pending.append(flight)
        with self._cond:
            self._waiting.append(flight)
            self._cond.notify()
        while len(self._pending) > self.depth:
            self._settle_one()

    def settle(self) -> None:
        """Wait for every file in flight and hand their results on, in order. An error a
        record did not turn into a result is raised here."""
        while self._pending:
            self._settle_one()

    def _settle_one(self) -> None:
        flight = self._pending.popleft()
        flight.done(flight.result.result())

    # -- the record thread ----------------------------------------------------------------------
    def _records(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    self._cond.wait()
                if not self._waiting:
                    return  # closing, and nothing left
                first = self._waiting[0]
            wait_for([first.prepared])
            with self._cond:  # the first, and the files probed after it by now
                batch = [self._waiting.popleft() for _ in range(max(1, self._ready()))]
            self._record(batch)

    def _ready(self) -> int:
        """How many waiting files, from the first on, are probed (a failed one ends the run:
        it is recorded alone), at most ``most``."""
        n = 0
        for f in self._waiting:
            if n == self.most or not f.prepared.done() or f.prepared.exception() is not None:
                break
            n += 1
        return n

    def _record(self, batch: list[_Flight[Any]]) -> None:
        """Each file's part of this thread (filing) first, none inside a transaction; then
        the files in groups, a file whose part failed alone between them."""
        run: list[_Flight[Any]] = []
        for f in batch:
            _then(f)
            if f.ready.exception() is None:
                run.append(f)
                continue
            self._group_or_alone(run)
            self._group_or_alone([f])
            run = []
        self._group_or_alone(run)

    def _group_or_alone(self, batch: list[_Flight[Any]]) -> None:
        if len(batch) > 1 and self._group is not None:
            try:
                with self._group() as txn:
                    results = [f.record.together(f.ready.result(), txn) for f in batch]
            except Exception as e:  # noqa: BLE001 - rolled back: each file is recorded alone
                logger.info("a group of %d records failed (%s); recording them one by one",
                            len(batch), e)  # fmt: skip
            else:
                for f, result in zip(batch, results, strict=True):
                    self._hand(f, functools.partial(_committed, f, result))
                return
        for f in batch:
            self._hand(f, functools.partial(f.record.alone, f.ready))

    @staticmethod
    def _hand(flight: _Flight[Any], make: Callable[[], FileResult]) -> None:
        try:
            flight.result.set_result(make())
        except BaseException as e:  # noqa: BLE001 - raised on the caller's thread by settle
            flight.result.set_exception(e)

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
            with self._cond:
                self._closing = True
                self._cond.notify()
            self._recorder.join()
            self._probing.shutdown(wait=True)


def _committed(flight: _Flight[Any], result: FileResult) -> FileResult:
    flight.record.committed(flight.ready.result(), result)
    return result


def _then(flight: _Flight[Any]) -> None:
    """``flight.ready``: the probe thread's result passed through ``then`` (its error, or
    ``then``'s, as the error the record sees)."""
    try:
        got = flight.prepared.result()
        flight.ready.set_result(got if flight.then is None else flight.then(got))
    except BaseException as e:  # noqa: BLE001 - the record turns it into the file's result
        flight.ready.set_exception(e)
