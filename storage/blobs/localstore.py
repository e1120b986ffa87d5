"""Local content-addressed evidence store: ``store/sha256/ab/cd/<hex>``, read-only, durable.

It is also the staging area for acquisition: staging files live on the same file system so
that filing them is one atomic rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import socket
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from i18n import _
from storage.blobs.durable import READ_ONLY, fsync_dir, makedirs_durable
from storage.blobs.hashing import sha256_path
from storage.errors import StoreIntegrityError, StoreWriteError

logger = logging.getLogger(__name__)

_HEX = re.compile(r"^[0-9a-f]{64}$")
BACKEND = "local"
NEW_FILE_S = 600.0  # an unrenamed staging file older than this was left by a crash


@dataclass(frozen=True, slots=True, kw_only=True)
class Staging:
    """An open, locked staging file; ``fd`` is open for writing."""

    path: Path
    fd: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Filed:
    key: str
    size: int
    existed: bool


class LocalStore:
    backend = BACKEND

    def __init__(self, root: Path) -> None:
        self.root = root
        self.objects = root / "sha256"
        self.staging_dir = root / "staging"

    def prepare(self) -> None:
        makedirs_durable(self.objects)
        makedirs_durable(self.staging_dir)

    # -- staging ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def staging(self, *, read_only: bool = False) -> Iterator[Staging]:
        """A fresh staging file, locked while in use and removed unless it was filed.

        ``read_only``: created with a stored object's mode (``READ_ONLY``), for a writer that
        writes through the descriptor given here and never opens the file to write (the
        ingest's copy): filing it then changes no mode, which would have to be synced once
        more for each file (issue 19)."""
        name = uuid.uuid4().hex
        path = self.staging_dir / f"{name}.part"
        # created under a name the cleaner does not look at, locked, then renamed: a cleaner
        # in another process never sees an unlocked *.part that is in use
        new = self.staging_dir / f".{os.getpid()}.{name}.{socket.gethostname()}.new"
        try:
            mode = READ_ONLY if read_only else 0o600
            fd = os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        except OSError as e:
            raise StoreWriteError(
                _("cannot create a staging file in {folder}: {error}").format(
                    folder=self.staging_dir, error=e
                )
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(new, path)
        except OSError as e:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                new.unlink()
            raise StoreWriteError(
                _("cannot create a staging file in {folder}: {error}").format(
                    folder=self.staging_dir, error=e
                )
            ) from e
        try:
            yield Staging(path=path, fd=fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            os.close(fd)

    def clean_stale_staging(self) -> int:
        """Remove staging files left by a crashed run (those nobody holds a lock on)."""
        removed = 0
        if not self.staging_dir.is_dir():
            return 0
        for p in self.staging_dir.glob("*.part"):
            try:
                fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                removed += 1
            os.close(fd)
        for p in self.staging_dir.glob(".*.new"):  # a crash between create and rename: empty
            with contextlib.suppress(FileNotFoundError):
                if _creator_gone(p.name) or time.time() - p.stat().st_mtime > NEW_FILE_S:
                    p.unlink()
                    removed += 1
        if removed:
            fsync_dir(self.staging_dir)
            logger.info("removed stale staging files count=%d", removed)
        return removed

    def free_bytes(self) -> int:
        """Bytes that may still be written to the store's file system (the blocks left to an
        unprivileged writer: root's reserve is not counted on)."""
        st = os.statvfs(self.staging_dir if self.staging_dir.is_dir() else self.root)
        return st.f_bavail * st.f_frsize

    # -- objects ----------------------------------------------------------------------------
    def key_for(self, sha256: str) -> str:
        if not _HEX.match(sha256):
            raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
        return f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def path_for(self, sha256: str) -> Path:
        return self.root / self.key_for(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def file(self, staging: Staging, sha256: str, size: int) -> Filed:
        """File a verified staging file under its hash (atomic, durable, read-only).

        When the object is already there (same bytes from another file, or a run that crashed
        or failed after filing), the existing bytes are re-hashed: a match keeps them, a
        mismatch is an integrity failure reported by name, never overwritten. A disk that fails
        (EIO, ENOSPC) at any step is a ``StoreWriteError``: nothing is recorded, and an object
        linked before its folder failed to sync is found again, and synced, by the rerun.
        """
        dest = self.path_for(sha256)
        key = self.key_for(sha256)
        try:
            if dest.exists():
                return self._existing(dest, key, sha256, size)
            makedirs_durable(dest.parent)
            if stat.S_IMODE(os.fstat(staging.fd).st_mode) != READ_ONLY:
                os.fchmod(staging.fd, READ_ONLY)
            os.fsync(staging.fd)  # a no-op for a copy its writer synced, mode and all
            try:
                os.link(staging.path, dest)
            except FileExistsError:  # another file of the same bytes, filed meanwhile
                return self._existing(dest, key, sha256, size)
            fsync_dir(dest.parent)
        except OSError as e:
            raise StoreWriteError(_("cannot file {key}: {error}").format(key=key, error=e)) from e
        return Filed(key=key, size=size, existed=False)

    def _existing(self, dest: Path, key: str, sha256: str, size: int) -> Filed:
        found, found_size = sha256_path(dest)
        if found != sha256 or found_size != size:
            raise StoreIntegrityError(
                _(
                    "stored object {key} does not match its name: expected sha256 {sha256} "
                    "({size} bytes), found {found} ({found_size} bytes)"
                ).format(key=key, sha256=sha256, size=size, found=found, found_size=found_size)
            )
        # its link may be one whose folder failed to sync (an EIO, a crash): sync it now,
        # before an item relies on it
        fsync_dir(dest.parent)
        return Filed(key=key, size=size, existed=True)

    def hash_object(self, sha256: str, *, drop_cache: bool = True) -> tuple[str, int]:
        return sha256_path(self.path_for(sha256), drop_cache=drop_cache)

    def iter_keys(self) -> Iterator[str]:
        """Every object filed in the store (for audits that look for strays)."""
        for p in sorted(self.objects.glob("??/??/*")):
            if _HEX.match(p.name):
                yield p.name


def _creator_gone(name: str) -> bool:
    """Whether the process that created the unrenamed staging file ``name``
    (``.PID.UUID.HOST.new``) is gone: it ran on this host and no process has its PID now. A
    file of another host (a shared store), an older name, or a PID in use again waits for
    ``NEW_FILE_S``."""
    pid, _uuid, host = [*name[1 : -len(".new")].split(".", 2), "", ""][:3]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
