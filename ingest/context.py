"""Wiring: settings -> catalog, store, custody log and this dock's identity and key."""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from i18n import _
from ingest.config import Settings
from ingest.datadir import DockState, Place, Seen, check_dock, check_place, check_schema, look
from ingest.errors import DataDirError
from storage.blobs.durable import FILE_MODE, makedirs_durable
from storage.blobs.localstore import LocalStore
from storage.catalog.engine import has_schema, migrate
from storage.catalog.jobs import worker_node
from storage.catalog.migrate import redact, sqlite_path
from storage.catalog.objects import queue_upload
from storage.catalog.session import Catalog, Transaction
from storage.errors import StorageError
from storage.records import Dock
from verify.audit.facts import record_baseline
from verify.checkpoints import take_checkpoint
from verify.custody import CustodyLog
from verify.keys import DockKey, key_path, load_or_create
from verify.log.note import verifier_key
from verify.tsa.submit import post_query, timestamp_pending
from verify.witness import client as witness_client
from verify.witness.submit import Submitted, WitnessTarget, submit_pending

if TYPE_CHECKING:
    from storage.blobs.s3store import S3Store

logger = logging.getLogger(__name__)

LOG_ORIGIN = "evidock/custody-log"
DOCKING_CACHE_KIB = 512
"""The page cache of each SQLite connection of ``evidock ingest``, against SQLite's 2,000 KiB: a
docking writes and looks up rows by key, and its connections each filling 2 MiB grew its
memory with the catalog (issue 19). The dock daemon keeps the default (not measured yet)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def os_user() -> str | None:
    """The name of the account this process runs as, or None when it has none."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def os_actor() -> str:
    return f"user:{os_user() or 'unknown'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    settings: Settings
    catalog: Catalog
    store: LocalStore
    custody: CustodyLog
    key: DockKey
    dock: Dock
    clock: Callable[[], datetime]
    key_created: bool
    s3: S3Store | None = None  # [s3] configured: the object store (system of record or replica)

    def checkpoint(self) -> tuple[int, bool]:
        """Sign a checkpoint of the log now unless the last one covers it (verify.checkpoints),
        and queue a new one's write-once copy for the bucket: wiring, the decisions are there."""
        with self.catalog.write() as txn:
            size, taken = take_checkpoint(
                txn,
                key=self.key,
                dock=self.dock,
                origin=LOG_ORIGIN,
                folder=self.store.root / "checkpoints",
                clock=self.clock,
            )
            if taken:  # a write-once copy in the bucket (issue 8)
                self.queue_upload(txn, None)
        self.submit_to_witnesses()  # issue 15: after the commit, never inside it
        self.timestamp_checkpoints()
        return size, taken

    def timestamp_checkpoints(self) -> tuple[int, int] | None:
        """RFC 3161 tokens for the checkpoints that have none, from [trust] tsa_url; a TSA
        that is down leaves them pending (logged). Returns (stamped, pending)."""
        trust = self.settings.trust
        if not trust.tsa_url or trust.tsa_chain is None:
            return None
        try:
            return timestamp_pending(self.catalog, url=trust.tsa_url, chain=trust.tsa_chain,
                                     folder=self.store.root / "checkpoints",
                                     post=partial(post_query, timeout=trust.witness_timeout_s),
                                     clock=self.clock)  # fmt: skip
        except StorageError as e:
            logger.warning("timestamping put off code=%s error=%s", e.code, e)
            return None

    def submit_to_witnesses(self) -> Submitted | None:
        """Send pending checkpoints to the [trust] witnesses. Docking never stops for a
        witness: one that is down leaves them pending (logged); a refusal is logged at ERROR
        and recorded for 'evidock verify' by ``verify.witness.submit``."""
        trust = self.settings.trust
        now = self.clock()
        targets = [WitnessTarget(url=w.url, key=w.key) for w in trust.witnesses if w.active(now)]
        if not targets:  # none, or all retired
            return None
        try:
            return submit_pending(self.catalog, targets, folder=self.store.root / "checkpoints",
                                  post=partial(witness_client.post,
                                               timeout=trust.witness_timeout_s),
                                  clock=self.clock)  # fmt: skip
        except StorageError as e:
            logger.warning("witness submission put off code=%s error=%s", e.code, e)
            return None

    # Wiring for callers that hold only the context (the CLI; tests): the decisions are in
    # storage.catalog.objects.queue_upload and storage.catalog.jobs.worker_node.
    def queue_upload(self, txn: Transaction, item_id: int | None) -> None:
        """``storage.catalog.objects.queue_upload`` with this dock's settings."""
        queue_upload(
            txn,
            item_id,
            object_store=self.s3 is not None,
            shared=self.settings.store.shared,
            now=self.clock(),
        )

    @property
    def worker_node(self) -> str | None:
        """``storage.catalog.jobs.worker_node`` of this dock."""
        return worker_node(shared=self.settings.store.shared, dock=self.dock.name)

    def close(self) -> None:
        self.catalog.close()


