"""Which process runs a dock session, and whether that process is still there (issue 18).

A session records its owner: host, pid and a start mark (the kernel's boot id and the
process's start time in clock ticks, from /proc). A later start of the same dock closes a
session whose owner is gone as 'interrupted' (``ingest.cases.links.close_killed_sessions``).
A pid alone is not enough: after a reboot or a wrap-around another process may hold it, and
that process's start mark differs. A session owned on another host is never judged from
here: only that host can tell.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from storage.records import SessionOwner

PROC = Path("/proc")


def start_mark(pid: int, *, proc: Path = PROC) -> str | None:
    """``<boot id>:<start time in ticks>`` of process ``pid``, or None if there is none."""
    try:
        boot = (proc / "sys/kernel/random/boot_id").read_text().strip()
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) is in parentheses and may hold spaces and ')': split after
    # its last ')'; the start time is field 22, the 20th after the name
    fields = stat.rsplit(")", 1)[1].split()
    return f"{boot}:{fields[19]}"


def this_process(*, proc: Path = PROC) -> SessionOwner:
    """The owner mark of the calling process."""
    pid = os.getpid()
    return SessionOwner(host=socket.gethostname(), pid=pid, start=start_mark(pid, proc=proc) or "")


def gone(owner: SessionOwner, *, host: str | None = None, proc: Path = PROC) -> bool:
    """True when ``owner`` ran on this host and no process with its pid and start mark is
    there any more; False while it may still run (or on another host, which we cannot see)."""
    if owner.host != (host if host is not None else socket.gethostname()):
        return False
    if not owner.start:  # no mark was readable when it started: the pid alone must do
        return not (proc / str(owner.pid)).exists()
    return start_mark(owner.pid, proc=proc) != owner.start
