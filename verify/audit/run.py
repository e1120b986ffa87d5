"""``evidock verify``: the whole audit of a catalog and its store, reported once.

1. In one snapshot of the catalog: the checkpoints' signatures, a replay of the custody log
   (``verify.audit.replay``), signed roots against recomputed ones, items against their events.
2. Outside any transaction: every stored object re-hashed (``verify.audit.fixity``).
3. A fresh look at whatever might be a checkpoint or object written while we ran.

Nothing is repaired. ``record_fixity`` afterwards appends the fixity events; the report never
depends on them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from i18n import _
from storage.blobs.localstore import LocalStore
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.derived import DerivedOps
from storage.catalog.objects import ObjectOps
from storage.catalog.session import Catalog, Transaction
from verify.audit.derived_check import check_derived
from verify.audit.facts import Projection, Scope, catalog_facts, check_scope, compare
from verify.audit.fixity import Fixity, Progress, check_items, check_objects, strays
from verify.audit.holders import Elsewhere, Holding, split
from verify.audit.replay import Parallel, cores, replay_log
from verify.audit.s3check import check_s3
from verify.audit.signed_heads import (
    SignedHead,
    check_heads,
    match_rows_and_files,
    open_heads,
    read_checkpoint_files,
    signed_texts,
    trusted_keys,
)
from verify.audit.witnesses import WitnessPolicy, check_timestamps, check_witnesses
from verify.custody import CustodyLog
from verify.keyhistory import check_key_periods, earlier_keys, key_histories
from verify.keys import DockKey
from verify.log.events import EventType
from verify.log.events import parse_time as parse_event_time
from verify.log.merkle import root
from verify.log.note import VerifierKey
from verify.problems import LOG_CODES, Problem, Problems

if TYPE_CHECKING:
    from storage.blobs.s3store import S3Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    log_size: int
    events: int
    checkpoint_rows: int
    checkpoint_files: int
    items: int
    objects: int
    objects_rehashed: int
    bytes_rehashed: int
    derived: int
    derived_rehashed: int
    quick: bool
    item: int | None
    s3_objects: int = 0
    s3_rehashed: int = 0
    facts: int = 0
    """Catalog rows compared with the facts the log gives (``verify.audit.facts``)."""
    case: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditReport:
    problems: tuple[Problem, ...]
    checked: Checked
    fixity: tuple[Fixity, ...]
    elsewhere: tuple[Elsewhere, ...] = ()  # objects other docks' stores hold: verify there

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def log_intact(self) -> bool:
        """No problem with the log or its checkpoints: appending to it is safe."""
        return not any(p.code in LOG_CODES for p in self.problems)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [p.to_json() for p in self.problems],
            "checked": dataclasses.asdict(self.checked),
            "elsewhere": [dataclasses.asdict(e) for e in self.elsewhere],
        }


def run_audit(
    catalog: Catalog,
    store: LocalStore,
    *,
    dock: str,
    local_key: DockKey | None,
    origin: str,
    item: int | None = None,
    case: str | None = None,
    quick: bool = False,
    progress: Progress | None = None,
    workers: int = 2,
    s3: S3Store | None = None,
    s3_is_record: bool = False,
    full: bool = False,
    published_keys: Sequence[VerifierKey] = (),
    witnesses: WitnessPolicy | None = None,
    now: datetime | None = None,
    replay_workers: int | None = None,
    node: str | None = None,
) -> AuditReport:
    """Check everything (or one item's records, with the whole log); see the module doc.
    ``witnesses``: the [trust] policy that checkpoints carry witness cosignatures.
    ``replay_workers``: processes that replay a large log (default: one per usable core).
    ``node``: this dock's name where each dock keeps its own local store (a fleet with
    ``[store] shared = false``): only the local objects of its dockings are checked here, the
    others are listed as held by their dock (``verify.audit.holders``); None: the local store
    holds every local object."""
    problems = Problems()
    folder = store.root / "checkpoints"
    with catalog.read() as txn:
        txn.pin_snapshot()
        rows = txn.log.checkpoints()  # first: the snapshot starts here, files come after it
        files = read_checkpoint_files(folder)
        keys = trusted_keys(txn.docks(), local_name=dock, local_key=local_key, problems=problems,
                            published=published_keys)  # fmt: skip
        history = key_histories(txn.log.events_of_type(EventType.KEY_ROTATED), origin=origin,
                                current={k.name: k for k in keys}, problems=problems)  # fmt: skip
        keys = [*earlier_keys(history), *keys]  # issue 15: keys over time
        heads = open_heads(rows, files, keys, origin=origin, problems=problems)
        check_key_periods(signed_texts(rows, files), history, problems=problems)
        whole = item is None and case is None
        projection = Projection()
        replay = replay_log(txn, problems, sizes={h.size for h in heads},
                            observe=projection.apply if whole else None,
                            parallel=Parallel(catalog_url=catalog.url,
                                              workers=replay_workers or cores()))  # fmt: skip
        if whole:
            facts = compare(projection, catalog_facts(txn, Scope()), problems)
        else:
            facts = check_scope(txn, problems, Scope(
                items=frozenset(() if item is None else (item,)),
                cases=frozenset(() if case is None else (case,)),
            ))  # fmt: skip
        beyond = check_heads(
            heads,
            log_size=replay.head_size,
            roots=replay.roots,
            read_node=txn.log.read_node,
            problems=problems,
        )
        unmatched = match_rows_and_files(
            heads, local_dock=dock, log_size=replay.head_size, problems=problems
        )
        if witnesses is not None:
            cosigs = CosignatureOps(txn)
            at = now or datetime.now(UTC)
            check_witnesses(rows, cosigs.cosignatures(), cosigs.refusals(), policy=witnesses,
                            at=at, problems=problems)  # fmt: skip
            if witnesses.tsa is not None:
                check_timestamps(rows, cosigs.timestamps(), chain=witnesses.tsa,
                                 grace=witnesses.grace, at=at, problems=problems,
                                 last_event_time=lambda size: _event_time(txn, size))  # fmt: skip
        index = check_items(txn, problems, only=item)
        objects = txn.stored_objects(None if item is None else next(iter(index.by_sha)))
        holding = Holding(away_shas=frozenset(), away_items=frozenset(), elsewhere=())
        if node is not None:  # issue 18: a fleet whose docks keep their own stores
            holding = split(objects, ObjectOps(txn).item_nodes(), index.by_sha,
                            [d.item_id for d in DerivedOps(txn).all()], node=node,
                            backend=store.backend)  # fmt: skip
        derived, derived_rehashed = check_derived(
            txn, store.root, problems, quick=quick, only_item=item,
            skip_items=holding.away_items,
        )  # fmt: skip
        if s3 is not None and item is not None:  # its proxies' S3 copies too
            derived_shas = [d.sha256 for d in DerivedOps(txn).for_items([item]).get(item, [])]
            objects = objects + ObjectOps(txn).objects("s3", derived_shas)
        published = ObjectOps(txn).published_checkpoints() if s3 is not None else []
    fixity = check_objects(
        objects,
        store,
        index,
        problems,
        quick=quick,
        whole_store=item is None,
        progress=progress,
        workers=workers,
        elsewhere=holding.away_shas,
    )
    s3_fixity = []
    if s3 is not None:
        s3_fixity = check_s3(objects, published, s3, index, problems, s3_is_record=s3_is_record,
                             full=full, whole_store=item is None)  # fmt: skip
        fixity = fixity + s3_fixity
    stray = strays(store, objects) if item is None else []
    _recheck_fresh(catalog, beyond, unmatched, stray, problems)
    return AuditReport(
        problems=problems.listed(),
        checked=Checked(
            log_size=replay.head_size,
            events=replay.events,
            checkpoint_rows=len(rows),
            checkpoint_files=len(files),
            items=index.count,
            objects=len(objects),
            objects_rehashed=len(fixity),
            derived=derived,
            derived_rehashed=derived_rehashed,
            bytes_rehashed=sum(f.found_size or 0 for f in fixity),
            quick=quick,
            item=item,
            s3_objects=sum(1 for o in objects if o.backend == "s3"),
            s3_rehashed=len(s3_fixity),
            facts=facts,
            case=case,
        ),
        fixity=tuple(fixity),
        elsewhere=holding.elsewhere,
    )


def _recheck_fresh(
    catalog: Catalog,
    beyond: Sequence[SignedHead],
    unmatched: Sequence[SignedHead],
    stray: Sequence[str],
    problems: Problems,
) -> None:
    """Files written while the audit ran are judged against a fresh view of the catalog."""
    if not (beyond or unmatched or stray):
        return
    with catalog.read() as txn:
        head = txn.log.head()
        for h in beyond:
            if h.size > head.size:
                problems.add(
                    Problem(
                        code="checkpoint-beyond-log",
                        subject=h.source,
                        expected=_(
                            "a log of at least {size} events (it was signed at that size)"
                        ).format(size=h.size),
                        found=_(
                            "a log of {size} events: the log lost its tail or the catalog was "
                            "replaced by an older copy"
                        ).format(size=head.size),
                    )
                )
            elif (stored := _stored_root(txn, h.size)) is not None and stored != h.root:
                problems.add(
                    Problem(
                        code="checkpoint-root-mismatch",
                        subject=h.source,
                        expected=_("root {hash} at size {size} (signed)").format(
                            hash=h.root.hex(), size=h.size
                        ),
                        found=_("root {hash} (stored tree)").format(hash=stored.hex()),
                    )
                )
        rows = {(cp.dock_name, cp.size) for cp in txn.log.checkpoints()}
        for h in unmatched:
            if (h.dock, h.size) not in rows and not _commit_cut(h, rows, unmatched):
                problems.add(
                    Problem(
                        code="checkpoint-row-missing",
                        subject=h.source,
                        expected=_("a checkpoint row of dock {dock} at size {size}").format(
                            dock=h.dock, size=h.size
                        ),
                        found=_("none in the catalog"),
                    )
                )
        for sha in stray:
            if not txn.stored_objects(sha):
                problems.add(
                    Problem(
                        code="object-not-in-catalog",
                        subject=_("file {sha256} in the store").format(sha256=sha),
                        expected=_("a stored-object row for it in the catalog"),
                        found=_("none: the catalog does not know these bytes"),
                    )
                )


def _commit_cut(h: SignedHead, rows: set[tuple[str, int]], files: Sequence[SignedHead]) -> bool:
    """``h`` is its dock's newest checkpoint file, newer than every row of that dock: the file
    was made durable and the commit of its row was cut (a crash or a power loss between the
    two; the second store has no atomic commit with the first). Its signature and its root
    are checked like any other, so it hides nothing, and the dock's next checkpoint restores
    the row from it (verify.checkpoints). A missing row under a later checkpoint is another
    matter: that checkpoint would have restored it."""
    newest_row = max((size for dock, size in rows if dock == h.dock), default=-1)
    newest_file = max(f.size for f in files if f.dock == h.dock)
    if h.size == newest_file and h.size > newest_row:
        logger.warning(
            "checkpoint file without its row, the newest of its dock: its commit was cut; "
            "the next checkpoint restores the row dock=%s size=%d",
            h.dock,
            h.size,
        )
        return True
    return False


def _event_time(txn: Transaction, size: int) -> datetime | None:
    """The time of the last event a checkpoint of ``size`` covers (None: not in the log)."""
    events = txn.log.event_range(size - 1, size) if size else []
    return parse_event_time(events[0].time) if events else None


def _stored_root(txn: Transaction, size: int) -> bytes | None:
    try:
        return root(size, txn.log.read_node)
    except LookupError:
        return None  # a missing node of a checkpoint taken while we ran: next run sees it


def record_fixity(
    catalog: Catalog,
    custody: CustodyLog,
    fixity: Sequence[Fixity],
    *,
    actor: str,
    chunk: int = 500,
) -> int:
    """One ``fixity_checked``/``fixity_failed`` event per item of each re-hashed object,
    in transactions of ``chunk`` events (the log lock is not held for a whole sweep)."""
    pending = [(f, item_id) for f in fixity for item_id in f.items]
    for start in range(0, len(pending), chunk):
        with catalog.write() as txn:
            for f, item_id in pending[start : start + chunk]:
                data: dict[str, Any] = {
                    "sha256": f.sha256,
                    "size": f.size,
                    "backend": f.backend,
                    "key": f.key,
                }
                if not f.ok:
                    data["found_sha256"] = f.found_sha256
                    data["found_size"] = f.found_size
                    data["reason"] = "missing" if f.found_sha256 is None else "mismatch"
                custody.append_at_commit(  # with the COMMIT: the lock for that time only
                    txn,
                    type=EventType.FIXITY_CHECKED if f.ok else EventType.FIXITY_FAILED,
                    actor=actor,
                    item=item_id,
                    data=data,
                )
    logger.info("fixity events recorded count=%d", len(pending))
    return len(pending)
