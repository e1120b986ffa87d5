"""Items against their custody events, and stored objects against their bytes.

An item's hash and size must be the ones its ``acquired``/``verified``/``stored`` events
recorded (so an edited catalog row is caught by the log), and every stored object must belong
to an item. Re-hashing streams each object from disk on a small thread pool (hashlib releases
the GIL, so two threads keep a disk and a core busy).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from i18n import _, n_
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Transaction
from storage.records import Event, ItemDigest, StoredObject
from verify.problems import Problem, Problems

REQUIRED_EVENTS = {"stored": ("acquired", "verified", "stored")}
"""Events an item must have, by state; an item in another state must at least be acquired."""
_HASH_EVENTS = frozenset({"acquired", "verified", "stored"})

Progress = Callable[[int, int, int, int], None]
"""``progress(objects_done, objects_total, bytes_done, bytes_total)``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fixity:
    """One stored object re-hashed: what the catalog says, what the disk gave."""

    sha256: str
    size: int
    backend: str
    key: str
    found_sha256: str | None
    found_size: int | None
    items: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.found_sha256 == self.sha256 and self.found_size == self.size


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemIndex:
    """What the object checks need to know about items: their ids by hash."""

    by_sha: dict[str, list[int]]
    need_object: dict[str, list[int]]
    count: int


def check_items(
    txn: Transaction,
    problems: Problems,
    *,
    only: int | None = None,
    page: int = 2000,
    orphans: int = 10_000,
) -> ItemIndex:
    """Every item (or item ``only``) against its custody events, a page of items at a time."""
    by_sha: dict[str, list[int]] = {}
    need_object: dict[str, list[int]] = {}

    def check(item: ItemDigest, events: Sequence[Event]) -> None:
        by_sha.setdefault(item.sha256, []).append(item.id)
        if item.state == "stored":
            need_object.setdefault(item.sha256, []).append(item.id)
        _check_item(item, events, problems)

    if only is not None:
        one = txn.item(only)
        digest = ItemDigest(id=one.id, sha256=one.sha256, size=one.size, state=one.state)
        check(digest, txn.log.events_for_item(one.id))
        return ItemIndex(by_sha=by_sha, need_object=need_object, count=1)
    after, count = 0, 0
    while True:
        items = txn.item_digests(after=after, limit=page)
        full = len(items) == page
        last = items[-1].id if items else after
        grouped: dict[int, list[Event]] = {}
        for ev in txn.log.item_events(after + 1, last):
            grouped.setdefault(ev.item or 0, []).append(ev)
        if not full:  # events naming items beyond the last one: enough of them to report
            for ev in txn.log.item_events(last + 1, None, limit=orphans):
                grouped.setdefault(ev.item or 0, []).append(ev)
        for item in items:
            check(item, grouped.pop(item.id, []))
        for item_id, events in sorted(grouped.items()):
            problems.add(
                Problem(
                    code="event-item-unknown",
                    subject=n_(
                        "event {events} names item #{item}",
                        "events {events} name item #{item}",
                        len(events[:10]),
                    ).format(events=", ".join(f"#{e.seq}" for e in events[:10]), item=item_id),
                    expected=_("item #{item} in the catalog").format(item=item_id),
                    found=_("no such item"),
                    item=item_id,
                    seq=events[0].seq,
                )
            )
        count += len(items)
        if not full:
            return ItemIndex(by_sha=by_sha, need_object=need_object, count=count)
        after = last


def _check_item(item: ItemDigest, events: Sequence[Event], problems: Problems) -> None:
    required = REQUIRED_EVENTS.get(item.state, ("acquired",))
    present = {e.type for e in events}
    for typ in required:
        if typ not in present:
            problems.add(
                Problem(
                    code="item-event-missing",
                    subject=_("item #{item} (state {state})").format(
                        item=item.id, state=item.state
                    ),
                    expected=_("a custody event of type '{type}'").format(type=typ),
                    found=_("none"),
                    item=item.id,
                )
            )
    for e in events:
        if e.type not in _HASH_EVENTS:
            continue
        try:
            data = json.loads(e.data)
            recorded = (data.get("sha256"), data.get("size"))
        except (ValueError, AttributeError):
            recorded = (None, None)
        if recorded != (item.sha256, item.size):
            problems.add(
                Problem(
                    code="item-event-mismatch",
                    subject=_("item #{item} against its '{type}' event #{seq}").format(
                        item=item.id, type=e.type, seq=e.seq
                    ),
                    expected=_("sha256 {sha256}, {size} bytes (recorded in the log)").format(
                        sha256=recorded[0], size=recorded[1]
                    ),
                    found=_("sha256 {sha256}, {size} bytes (in the catalog)").format(
                        sha256=item.sha256, size=item.size
                    ),
                    item=item.id,
                    seq=e.seq,
                    last_seq=e.seq,
                )
            )


