"""Files probed at the same time (issue 19): each probe thread has its own exiftool, the
docking stops them all, and the results are recorded in the device's order whichever file is
probed first."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from ingest.context import Context
from ingest.media.probe import MediaProbe, ProbeResult, Probes
from ingest.media.simcam import make_jpeg
from ingest.pipeline.run import STORED, ingest_device
from tests.conftest import CLIP_START
from tests.procs import gone, wait_until

WAIT_S = 60


def test_each_thread_gets_its_own_probe_and_keeps_it() -> None:
    made: list[MediaProbe] = []

    def make() -> MediaProbe:
        made.append(MediaProbe(timeout_s=30))
        return made[-1]

    probes = Probes(make, threads=2)
    assert len(made) == 2 and all(p.exif.pid is None for p in made), "no exiftool before a file"
    here = probes.here()
    assert probes.here() is here
    other: list[MediaProbe] = []
    t = threading.Thread(target=lambda: other.append(probes.here()))
    t.start()
    t.join(WAIT_S)
    assert other and other[0] is not here and {here, other[0]} == set(made)
    probes.close()


def test_close_stops_every_exiftool_the_probes_started_and_not_a_callers(tmp_path: Path) -> None:
    photo = make_jpeg(tmp_path / "a.jpg", taken=CLIP_START)
    probes = Probes(lambda: MediaProbe(timeout_s=30), threads=2)
    pids: list[int] = []

    def read() -> None:
        probe = probes.here()
        assert probe.probe(photo).exif.error is None
        assert probe.exif.pid is not None
        pids.append(probe.exif.pid)

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert len(set(pids)) == 2, "two threads, two exiftool processes"
    probes.close()
    assert all(gone(pid) for pid in pids)

    with MediaProbe(timeout_s=30) as mine:
        shared = Probes.one(mine)
        assert shared.threads == 1 and shared.here() is mine
        assert mine.probe(photo).exif.error is None
        pid = mine.exif.pid
        shared.close()
        assert pid is not None and mine.exif.pid == pid, "the caller's exiftool is the caller's"


def test_a_docking_probes_on_two_threads_each_with_its_own_exiftool_in_device_order(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    for i in range(12):
        make_jpeg(card / f"IMG_{i:04d}.JPG", taken=CLIP_START.replace(second=i))
    assert ctx.settings.probe.threads == 2, "[probe] threads: 2 by default"
    seen: list[tuple[str, int, int | None]] = []
    lock = threading.Lock()
    probe_file = MediaProbe.probe

    def probe(self: MediaProbe, path: Path) -> ProbeResult:
        got = probe_file(self, path)
        with lock:
            seen.append((threading.current_thread().name, id(self), self.exif.pid))
        return got

    monkeypatch.setattr(MediaProbe, "probe", probe)
    report = ingest_device(ctx, tmp_path / "card", serial="PAR-1", officer=None, actor="t")
    assert [f.result for f in report.files] == [STORED] * 12
    assert [f.path for f in report.files] == [f"DCIM/IMG_{i:04d}.JPG" for i in range(12)]
    threads = {name for name, _probe, _pid in seen}
    probes = {(name, probe) for name, probe, _pid in seen}
    # the first file's probe starts an exiftool (a tenth of a second): the second file is
    # copied and handed over meanwhile, to the second thread
    assert len(threads) == 2, "two probe threads"
    assert len(seen) == 12 and len(probes) == 2, "one probe per thread, kept"
    assert all(pid is not None and gone(pid) for _n, _p, pid in seen), "stopped at the end"
    with ctx.catalog.read() as txn:
        items = [e.item or 0 for e in txn.log.events() if e.type == "acquired"]
    assert items == sorted(items), "custody events in the device's order"


def test_an_exiftool_that_dies_while_it_is_being_stopped_is_stopped_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A probe thread's exiftool dies with its thread (``die_with_parent``) when the docking's
    pool ends, just before the probes are stopped: the stop must not depend on seeing it
    alive (PyExifTool's ``terminate`` warned, and the suite turns warnings into errors)."""
    photo = make_jpeg(tmp_path / "a.jpg", taken=CLIP_START)
    probe = MediaProbe(timeout_s=30)
    assert probe.probe(photo).exif.error is None
    pid = probe.exif.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: gone(pid), 30)
    # it was alive when looked at, and dead by the time it is told to stop
    monkeypatch.setattr(type(probe.exif._et), "alive", lambda self: True)
    probe.exif.close()
    monkeypatch.undo()
    assert probe.exif.pid is None and gone(pid)
    assert probe.probe(photo).exif.error is None, "the next file starts another exiftool"
    probe.exif.close()


def test_a_docking_ends_with_every_probe_threads_exiftool_gone(
    ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's threads end (their exiftools killed with them) before the probes are
    stopped; the docking ends cleanly whichever comes first, docking after docking."""
    card = tmp_path / "card" / "DCIM"
    card.mkdir(parents=True)
    pids: list[int] = []
    read = MediaProbe.probe

    def probe(self: MediaProbe, path: Path) -> ProbeResult:
        got = read(self, path)
        if self.exif.pid is not None:
            pids.append(self.exif.pid)
        return got

    monkeypatch.setattr(MediaProbe, "probe", probe)
    for round_ in range(3):
        for i in range(4):
            make_jpeg(card / f"IMG_{round_}{i:03d}.JPG", taken=CLIP_START.replace(second=i))
        report = ingest_device(ctx, tmp_path / "card", serial="END-1", officer=None, actor="t")
        assert report.count(STORED) == 4
    assert pids and all(gone(pid) for pid in pids)
