"""Signed checkpoints of the custody log: in the catalog and, write-once, in the store.

A checkpoint is the C2SP tlog-checkpoint body (origin, size, root) in a signed note made with
the dock's Ed25519 key. The copy outside the catalog database is what catches a database that
was rewritten or restored from an older copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from i18n import _
from storage.blobs.durable import READ_ONLY, atomic_write
from storage.catalog.session import Transaction
from storage.records import Dock
from verify.errors import VerifyError
from verify.keys import DockKey
from verify.log.merkle import root
from verify.log.note import Checkpoint, format_checkpoint, sign_note

logger = logging.getLogger(__name__)


def checkpoint_file(folder: Path, size: int, dock: str) -> Path:
    return folder / f"{size:012d}.{dock}.note"


def take_checkpoint(
    txn: Transaction,
    *,
    key: DockKey,
    dock: Dock,
    origin: str,
    folder: Path,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[int, bool]:
    """Sign the current tree head; returns (size, taken). Nothing new since the last one of
    this dock: nothing is taken.

    A checkpoint file of this dock without its catalog row (a crash or a failed commit after
    the file was written) gets its row back here, but only when the file is byte for byte
    the note this dock signs for the tree at that size (Ed25519 signatures are
    deterministic); anything else is left for 'evidock verify' to report.
    """
    head = txn.log.lock_head()
    have = txn.log.checkpoint_sizes(dock.id)
    for size, path in _files_of(folder, dock.name):
        if size not in have and size < head.size:
            note, tree_root = _signed(txn, key, origin, size)
            if path.read_text(encoding="utf-8") == note:
                txn.log.add_checkpoint(
                    dock_id=dock.id, size=size, root=tree_root.hex(), note=note, now=clock()
                )
                have.add(size)
                logger.warning("checkpoint row restored from its file size=%d", size)
    if head.size in have:
        return head.size, False
    note, tree_root = _signed(txn, key, origin, head.size)
    path = checkpoint_file(folder, head.size, dock.name)
    if path.exists():
        if path.read_text(encoding="utf-8") != note:
            raise VerifyError(
                _(
                    "checkpoint file {name} already signs another tree of size {size}: the "
                    "custody log in the catalog was rewritten or restored"
                ).format(name=path.name, size=head.size),
                hint=_("Stop ingesting and run 'evidock verify'; do not delete checkpoint files."),
            )
    else:
        atomic_write(path, note.encode("utf-8"), mode=READ_ONLY, exclusive=True)
    txn.log.add_checkpoint(
        dock_id=dock.id, size=head.size, root=tree_root.hex(), note=note, now=clock()
    )
    logger.info("checkpoint size=%d root=%s dock=%s", head.size, tree_root.hex(), dock.name)
    return head.size, True


def _signed(txn: Transaction, key: DockKey, origin: str, size: int) -> tuple[str, bytes]:
    """The note this dock signs for the tree at ``size``, and that tree's root."""
    tree_root = root(size, txn.log.read_node)
    body = format_checkpoint(Checkpoint(origin=origin, size=size, root=tree_root))
    return sign_note(body, key.name, key.seed), tree_root


def _files_of(folder: Path, dock: str) -> list[tuple[int, Path]]:
    out = []
    for p in folder.glob(f"*.{dock}.note"):
        head, _, rest = p.name.partition(".")
        if head.isdigit() and rest == f"{dock}.note":
            out.append((int(head), p))
    return out
