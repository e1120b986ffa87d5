"""The log replay on every core: chunks of the log checked in worker processes, merged in order.

The log is cut into aligned chunks of ``2**k`` positions. A worker process opens the catalog
itself and runs a ``ChunkPass`` over its chunk: it reads the events and stored nodes, computes
the leaf hashes and makes every check whose inputs lie in the chunk. What needs the chunks
before it comes back as a step for the main process to finish: the ``prev`` of the chunk's
first event (``Chain``) and the climb of the stored tree above level ``k`` (``Climb``). Problems
come back as an ordered list of steps, so the main process reports exactly what one pass over
the whole log reports, in the same order (runs of events included). The main process keeps at
most two chunks per worker in flight (flat memory) and folds each chunk's perfect subtrees
into its running root.

Workers read in their own transactions. The log is append-only: the events and nodes below
the head that the main transaction read are the same rows in any later snapshot. A worker
speaks the main process's language (a spawned process starts in English): the problems it
sends back are read by the same custodian.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Collection, Iterator, Mapping
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field

import i18n
from storage.catalog.session import Catalog, Transaction
from storage.records import Event, EventColumns
from verify.audit.logpass import LogPass, chain_broken, completed_ranges
from verify.log.merkle import HASH_SIZE
from verify.problems import Problem

logger = logging.getLogger(__name__)

Subtrees = tuple[tuple[int, bytes], ...]


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) or os.cpu_count() or 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Parallel:
    """How to replay in worker processes: the catalog they open, how many, chunks of
    ``2**chunk_log2`` events, and the smallest log worth starting processes for."""

    catalog_url: str
    workers: int
    chunk_log2: int = 14
    min_events: int = 1 << 16

    def applies(self, size: int) -> bool:
        in_memory = self.catalog_url.startswith("sqlite") and (
            ":memory:" in self.catalog_url or self.catalog_url.rstrip("/") == "sqlite:"
        )
        return self.workers > 1 and size >= self.min_events and not in_memory


@dataclass(frozen=True, slots=True)
class Add:
    problem: Problem


@dataclass(frozen=True, slots=True)
class AddEvent:
    code: str
    seq: int
    what: str
    expected: str
    found: str
    item: int | None


@dataclass(frozen=True, slots=True)
class Chain:
    """The chunk's first event, whose ``prev`` only the main process can check."""

    event: Event


@dataclass(frozen=True, slots=True)
class Climb:
    """The stored tree above the chunk, from node ``(level, idx)`` as stored."""

    level: int
    idx: int
    current: bytes | None


Step = Add | AddEvent | Chain | Climb


@dataclass(slots=True)
class Recorder:
    """A ``Sink`` that keeps the problems of a chunk as steps, in order."""

    steps: list[Step] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.steps.append(Add(problem))

    def add_event(
        self, code: str, seq: int, *, what: str, expected: str, found: str, item: int | None
    ) -> None:
        self.steps.append(AddEvent(code, seq, what, expected, found, item))


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkResult:
    start: int
    end: int
    steps: tuple[Step, ...]
    events: int
    last_seq: int
    last_hex: str | None
    leaves: bytes
    """The recomputed leaf hashes, one after the other (a missing event has none)."""
    subtrees: Subtrees
    """The same leaves as perfect subtrees."""
    partial: Mapping[int, Subtrees]
    """The same for the leaves up to each checkpoint size inside the chunk."""


class ChunkPass(LogPass):
    """A pass over one chunk ``[start, end)``; it climbs the stored tree up to level ``top``."""

    def __init__(self, txn: Transaction, recorder: Recorder, sizes: Collection[int], *,
                 start: int, top: int) -> None:  # fmt: skip
        super().__init__(txn, recorder, ())
        self.recorder = recorder
        self.start = start
        self.top = top
        self.prev_hex = None
        self.prev_seq = start - 1
        self.wanted = frozenset(s - start for s in sizes)
        self.partial: dict[int, Subtrees] = {}
        self.leaves = bytearray()

    def chain_unknown(self, ev: Event) -> None:
        self.recorder.steps.append(Chain(ev))

    def reached_top(self, level: int, idx: int, current: bytes | None) -> None:
        self.recorder.steps.append(Climb(level, idx, current))

    def _event(self, cols: EventColumns, stored_leaf: bytes | None) -> bytes:
        leaf = super()._event(cols, stored_leaf)
        self.leaves += leaf
        if self.stream.size in self.wanted:
            self.partial[self.start + self.stream.size] = self.stream.subtrees()
        return leaf

    def result(self, end: int) -> ChunkResult:
        return ChunkResult(
            start=self.start, end=end, steps=tuple(self.recorder.steps), events=self.events,
            last_seq=self.prev_seq, last_hex=self.last_hex, leaves=bytes(self.leaves),
            subtrees=self.stream.subtrees(), partial=self.partial,
        )  # fmt: skip