def object_store(settings: Settings) -> S3Store | None:
    """The configured S3 store, or None; boto3 is loaded only where S3 is configured."""
    if settings.store.s3 is None:
        return None
    from storage.blobs.s3store import S3Store

    return S3Store(settings.store.s3)


def open_catalog(
    settings: Settings,
    *,
    create: bool = False,
    create_schema: bool = False,
    upgrade: bool = True,
    sqlite_cache_kib: int | None = None,
) -> Catalog:
    """The catalog of this data directory at the newest schema, after checking that the
    directory and the catalog are there (``create``: make them; ``create_schema``: create the
    schema of an empty database; ``upgrade=False``: leave the schema as it is, for 'evidock
    catalog upgrade' to report first). Nothing is made on disk before the checks pass.
    ``sqlite_cache_kib``: the page cache of each SQLite connection (storage.catalog.engine)."""
    db = sqlite_path(settings.catalog_url)
    inside = db is not None and db.parent == settings.data_dir.resolve()
    check_place(
        Place(
            data_dir=settings.data_dir,
            data_dir_seen=look(settings.data_dir),
            catalog_file=db,
            catalog_file_seen=look(db) if db is not None else Seen(kind="missing"),
            catalog_inside=inside,
            source=settings.source,
        ),
        create=create,
    )
    if create and inside:
        _make_data_dir(settings)
    if create and db is not None:
        _make_catalog_file(db)
    catalog = Catalog(settings.catalog_url, sqlite_cache_kib=sqlite_cache_kib)
    try:
        present = has_schema(catalog.engine)
        check_schema(present=present, catalog=redact(settings.catalog_url), create=create_schema)
        if upgrade:
            migrate(catalog.engine)
    except BaseException:
        catalog.close()
        raise
    return catalog


def _make_data_dir(settings: Settings) -> None:
    try:
        makedirs_durable(settings.data_dir)
    except OSError as e:
        raise DataDirError(
            _("cannot create the data directory {path}: {error}").format(
                path=settings.data_dir, error=e.strerror or e
            )
        ) from e


def _make_catalog_file(db: Path) -> None:
    """An empty SQLite catalog file, not readable by others (SQLite gives its -wal and -shm
    files the same mode); SQLite makes an empty file into a database."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        os.close(os.open(db, flags, FILE_MODE))
    except FileExistsError:
        return
    except OSError as e:
        raise DataDirError(
            _("cannot create the catalog {path}: {error}").format(path=db, error=e.strerror or e)
        ) from e


def dock_state(settings: Settings, txn: Transaction, *, sqlite: bool) -> DockState:
    """What the catalog and the data directory hold of this dock, for ``check_dock``."""
    name = settings.dock.name
    mine = next((d for d in txn.docks() if d.name == name), None)
    # the store holds the recordings of every docking in a single dock's SQLite catalog or a
    # fleet's shared store; of this dock's own dockings where each dock keeps its own spool
    whose = None if sqlite or settings.store.shared else name
    key_file = key_path(settings.keys_dir, name)
    store = LocalStore(settings.store_dir).objects
    return DockState(
        name=name,
        key_file=key_file,
        key_file_seen=look(key_file),
        registered_key=verifier_key(mine.key_name, mine.public_key) if mine else None,
        store=store,
        store_seen=look(store),
        dockings=bool(txn.recent_sessions(dock=whose, limit=1)),
    )


def open_context(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    create: bool = False,
    create_schema: bool = False,
    sqlite_cache_kib: int | None = None,
) -> Context:
    """Catalog at the newest schema, store folders, dock key and registration, after the
    checks of ``ingest.datadir``: every command starts with it.

    ``create=True`` is 'evidock init' (idempotent): it may make the data dir, the catalog and
    its schema. ``create_schema=True`` (the daemons) may create the schema of an empty
    database. Neither ever makes a new key for a dock the catalog knows. ``sqlite_cache_kib``:
    see ``open_catalog`` (a docking passes ``DOCKING_CACHE_KIB``).
    """
    catalog = open_catalog(
        settings,
        create=create,
        create_schema=create or create_schema,
        sqlite_cache_kib=sqlite_cache_kib,
    )
    try:
        with catalog.read() as txn:
            check_dock(dock_state(settings, txn, sqlite=catalog.is_sqlite))
        if create:
            _make_data_dir(settings)
        store = LocalStore(settings.store_dir)
        store.prepare()
        makedirs_durable(store.root / "checkpoints")
        key, created = load_or_create(settings.keys_dir, settings.dock.name)
        with catalog.write() as txn:
            dock = txn.ensure_dock(
                name=settings.dock.name,
                host=socket.gethostname(),
                public_key=key.public,
                key_name=key.name,
                now=clock(),
            )
    except BaseException:
        catalog.close()
        raise
    ctx = Context(
        s3=object_store(settings),
        settings=settings,
        catalog=catalog,
        store=store,
        custody=CustodyLog(dock=settings.dock.name, clock=clock),
        key=key,
        dock=dock,
        clock=clock,
        key_created=created,
    )
    try:
        if record_baseline(catalog, ctx.custody):  # a catalog from before issue 14, once
            ctx.checkpoint()
    except BaseException:
        catalog.close()
        raise
    return ctx
