"""Whether anyone has a file open for writing: asked of the kernel before a wipe (issue 23).

A recorder that pauses in the middle of a file keeps it open; deleting it then sends the rest
of the recording into a deleted inode. Two checks, because neither sees everything:

- ``/proc``: every process's open files (``/proc/PID/fd/N``, stat-ed to their file system and
  inode) with their open flags (``/proc/PID/fdinfo/N``); ``O_WRONLY`` or ``O_RDWR`` is a
  writer. It names the writer, but it sees only this PID namespace (not a container's own,
  nor processes hidden by ``hidepid``), and other users' processes only with CAP_SYS_PTRACE:
  a process it could not look into is counted as unseen.
- a write lease (``fcntl F_SETLEASE F_WRLCK``): the kernel grants it only while no other open
  file description of the inode exists, from any process in any namespace, and while it is
  held an open by anyone else waits for it. It needs the file to be ours (or CAP_LEASE) and a
  local file system: on NFS, SMB or FUSE it is unavailable.

Neither sees a writer on another machine (a client writing to a network share): a wipe
relies on the settle time there.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from i18n import _, n_
from ingest.pipeline.said import Said, both

PROC = Path("/proc")

WRITING = "open-for-writing"
IN_USE = "in-use"
UNKNOWN_WRITERS = "writers-unknown"

LEASE_HELD = "held"
LEASE_BUSY = "busy"  # someone else has the file open
# a lease break is announced with a signal; SIGIO would end the process, SIGURG is ignored
_BREAK_SIGNAL = signal.SIGURG


@dataclass(frozen=True, slots=True, kw_only=True)
class Writer:
    pid: int
    fd: int
    command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Scan:
    """What ``/proc`` showed: the processes writing the file, and how many could not be
    looked into (0: every process of this namespace was seen)."""

    writers: tuple[Writer, ...]
    unseen: int
    error: str | None = None  # /proc itself could not be read: nothing was seen

    @property
    def complete(self) -> bool:
        return self.unseen == 0 and self.error is None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """The outcome of asking for a write lease: held, busy, or why it is unavailable."""

    state: str
    why: str | None = None

    @property
    def held(self) -> bool:
        return self.state == LEASE_HELD


def fdinfo_flags(text: str) -> int | None:
    """The open flags in a ``/proc/PID/fdinfo/N`` text ("flags:\\t0100002", octal)."""
    for line in text.splitlines():
        key, _colon, value = line.partition(":")
        if key == "flags":
            try:
                return int(value.strip(), 8)
            except ValueError:
                return None
    return None


def writes(flags: int | None) -> bool:
    """Open for writing; flags that could not be read count as writing."""
    return flags is None or flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR)


def open_for_writing(dev: int, ino: int, *, proc: Path = PROC) -> Scan:
    """Every open file description of inode ``(dev, ino)`` with write access, by process."""
    writers: list[Writer] = []
    unseen = 0
    try:
        names = os.listdir(proc)
    except OSError as e:
        why = _("cannot list {path}: {error}").format(path=proc, error=e.strerror)
        return Scan(writers=(), unseen=0, error=why)
    for name in names:
        if not name.isdigit():
            continue
        base = proc / name
        try:
            fds = os.listdir(base / "fd")
            for fd in fds:
                link = base / "fd" / fd
                try:
                    if not os.readlink(link).startswith("/"):
                        continue  # socket:[..], pipe:[..], anon_inode:..
                    st = os.stat(link)
                except PermissionError:
                    raise
                except OSError:
                    continue  # closed meanwhile, or a file that cannot be stat-ed
                if (st.st_dev, st.st_ino) != (dev, ino):
                    continue
                try:
                    flags = fdinfo_flags((base / "fdinfo" / fd).read_text())
                except OSError:
                    flags = None
                if writes(flags):
                    writers.append(Writer(pid=int(name), fd=int(fd), command=_command(base)))
        except FileNotFoundError:
            continue  # the process ended while we looked
        except OSError:
            unseen += 1  # another user's process without CAP_SYS_PTRACE, or similar
    return Scan(writers=tuple(writers), unseen=unseen)


def in_use(scan: Scan, lease: Lease) -> tuple[str, Said] | None:
    """Pure: why the file must stay (a code and a reason) as far as its users go, or None
    when nobody writes it: no writer in /proc, and either the kernel granted the lease or
    every process was seen."""
    if scan.writers:
        who = ", ".join(f"pid {w.pid} ({w.command})" for w in scan.writers)
        return WRITING, both(
            lambda: _("still open for writing by {who}; it stays on the device").format(who=who)
        )
    if lease.state == LEASE_BUSY:
        return IN_USE, both(
            lambda: _("another process has it open (the kernel refused a write lease); it stays")
        )
    if not lease.held and not scan.complete:
        return UNKNOWN_WRITERS, both(lambda: _unknown_writers(scan, lease))
    return None


def _unknown_writers(scan: Scan, lease: Lease) -> str:
    unseen = scan.error or n_(
        "{n} process could not be looked into", "{n} processes could not be looked into",
        scan.unseen,
    ).format(n=scan.unseen)  # fmt: skip
    return _(
        "cannot tell whether a process is writing it: {unseen} and the kernel gave no write "
        "lease ({why}); run the dock with CAP_LEASE (or CAP_SYS_PTRACE) to allow wiping"
    ).format(unseen=unseen, why=lease.why)


def _command(base: Path) -> str:
    try:
        return (base / "comm").read_text().strip()
    except OSError:
        return "?"


@contextlib.contextmanager
def write_lease(fd: int) -> Iterator[Lease]:
    """Hold a write lease on ``fd`` (opened read-only) for the block, if the kernel grants one.

    While it is held nobody else has the file open, and an open by anyone else waits for it
    (or breaks it after ``/proc/sys/fs/lease-break-time``: ``still_held`` then says False).
    The break is announced with an ignored signal and to no owner, so it cannot end us."""
    refused: Lease | None = None
    try:
        fcntl.fcntl(fd, fcntl.F_SETSIG, _BREAK_SIGNAL)
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
    except OSError as e:
        busy = e.errno in (errno.EAGAIN, errno.EBUSY)
        refused = Lease(state=LEASE_BUSY if busy else "unavailable", why=e.strerror)
    if refused is not None:
        yield refused
        return
    try:
        fcntl.fcntl(fd, fcntl.F_SETOWN, 0)  # the lease made us its owner: no signal at all
        yield Lease(state=LEASE_HELD)
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)


def still_held(fd: int) -> bool:
    """The write lease is intact: nobody has tried to open the file since it was taken."""
    try:
        return fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_WRLCK
    except OSError:
        return False