_catalog: Catalog | None = None


def _start_worker(url: str, lang: str) -> None:
    global _catalog
    i18n.activate(lang)
    _catalog = Catalog(url)


def replay_chunk(start: int, end: int, top: int, sizes: frozenset[int]) -> ChunkResult:
    """In a worker: the checks of positions ``[start, end)`` (see the module doc)."""
    assert _catalog is not None, "the worker's catalog is opened by its initializer"
    with _catalog.read() as txn:
        chunk = ChunkPass(txn, Recorder(), sizes, start=start, top=top)
        chunk.window(start, end)
        return chunk.result(end)


def merge(main: LogPass, r: ChunkResult) -> None:
    """Fold a chunk into the pass over the whole log, exactly as if it had replayed it."""
    upper = None
    for step in r.steps:
        if isinstance(step, Add):
            main.problems.add(step.problem)
        elif isinstance(step, AddEvent):
            main.problems.add_event(
                step.code, step.seq, what=step.what, expected=step.expected,
                found=step.found, item=step.item,
            )  # fmt: skip
        elif isinstance(step, Chain):
            ev = step.event
            if (
                main.prev_seq == ev.seq - 1
                and main.prev_hex is not None
                and ev.prev != main.prev_hex
            ):
                main.problems.add(chain_broken(ev, main.prev_hex))
        else:
            if upper is None:
                upper = {
                    level: main.txn.log.nodes_in(level, first, stop)
                    for level, first, stop in completed_ranges(r.start, r.end)
                    if level > step.level
                }
            main.climb(step.level, step.idx, step.current, upper)
    if r.last_hex is not None:
        main.prev_hex = main.last_hex = r.last_hex
        main.prev_seq = r.last_seq
    main.events += r.events
    _push(main, r)
    if main.observe is not None:
        for ev in main.txn.log.event_range(r.start, r.end):
            main.observe(ev)


def _push(main: LogPass, r: ChunkResult) -> None:
    """The chunk's leaves into the running root, and the roots at the sizes asked for. A
    missing event has no leaf, so after one the leaves no longer line up with the positions:
    then (only then) they are pushed one by one."""
    if main.stream.size == r.start and r.events == r.end - r.start:
        for size, subtrees in sorted(r.partial.items()):
            at = main.stream.copy()
            at.extend(subtrees)
            main.roots[size] = at.root()
        main.stream.extend(r.subtrees)
        return
    for i in range(0, len(r.leaves), HASH_SIZE):
        main.stream.push(r.leaves[i : i + HASH_SIZE])
        if main.stream.size in main.sizes:
            main.roots[main.stream.size] = main.stream.root()


def replay_in_workers(main: LogPass, size: int, parallel: Parallel, *, batch: int) -> None:
    """``main.window`` over ``[0, size)``, done by ``parallel.workers`` processes. If the
    processes cannot be started or die, the rest of the log is replayed here, from the end
    of the last chunk merged (the state of a pass at a chunk's end is all the next needs)."""
    top = parallel.chunk_log2
    chunk = 1 << top
    sizes = main.sizes
    done = 0

    def jobs() -> Iterator[tuple[int, int, frozenset[int]]]:
        for start in range(0, size, chunk):
            end = min(start + chunk, size)
            yield start, end, frozenset(s for s in sizes if start < s <= end)

    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding connections
    try:
        given = (parallel.catalog_url, i18n.current())  # a spawned worker starts in English
        with ProcessPoolExecutor(parallel.workers, mp_context=spawn, initializer=_start_worker,
                                 initargs=given) as pool:  # fmt: skip
            todo = jobs()
            pending: deque[Future[ChunkResult]] = deque()

            def submit() -> None:
                job = next(todo, None)
                if job is not None:
                    pending.append(pool.submit(replay_chunk, job[0], job[1], top, job[2]))

            for _ in range(2 * parallel.workers):
                submit()
            while pending:
                result = pending.popleft().result()
                submit()
                merge(main, result)
                done = result.end
    except (BrokenExecutor, OSError) as e:
        logger.warning("log replay in worker processes failed at event %d (%s): replaying "
                       "the rest in this process", done, e)  # fmt: skip
        for start in range(done, size, batch):
            main.window(start, min(start + batch, size))
