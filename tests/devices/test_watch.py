"""Watch folders over real inotify: which device folder changed, within bounds on hostile trees.

inotify reports the events of one instance in order, so "a change was not reported" is shown
without waiting for nothing: a later change elsewhere is reported, the earlier one never was.
"""

from __future__ import annotations

import logging
import os
import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.watch import WatchSource
from tests.devices.deeptree import chain_path, make_chain, remove_tree
from tests.procs import wait_until


class Changes:
    """What a WatchSource reported, in order."""

    def __init__(self) -> None:
        self.q: queue.Queue[Path] = queue.Queue()

    def __call__(self, folder: Path) -> None:
        self.q.put(folder)

    def until(self, folder: Path, timeout: float = 30) -> list[Path]:
        """Every report up to and including the first one of ``folder``."""
        got: list[Path] = []
        while True:
            got.append(self.q.get(timeout=timeout))
            if got[-1] == folder:
                return got


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "watch"
    root.mkdir()
    yield root
    remove_tree(tmp_path)  # the chains are deeper than pytest's own clean-up can go


def _source(root: Path, changes: Changes, **limits: int) -> WatchSource:
    src = WatchSource([root], changes, **limits)
    src.start()
    return src


def test_watch_folder_with_a_device_1200_levels_deep_starts_and_keeps_reporting(
    watch: Path, tmp_path: Path
) -> None:
    """A deep device folder present at start, and another moved in later, neither stops the
    watcher: a camera dropped in afterwards is still reported and the reader thread lives."""
    make_chain(watch / "HOSTILE-1", 1200, {1200: ("x.mp4", b"x")})
    make_chain(tmp_path / "HOSTILE-2", 1200, {1200: ("x.mp4", b"x")})
    changes = Changes()
    src = _source(watch, changes)
    try:
        os.rename(tmp_path / "HOSTILE-2", watch / "HOSTILE-2")
        assert watch / "HOSTILE-2" in changes.until(watch / "HOSTILE-2")
        (watch / "BWC-1").mkdir()
        (watch / "BWC-1" / "a.mp4").write_bytes(b"a")
        changes.until(watch / "BWC-1")
        assert src.alive()
    finally:
        src.stop()
    assert not src.alive()


def test_changes_down_to_max_depth_are_reported_and_deeper_ones_are_not(watch: Path) -> None:
    """A file written 3 levels down is reported; one written below max_depth is not (the walk
    does not take it either)."""
    make_chain(watch / "DEV", 6, {})
    for sentinel in ("S1", "S2"):
        (watch / sentinel).mkdir()
    changes = Changes()
    src = _source(watch, changes, max_depth=3)
    try:
        (watch / "DEV" / os.fsdecode(chain_path(3)) / "in.mp4").write_bytes(b"i")
        (watch / "S1" / "s.mp4").write_bytes(b"s")
        assert watch / "DEV" in changes.until(watch / "S1")
        (watch / "DEV" / os.fsdecode(chain_path(5)) / "out.mp4").write_bytes(b"o")
        (watch / "S2" / "s.mp4").write_bytes(b"s")
        assert watch / "DEV" not in changes.until(watch / "S2")
    finally:
        src.stop()


def test_folders_created_after_start_are_watched_within_the_depth_limit(watch: Path) -> None:
    """mkdir -p of a new device tree: writes in its new sub-folders are reported."""
    changes = Changes()
    src = _source(watch, changes, max_depth=4)
    try:
        inner = watch / "CAM" / "DCIM" / "100MEDIA"
        inner.mkdir(parents=True)
        changes.until(watch / "CAM")
        assert wait_until(lambda: _reported_write(inner / "probe.mp4", changes, watch / "CAM"), 30)
    finally:
        src.stop()


def _reported_write(path: Path, changes: Changes, folder: Path) -> bool:
    """Write ``path``; True once its change was reported (its folder's watch may be added
    just after the folder appeared, so a write can come before it)."""
    path.write_bytes(b"p")
    try:
        return folder in changes.until(folder, timeout=0.5)
    except queue.Empty:
        return False


def test_a_device_folder_with_more_folders_than_the_limit_is_watched_up_to_it(
    watch: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past max_watched_folders the rest is not watched (logged once); the watcher goes on."""
    for n in range(10):
        (watch / "MANY" / f"f{n}").mkdir(parents=True)
    changes = Changes()
    with caplog.at_level(logging.WARNING, logger="devices.watch"):
        src = _source(watch, changes, max_watched_folders=4)
    try:
        warned = [r.getMessage() for r in caplog.records if "max_watched_folders" in r.message]
        assert len(warned) == 1 and "has more than 4 folders" in warned[0]
        (watch / "OTHER").mkdir()
        changes.until(watch / "OTHER")
        assert src.alive()
    finally:
        src.stop()


def test_a_removed_watch_folder_leaves_the_source_not_alive(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing can be seen in a watch folder that is gone: the source says so (the dock then
    stops, and its restart creates and watches the folder again)."""
    spare = tmp_path / "spare"
    spare.mkdir()
    changes = Changes()
    src = _source(spare, changes)
    try:
        assert src.alive()
        spare.rmdir()
        assert wait_until(lambda: not src.alive(), 30)
    finally:
        src.stop()
    assert any("was removed or moved away" in r.message for r in caplog.records)
