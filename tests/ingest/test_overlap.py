"""Records in groups (issue 19): files filed while the record thread is busy share one
transaction; a group that fails is recorded file by file; a file whose probe or filing failed
is recorded alone; results and records keep the device's order. The pipeline's part is
tested on ``Overlap`` with a group that logs what it sees; the same path under a real ingest
is the last test."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from ingest.context import LOG_ORIGIN, Context
from ingest.media.simcam import make_jpeg
from ingest.pipeline.overlap import Overlap
from ingest.pipeline.record import Filed, record_in
from ingest.pipeline.results import FileOutcome, FileResult
from ingest.pipeline.run import STORED, ingest_device
from ingest.pipeline.stages import Stage
from tests.conftest import CLIP_START
from verify.audit.run import run_audit

WAIT_S = 30


class Book:
    """What the record side saw, in order: ('begin'|'commit'|'rollback', n) and
    ('together'|'alone'|'committed', name)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.fail_together: set[str] = set()

    def log(self, *line: Any) -> None:
        with self.lock:
            self.lines.append(line)

    @contextlib.contextmanager
    def group(self) -> Iterator[Book]:
        self.log("begin")
        try:
            yield self
        except BaseException:
            self.log("rollback")
            raise
        self.log("commit")


class Rec:
    """A file's record for ``Overlap``: with a ``gate``, its record says it has started
    (``entered``) and waits for the gate."""

    def __init__(self, book: Book, gate: threading.Event | None = None) -> None:
        self.book, self.gate = book, gate
        self.entered = threading.Event()

    def _wait(self) -> None:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(WAIT_S), "the test never opened the gate"

    def together(self, name: str, group: Book) -> FileResult:
        self._wait()
        if name in self.book.fail_together:
            raise OSError(f"{name} cannot be recorded with others")
        self.book.log("together", name)
        return FileResult(path=name, result=FileOutcome.STORED)

    def alone(self, prepared: Future[str]) -> FileResult:
        self._wait()
        try:
            name = prepared.result()
        except OSError as e:
            self.book.log("alone-failed", str(e))
            return FileResult(path=str(e), result=FileOutcome.FAILED)
        self.book.log("alone", name)
        return FileResult(path=name, result=FileOutcome.STORED)

    def committed(self, name: str, result: FileResult) -> None:
        self.book.log("committed", name)


def prepared(name: str, filed: threading.Event, fail: bool = False) -> Callable[[], str]:
    def prepare() -> str:
        filed.set()
        if fail:
            raise OSError(f"{name} failed to file")
        return name

    return prepare


def _run(book: Book, names: list[str], failing: frozenset[str] = frozenset()) -> list[str]:
    """Submit ``names``: the first one's record waits until all others are filed, so they
    are all waiting for the record thread at once."""
    gate = threading.Event()
    filed = [threading.Event() for _ in names]
    handed: list[str] = []
    with Overlap(group=book.group) as overlap:
        for i, name in enumerate(names):
            rec = Rec(book, gate if i == 0 else None)
            overlap.submit(
                prepared(name, filed[i], name in failing), rec, lambda r: handed.append(r.path)
            )
            if i == 0:
                assert rec.entered.wait(WAIT_S), "the first record never started"
        assert all(f.wait(WAIT_S) for f in filed)
        # the probe thread runs one job at a time, in order: once this one ran, every
        # prepare before it has its result
        overlap._probing.submit(lambda: None).result(WAIT_S)
        gate.set()
        overlap.settle()
    return handed


def test_files_filed_while_the_record_thread_is_busy_are_recorded_in_one_transaction() -> None:
    book = Book()
    handed = _run(book, ["a", "b", "c", "d"])
    assert handed == ["a", "b", "c", "d"]
    assert book.lines == [
        ("alone", "a"),
        ("begin",), ("together", "b"), ("together", "c"), ("together", "d"), ("commit",),
        ("committed", "b"), ("committed", "c"), ("committed", "d"),
    ]  # fmt: skip


def test_a_group_that_fails_is_rolled_back_and_each_file_recorded_alone_in_order() -> None:
    book = Book()
    book.fail_together = {"c"}
    handed = _run(book, ["a", "b", "c", "d"])
    assert handed == ["a", "b", "c", "d"]
    assert book.lines == [
        ("alone", "a"),
        ("begin",), ("together", "b"), ("rollback",),
        ("alone", "b"), ("alone", "c"), ("alone", "d"),
    ]  # fmt: skip
    assert ("committed", "b") not in book.lines, "nothing of the rolled-back group counts"


