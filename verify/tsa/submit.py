"""Timestamp every checkpoint note at the TSA of ``[trust] tsa_url``, after it commits.

Checkpoints without a token go out oldest first, each in its own HTTP request (RFC 3161
over HTTP: ``application/timestamp-query``); each response is verified against the pinned
chain and the request's nonce, then stored in the catalog (one short write transaction) and
beside the note as ``store/checkpoints/<size>.<dock>.tsr`` (the DER response, which
``openssl ts -verify -data <note> -in <tsr>`` checks). A TSA that is down or answers
nonsense leaves the rest pending, in order, for the next checkpoint or audit.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from storage.blobs.durable import READ_ONLY, atomic_write
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.session import Catalog
from verify.tsa.rfc3161 import TimestampError, TsaChain, check, request

logger = logging.getLogger(__name__)

PostBytes = Callable[[str, bytes], bytes | None]


def post_query(url: str, body: bytes, *, timeout: float = 10.0) -> bytes | None:
    """POST a TimeStampReq; the response bytes, or None (logged) when the TSA did not answer
    200 with a timestamp reply."""
    if not url.startswith(("http://", "https://")):
        return None
    req = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
        url, data=body, method="POST", headers={"Content-Type": "application/timestamp-query"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:  # noqa: S310
            return bytes(response.read(1 << 20))
    except (urllib.error.URLError, OSError, ValueError) as e:
        logger.warning("TSA unreachable url=%s reason=%s", url, getattr(e, "reason", e))
        return None


def timestamp_pending(
    catalog: Catalog,
    *,
    url: str,
    chain: TsaChain,
    folder: Path,
    post: PostBytes = post_query,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[int, int]:
    """Timestamp the checkpoints that have no token yet; returns (stamped, still pending)."""
    with catalog.read() as txn:
        have = CosignatureOps(txn).timestamped_ids()
        todo = [cp for cp in txn.log.checkpoints() if cp.id not in have]
    for done, cp in enumerate(todo):
        data = cp.note.encode("utf-8")
        query, nonce = request(data)
        answer = post(url, query)
        try:
            if answer is None:
                # untranslated: for the log line below only
                raise TimestampError("no answer")
            token = check(answer, data, chain, nonce=nonce)
        except TimestampError as e:
            logger.warning("checkpoint not timestamped size=%d pending=%d: %s",
                           cp.size, len(todo) - done, e)  # fmt: skip
            return done, len(todo) - done
        with catalog.write() as txn:
            CosignatureOps(txn).add_timestamp(checkpoint_id=cp.id, token=token.der,
                                              gen_time=token.gen_time, now=clock())  # fmt: skip
        try:
            path = folder / f"{cp.size:012d}.{cp.dock_name}.tsr"
            atomic_write(path, token.der, mode=READ_ONLY)
        except OSError as e:  # the catalog row is the record; the file is the copy outside it
            logger.warning("timestamp file not written size=%d: %s", cp.size, e)
        logger.info("checkpoint timestamped size=%d time=%s", cp.size, token.gen_time.isoformat())
    return len(todo), 0