def check_objects(
    objects: Sequence[StoredObject],
    store: LocalStore,
    index: ItemIndex,
    problems: Problems,
    *,
    quick: bool,
    whole_store: bool,
    progress: Progress | None = None,
    workers: int = 2,
    elsewhere: frozenset[str] = frozenset(),
) -> list[Fixity]:
    """Objects against items and against their bytes (not re-hashed when ``quick``).
    ``elsewhere``: hashes whose local copy another node's store holds (not re-hashed here).

    Returns the re-hashed objects; stray files in the store are returned by ``strays``.
    """
    # a local copy released after its S3 copy was verified is checked in S3 (verify.audit.s3check);
    # a release mark without an S3 original is not trusted: that file is checked here
    in_s3 = {o.sha256 for o in objects if o.backend == "s3" and o.role == "original"}
    local = [
        o
        for o in objects
        if o.backend == store.backend
        and (o.released_at is None or o.sha256 not in in_s3)
        and o.sha256 not in elsewhere
    ]
    if whole_store:
        for o in objects:
            if o.role == "original" and o.sha256 not in index.by_sha:
                problems.add(
                    Problem(
                        code="object-without-item",
                        subject=_("stored object {key}").format(key=f"{o.backend}:{o.key}"),
                        expected=_("an item with sha256 {sha256}").format(sha256=o.sha256),
                        found=_("no item"),
                    )
                )
    having = {o.sha256 for o in objects}
    for sha, ids in sorted(index.need_object.items()):
        if sha not in having:
            for item_id in ids:
                problems.add(
                    Problem(
                        code="item-object-missing",
                        subject=_("item #{item}").format(item=item_id),
                        expected=_("a stored object with sha256 {sha256}").format(sha256=sha),
                        found=_("none in the catalog"),
                        item=item_id,
                    )
                )
    if quick:
        for o in local:
            _stat_only(o, store, index, problems)
        return []
    results: list[Fixity] = []
    total = sum(o.size for o in local)
    done_bytes = 0
    for o, found in _rehash(local, store, workers):
        fx = _judge(o, found, store, index, problems)
        results.append(fx)
        done_bytes += o.size
        if progress is not None:
            progress(len(results), len(local), done_bytes, total)
    return results


def strays(store: LocalStore, objects: Sequence[StoredObject]) -> list[str]:
    """Hashes of files in the local store that no stored-object row names."""
    known = {o.sha256 for o in objects if o.backend == store.backend}
    return [sha for sha in store.iter_keys() if sha not in known]


def _rehash(
    objects: Sequence[StoredObject], store: LocalStore, workers: int
) -> Iterator[tuple[StoredObject, tuple[str, int] | OSError]]:
    """(object, (sha256, size) or the OSError) in order, with at most 2*workers in flight."""

    def one(o: StoredObject) -> tuple[str, int] | OSError:
        try:
            return store.hash_object(o.sha256)
        except OSError as e:
            return e

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="evidock-fixity") as pool:
        pending: list[tuple[StoredObject, Future[tuple[str, int] | OSError]]] = []
        for o in objects:
            pending.append((o, pool.submit(one, o)))
            if len(pending) >= 2 * workers:
                first, fut = pending.pop(0)
                yield first, fut.result()
        for o, fut in pending:
            yield o, fut.result()


def _judge(
    o: StoredObject,
    found: tuple[str, int] | OSError,
    store: LocalStore,
    index: ItemIndex,
    problems: Problems,
) -> Fixity:
    items = tuple(index.by_sha.get(o.sha256, ()))
    subject = _object(o, items)
    expected = _("sha256 {sha256}, {size} bytes").format(sha256=o.sha256, size=o.size)
    first = items[0] if items else None
    if isinstance(found, OSError):
        missing = isinstance(found, FileNotFoundError)
        problems.add(
            Problem(
                code="object-missing" if missing else "object-unreadable",
                subject=subject,
                expected=_("{expected} at {path}").format(
                    expected=expected, path=store.path_for(o.sha256)
                ),
                found=_("no file") if missing else f"{type(found).__name__}: {found.strerror}",
                item=first,
            )
        )
        return _fixity(o, None, None, items)
    sha, size = found
    if sha != o.sha256 or size != o.size:
        problems.add(
            Problem(
                code="object-corrupt" if sha != o.sha256 else "object-size-mismatch",
                subject=subject,
                expected=expected,
                found=_("sha256 {sha256}, {size} bytes").format(sha256=sha, size=size),
                item=first,
            )
        )
    return _fixity(o, sha, size, items)


def _stat_only(o: StoredObject, store: LocalStore, index: ItemIndex, problems: Problems) -> None:
    items = tuple(index.by_sha.get(o.sha256, ()))
    try:
        size: int | None = os.stat(store.path_for(o.sha256), follow_symlinks=False).st_size
    except FileNotFoundError:
        size = None
    if size != o.size:
        problems.add(
            Problem(
                code="object-missing" if size is None else "object-size-mismatch",
                subject=_object(o, items),
                expected=n_("{n} byte at {path}", "{n} bytes at {path}", o.size).format(
                    n=o.size, path=store.path_for(o.sha256)
                ),
                found=_("no file")
                if size is None
                else n_("{n} byte", "{n} bytes", size).format(n=size),
                item=items[0] if items else None,
            )
        )


def _fixity(o: StoredObject, sha: str | None, size: int | None, items: tuple[int, ...]) -> Fixity:
    return Fixity(
        sha256=o.sha256,
        size=o.size,
        backend=o.backend,
        key=o.key,
        found_sha256=sha,
        found_size=size,
        items=items,
    )


def _object(o: StoredObject, items: Sequence[int]) -> str:
    """The subject of a problem of a stored object: its key and its items."""
    if not items:
        return _("stored object {key}").format(key=o.key)
    return n_(
        "stored object {key} of item {items}", "stored object {key} of items {items}", len(items)
    ).format(key=o.key, items=", ".join(f"#{i}" for i in items))