def test_a_file_whose_filing_failed_is_recorded_alone_and_splits_the_group() -> None:
    book = Book()
    handed = _run(book, ["a", "b", "c", "d", "e"], failing=frozenset({"c"}))
    assert handed == ["a", "b", "c failed to file", "d", "e"]
    assert book.lines == [
        ("alone", "a"),
        ("alone", "b"),  # a group of one is recorded alone
        ("alone-failed", "c failed to file"),
        ("begin",), ("together", "d"), ("together", "e"), ("commit",),
        ("committed", "d"), ("committed", "e"),
    ]  # fmt: skip


def test_filing_runs_on_the_record_thread_before_the_group_and_a_failed_one_splits_it() -> None:
    """``then`` (the filing) of each file of a group runs on the record thread before the
    group's transaction opens; a file whose filing failed is recorded alone with its error,
    between the groups before and after it."""
    book = Book()
    gate = threading.Event()
    names = ["a", "b", "c", "d", "e", "f"]
    filed = [threading.Event() for _ in names]

    def then(name: str) -> str:
        book.log("then", name, threading.current_thread().name)
        if name == "d":
            raise OSError("d failed to file")
        return name

    with Overlap(group=book.group) as overlap:
        for i, name in enumerate(names):
            rec = Rec(book, gate if i == 0 else None)
            overlap.submit(prepared(name, filed[i]), rec, lambda r: None, then=then)
            if i == 0:
                assert rec.entered.wait(WAIT_S), "the first record never started"
        assert all(f.wait(WAIT_S) for f in filed)
        overlap._probing.submit(lambda: None).result(WAIT_S)
        gate.set()
        overlap.settle()
    rec_thread = "evidock-record"
    assert book.lines == [
        ("then", "a", rec_thread), ("alone", "a"),
        ("then", "b", rec_thread), ("then", "c", rec_thread), ("then", "d", rec_thread),
        ("begin",), ("together", "b"), ("together", "c"), ("commit",),
        ("committed", "b"), ("committed", "c"),
        ("alone-failed", "d failed to file"),
        ("then", "e", rec_thread), ("then", "f", rec_thread),
        ("begin",), ("together", "e"), ("together", "f"), ("commit",),
        ("committed", "e"), ("committed", "f"),
    ]  # fmt: skip


def test_without_a_group_each_file_is_recorded_alone() -> None:
    book = Book()
    gate = threading.Event()
    gate.set()
    with Overlap() as overlap:
        for name in ["a", "b", "c"]:
            overlap.submit(prepared(name, threading.Event()), Rec(book, gate), lambda r: None)
    assert book.lines == [("alone", "a"), ("alone", "b"), ("alone", "c")]


def test_an_ingest_records_files_filed_meanwhile_together_and_in_device_order(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first file's record is held (at its 'recorded' step) until the probe thread has
    probed the other four: those four are filed and commit in one write transaction. Their
    custody events come in device order, three per file, and the log and catalog verify."""
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    for i in range(5):
        make_jpeg(card / f"IMG_{i:04d}.JPG", taken=CLIP_START.replace(second=i))
    probed_all = threading.Event()
    probed = 0

    def on_stage(stage: str) -> None:
        nonlocal probed
        if stage == Stage.PROBED:
            probed += 1
            if probed == 5:
                probed_all.set()
        if stage == Stage.RECORDED and not probed_all.is_set():
            assert probed_all.wait(WAIT_S), "the other files were never probed"

    groups: dict[str, int] = {}  # each together-recorded file: the transaction it was in

    def seen(txn: Any, ctx: Context, docking: Any, filed: Filed) -> FileResult:
        groups[filed.entry.display] = id(txn)
        return record_in(txn, ctx, docking, filed)

    monkeypatch.setattr("ingest.pipeline.run.record_in", seen)
    report = ingest_device(ctx, tmp_path / "card", serial="GRP-1", officer=None, actor="t",
                           on_stage=on_stage)  # fmt: skip
    assert [f.result for f in report.files] == [STORED] * 5
    # The record thread took file 1 with the files probed by then (none, or file 2 from the
    # other probe thread, or all), and held that record until all five were probed: files 3
    # and 4 were probed meanwhile and commit in one transaction, at most one more than file
    # 1's; file 5 may have been probed a moment too late for it (then it is recorded alone).
    third, fourth = groups.get("DCIM/IMG_0002.JPG"), groups.get("DCIM/IMG_0003.JPG")
    assert third is not None and third == fourth, "the files probed meanwhile: one commit"
    assert len(set(groups.values())) <= 2, groups
    paths = [f.path for f in report.files]
    assert paths == sorted(paths)
    with ctx.catalog.read() as txn:
        events = [e for e in txn.log.events() if e.item is not None]
        items = {i.id: i.original_path_display for i in txn.items()}
    per_file = [(items[e.item], e.type) for e in events if e.item in items]
    assert per_file[:15] == [(p, t) for p in paths for t in ("acquired", "verified", "stored")]
    audit = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                      origin=LOG_ORIGIN)  # fmt: skip
    assert audit.ok, audit.problems
