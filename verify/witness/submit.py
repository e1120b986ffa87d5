"""Submit checkpoints to the configured witnesses, after they commit, in order.

Called by the dock and the audit after every checkpoint: for each witness, every checkpoint
it has not cosigned yet (larger than the largest it cosigned, oldest first) goes out with a
consistency proof computed from the catalog's stored tree. Only reads run before a request;
each verified cosignature is recorded in its own short write transaction and copied to
``store/checkpoints/<size>.<dock>.cosig`` (the checkpoint's cosignature lines, rewritten whole
as witnesses answer). A witness that is down leaves its checkpoints pending for the next call.

A witness that refuses as a fork or rollback (409 with a size beyond our log or at which our
tree differs, or 422: our proof does not match what it saw) raises the alarm: a refusal row,
an ERROR log line, and no further submissions to it until the custodian has looked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.blobs.durable import READ_ONLY, atomic_write
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.session import Catalog
from storage.errors import StorageError
from storage.records import Checkpoint
from verify.log.merkle import MerkleError, consistency_proof
from verify.witness import client
from verify.witness.cosignature import CosignatureError, CosignerKey, claimed_by, verify_cosignature
from verify.witness.protocol import format_request, parse_size

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class WitnessTarget:
    """One ``[trust] witnesses`` entry: where it listens and its pinned key."""

    url: str
    key: CosignerKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Refused:
    witness: str
    size: int
    status: int
    witness_size: int | None
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    cosigned: int
    pending: int
    refused: tuple[Refused, ...] = ()
    unreachable: tuple[str, ...] = ()


def note_body(note: str) -> str:
    return note[: note.rfind("\n\n") + 1]


def submit_pending(
    catalog: Catalog,
    witnesses: Sequence[WitnessTarget],
    *,
    folder: Path,
    post: client.Post = client.post,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Submitted:
    cosigned, pending = 0, 0
    refused: list[Refused] = []
    unreachable: list[str] = []
    for w in witnesses:
        done, left, alarm, down = _one_witness(catalog, w, folder=folder, post=post, clock=clock)
        cosigned, pending = cosigned + done, pending + left
        refused += alarm
        unreachable += [w.key.name] if down else []
    return Submitted(cosigned=cosigned, pending=pending, refused=tuple(refused),
                     unreachable=tuple(unreachable))  # fmt: skip


def _one_witness(
    catalog: Catalog,
    w: WitnessTarget,
    *,
    folder: Path,
    post: client.Post,
    clock: Callable[[], datetime],
) -> tuple[int, int, list[Refused], bool]:
    name = w.key.name
    cosigned, told, tried = 0, None, set()  # told: a size the witness said it holds (409)
    while True:
        with catalog.read() as txn:
            ops = CosignatureOps(txn)
            last = ops.last_cosigned_size(name) if told is None else told
            todo = _pending(txn.log.checkpoints(), last)
            if ops.refused(name) or not todo:
                return cosigned, len(todo), [], False
            cp = todo[0]
            head = txn.log.head().size
            try:
                proof = (
                    consistency_proof(last, cp.size, txn.log.read_node) if last <= cp.size else []
                )
            except (MerkleError, LookupError) as e:
                logger.error("no consistency proof for witness=%s size=%d: %s", name, cp.size, e)
                return cosigned, len(todo), [], False
        reply = post(w.url, format_request(last, proof, cp.note))
        if reply.status == 200:
            if not _record(catalog, w, cp, reply.body, folder=folder, now=clock()):
                return cosigned, len(todo), [], False
            cosigned, told = cosigned + 1, None
            continue
        size = parse_size(reply.body) if reply.is_size else None
        if size is not None and size != last and size <= head and (cp.id, size) not in tried:
            tried.add((cp.id, size))  # the witness is ahead of our record of it: prove from there
            told = size
            continue
        if reply.status == 422 or (reply.status == 409 and size is not None):
            held = size if reply.status == 409 else last  # 422: it holds the size we proved from
            alarm = _refuse(catalog, name, cp, reply.status, held, reply.body, now=clock())
            return cosigned, len(todo), [alarm], False
        if reply.status == 0 or reply.status >= 500:
            logger.warning("witness unreachable witness=%s url=%s pending=%d reason=%s",
                           name, w.url, len(todo), reply.body.strip()[:200])  # fmt: skip
            return cosigned, len(todo), [], True
        logger.error("witness did not accept our checkpoints witness=%s status=%d answer=%s "
                     "(check its --log keys and our [trust] witnesses entry)",
                     name, reply.status, reply.body.strip()[:200])  # fmt: skip
        return cosigned, len(todo), [], False


def _pending(checkpoints: Sequence[Checkpoint], last: int) -> list[Checkpoint]:
    """One checkpoint per size above ``last`` (the first signed at that size), oldest first."""
    by_size: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        if cp.size > last:
            by_size.setdefault(cp.size, cp)
    return [by_size[s] for s in sorted(by_size)]


def _record(
    catalog: Catalog, w: WitnessTarget, cp: Checkpoint, answer: str, *, folder: Path, now: datetime
) -> bool:
    body = note_body(cp.note)
    lines = [ln for ln in answer.splitlines() if claimed_by(ln) == (w.key.name, w.key.key_id)]
    try:
        cosig = verify_cosignature(body, lines[0], w.key) if lines else None
    except CosignatureError as e:
        logger.error("witness returned a bad cosignature witness=%s size=%d: %s",
                     w.key.name, cp.size, e)  # fmt: skip
        return False
    if cosig is None:
        logger.error("witness answered without a cosignature by its pinned key witness=%s",
                     w.key.name)  # fmt: skip
        return False
    with catalog.write() as txn:
        ops = CosignatureOps(txn)
        ops.add(checkpoint_id=cp.id, witness=w.key.name, line=cosig.line,
                cosigned_at=datetime.fromtimestamp(cosig.timestamp, UTC), now=now)  # fmt: skip
        lines_of_cp = [c.line for c in ops.cosignatures() if c.checkpoint_id == cp.id]
    try:
        path = folder / f"{cp.size:012d}.{cp.dock_name}.cosig"
        atomic_write(path, "".join(lines_of_cp).encode("utf-8"), mode=READ_ONLY)
    except OSError as e:  # the catalog row is the record; the file is the copy outside it
        logger.warning("cosignature file not written size=%d: %s", cp.size, e)
    logger.info("checkpoint cosigned witness=%s size=%d", w.key.name, cp.size)
    return True


def _refuse(
    catalog: Catalog,
    witness: str,
    cp: Checkpoint,
    status: int,
    size: int | None,
    answer: str,
    *,
    now: datetime,
) -> Refused:
    what = (
        f"the witness holds size {size}, which our log does not extend"
        if status == 409
        else "our consistency proof does not match the tree the witness saw"
    )
    detail = f"{what} (HTTP {status}: {answer.strip()[:200]})"
    try:
        with catalog.write() as txn:
            CosignatureOps(txn).add_refusal(checkpoint_id=cp.id, witness=witness, status=status,
                                            witness_size=size, detail=detail, now=now)  # fmt: skip
    except StorageError as e:
        logger.error("witness refusal not recorded witness=%s: %s", witness, e)
    logger.error(
        "WITNESS REFUSED the custody log: a fork or rollback witness=%s size=%d witness_size=%s "
        "%s; stop ingesting, keep the catalog and store as they are and run 'evidock verify'",
        witness, cp.size, size, detail,
    )  # fmt: skip
    return Refused(witness=witness, size=cp.size, status=status, witness_size=size, detail=detail)
