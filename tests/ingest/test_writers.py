"""Who has a file open for writing, as the kernel tells it (the check before a wipe)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.pipeline.said import Said
from ingest.pipeline.writers import (
    IN_USE,
    UNKNOWN_WRITERS,
    WRITING,
    Lease,
    Scan,
    Writer,
    fdinfo_flags,
    in_use,
    open_for_writing,
    write_lease,
    writes,
)

_HOLD = "import sys; f = open(sys.argv[1], sys.argv[2]); print('open', flush=True); input()"


@contextmanager
def _holding(path: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """A child process that keeps ``path`` open in ``mode`` until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), mode],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    try:
        assert proc.stdout.readline() == "open\n"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
        proc.stdout.close()


def test_open_flags_are_read_from_fdinfo_and_write_access_is_told_apart() -> None:
    """fdinfo's octal flags: O_WRONLY and O_RDWR write; O_RDONLY does not; unknown counts."""
    text = "pos:\t0\nflags:\t0100001\nmnt_id:\t29\nino:\t1234\n"
    assert fdinfo_flags(text) == 0o100001
    assert fdinfo_flags("pos:\t0\n") is None
    assert [writes(f) for f in (0o100000, 0o100001, 0o100002, 0o102002, None)] == [
        False, True, True, True, True,
    ]  # fmt: skip


def test_a_process_writing_the_file_is_found_and_a_reader_is_not(tmp_path: Path) -> None:
    """The /proc scan names the process that holds the file open for writing, not one that
    only reads it; the kernel refuses a write lease while either has it open."""
    target = tmp_path / "rec.wav"
    target.write_bytes(b"x" * 100)
    st = target.stat()
    fd = os.open(target, os.O_RDONLY)
    try:
        with write_lease(fd) as lease:
            assert lease.held
        with _holding(target, "ab") as writer:
            scan = open_for_writing(st.st_dev, st.st_ino)
            assert [w.pid for w in scan.writers] == [writer.pid]
            with write_lease(fd) as lease:
                assert lease.state == "busy"
        with _holding(target, "rb"):
            assert open_for_writing(st.st_dev, st.st_ino).writers == ()
            with write_lease(fd) as lease:
                assert lease.state == "busy"
    finally:
        os.close(fd)


def test_a_file_is_kept_unless_nobody_writes_it_by_proc_and_by_lease_or_every_process() -> None:
    """A writer found, or a lease refused, keeps the file; without a lease it is let go only
    when /proc showed every process."""
    held, busy = Lease(state="held"), Lease(state="busy")
    none = Lease(state="unavailable", why="Permission denied")
    seen_all, blind = Scan(writers=(), unseen=0), Scan(writers=(), unseen=3)
    writing = Scan(writers=(Writer(pid=41, fd=5, command="recorder"),), unseen=0)
    assert in_use(seen_all, held) is None
    assert in_use(blind, held) is None
    assert in_use(seen_all, none) is None
    assert _english(in_use(writing, held)) == (
        WRITING, "still open for writing by pid 41 (recorder); it stays on the device",
    )  # fmt: skip
    assert _english(in_use(seen_all, busy)) == (
        IN_USE, "another process has it open (the kernel refused a write lease); it stays",
    )  # fmt: skip
    assert _english(in_use(blind, none)) == (
        UNKNOWN_WRITERS,
        "cannot tell whether a process is writing it: 3 processes could not be looked into "
        "and the kernel gave no write lease (Permission denied); run the dock with CAP_LEASE "
        "(or CAP_SYS_PTRACE) to allow wiping",
    )

    unlisted = Scan(writers=(), unseen=0, error="cannot list /proc: No such file or directory")
    assert in_use(unlisted, none) is not None and in_use(unlisted, held) is None


def test_the_scan_of_a_missing_proc_says_so_instead_of_seeing_nobody(tmp_path: Path) -> None:
    """No /proc to look through is not 'no writer': the scan is incomplete."""
    scan = open_for_writing(1, 2, proc=tmp_path / "no-proc")
    assert not scan.complete and scan.error is not None


def _english(kept: tuple[str, Said] | None) -> tuple[str, str] | None:
    """The code and the reason of ``in_use``; the suite reads English, so the reader's text is
    the custody log's."""
    if kept is None:
        return None
    code, said = kept
    assert said.text == said.logged
    return code, said.text
