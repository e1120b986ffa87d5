"""The job queue's doorbell: an idle worker sleeps until a job is queued, not polling the queue.

A transaction that makes a job claimable (``JobOps``: a job queued, given back, queued again
for a retry) calls ``ring(session)``; a worker's listener (``listen``) blocks until it hears
one. What rings depends on the catalog:

- PostgreSQL (a fleet, many hosts): ``NOTIFY evidock_jobs`` inside the transaction. The server
  delivers it at commit (a woken worker sees the row), drops it on rollback, and sends one per
  transaction however many jobs it queued. ``PgListener`` keeps a connection of its own in
  ``LISTEN`` and blocks on its socket; a server restart makes it readable and fails the read
  (``CatalogUnavailable``: the caller reconnects and looks once, for what it missed).
- SQLite (one host): after the commit, ``Catalog.write`` touches a bell file beside the
  catalog (``<catalog>.jobs-bell``: the mtime, ``utimensat``); ``FileListener`` watches it with
  inotify. Every listener (the dock's embedded workers, an ``evidock worker``) hears the same
  touch; nothing is left behind by a crash (unlike a socket file, which the next listener must
  unlink, and which only one listener can bind); the path has no 108-byte limit; and who may
  ring is who may write the file, made with the catalog file's mode. A touch with nobody
  listening changes one mtime; with no bell file (no listener ever ran) it does nothing.

A missed ring (a listener reconnecting, a bell file replaced) must not leave a job waiting
forever: workers still look after a long safety interval (``[worker] safety_poll_seconds``).
``inotify`` is called through ctypes: watchdog, the one inotify library here, is confined to
``devices.watch``, below which storage must not reach.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import select
import struct
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from i18n import _
from storage.catalog.engine import unavailable
from storage.errors import CatalogUnavailable

logger = logging.getLogger(__name__)

CHANNEL = "evidock_jobs"
BELL_SUFFIX = ".jobs-bell"
_RUNG = "evidock_jobs_rung"  # Session.info key: this transaction made a job claimable


def ring(session: Session) -> None:
    """Say, in ``session``'s transaction, that a job became claimable: heard at commit."""
    if session.info.get(_RUNG):
        return
    session.info[_RUNG] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


def rung(session: Session) -> bool:
    """Whether ``session``'s transaction rang (the SQLite bell is touched after its commit)."""
    return bool(session.info.get(_RUNG))


def bell_file(engine: Engine) -> Path | None:
    """The bell file of a SQLite catalog file, beside it; None for other catalogs."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    db = Path(url.database).resolve()
    return db.with_name(db.name + BELL_SUFFIX)


def touch(bell: Path) -> None:
    """Ring a SQLite catalog's bell after a commit: never fails the caller (the job is queued
    either way; a listener that misses it looks at its next safety poll)."""
    try:
        os.utime(bell, follow_symlinks=False)
    except FileNotFoundError:
        return  # no listener ever ran on this catalog
    except OSError as e:
        logger.debug("job bell not rung bell=%s error=%s", bell, e)


class Listener(Protocol):
    def wait(self, interrupt: int) -> bool:
        """Block until a ring (True) or until ``interrupt`` (a pipe's end) is readable
        (False); ``CatalogUnavailable`` when the catalog's connection failed."""

    def close(self) -> None: ...


def listen(engine: Engine) -> Listener | None:
    """A listener on the catalog of ``engine``, or None when it has no doorbell."""
    if engine.dialect.name == "postgresql":
        return PgListener(engine)
    bell = bell_file(engine)
    return None if bell is None else FileListener(bell)


def _readable(fd: int, interrupt: int) -> bool:
    """Wait for ``fd`` or ``interrupt``; True when ``fd`` is readable and ``interrupt`` not."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(interrupt, select.POLLIN)
    while True:
        ready = {f for f, _ev in poller.poll()}
        if interrupt in ready:
            return False
        if fd in ready:
            return True


class PgListener:
    """``LISTEN evidock_jobs`` on a connection of its own (the engine's connect arguments:
    keepalives, connect timeout), outside the pool."""

    def __init__(self, engine: Engine) -> None:
        try:  # raw_connection() raises the driver's errors as they are, unwrapped
            proxied = engine.raw_connection()
        except OperationalError as e:
            raise unavailable(e, _("catalog error: {error}").format(error=e.orig)) from e
        except psycopg.Error as e:
            raise CatalogUnavailable(_("catalog error: {error}").format(error=e)) from e
        conn: Any = proxied.driver_connection
        self._conn: psycopg.Connection[Any] = conn
        proxied.detach()  # ours until closed: never handed back to the pool
        try:
            self._conn.rollback()
            self._conn.autocommit = True
            self._conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as e:
            self.close()
            raise CatalogUnavailable(_("catalog error: {error}").format(error=e)) from e

    def wait(self, interrupt: int) -> bool:
        try:
            if not _readable(self._conn.fileno(), interrupt):
                return False
            list(self._conn.notifies(timeout=0))  # read them all: one wake-up is enough
            return True
        except psycopg.Error as e:
            raise CatalogUnavailable(_("catalog error: {error}").format(error=e)) from e

    def close(self) -> None:
        # the driver's connection itself: the pool's close would first roll back (a reset),
        # and log a traceback when the server has gone away
        self._conn.close()


# inotify(7): the events a bell file may see
_IN_ATTRIB, _IN_CLOSE_WRITE = 0x4, 0x8
_IN_MOVE_SELF, _IN_DELETE_SELF, _IN_IGNORED = 0x800, 0x400, 0x8000
_WATCH = _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVE_SELF | _IN_DELETE_SELF
_GONE = _IN_MOVE_SELF | _IN_DELETE_SELF | _IN_IGNORED
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


class FileListener:
    """inotify on a SQLite catalog's bell file, made (with the catalog's mode) if missing."""

    def __init__(self, bell: Path) -> None:
        self.bell = bell
        self._libc = ctypes.CDLL(None, use_errno=True)
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self._fd = fd
        try:
            self._watch()
        except BaseException:
            os.close(fd)
            raise

    def _watch(self) -> None:
        db = self.bell.with_name(self.bell.name.removesuffix(BELL_SUFFIX))
        try:
            mode = os.stat(db).st_mode & 0o666
        except OSError:
            mode = 0o600
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        os.close(os.open(self.bell, flags, mode))
        if self._libc.inotify_add_watch(self._fd, bytes(self.bell), _WATCH) < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(self.bell))

    def wait(self, interrupt: int) -> bool:
        if not _readable(self._fd, interrupt):
            return False
        gone = False
        while True:
            try:
                data = os.read(self._fd, 4096)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                raise
            for off in _offsets(data):
                gone |= bool(_EVENT.unpack_from(data, off)[1] & _GONE)
        if gone:  # the bell file was removed or replaced: watch the one there now
            self._watch()
        return True

    def close(self) -> None:
        os.close(self._fd)


def _offsets(data: bytes) -> list[int]:
    out, off = [], 0
    while off + _EVENT.size <= len(data):
        out.append(off)
        off += _EVENT.size + _EVENT.unpack_from(data, off)[3]
    return out
