"""Wiring: settings -> catalog, store, custody log and this dock's identity and key."""

from __future__ import annotations

import getpass
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ingest.config import Settings
from storage.catalog import Catalog, Transaction
from storage.durable import makedirs_durable
from storage.jobs import JobOps
from storage.localstore import LocalStore
from storage.objects import UPLOAD, ObjectOps
from storage.records import Dock
from verify.checkpoints import take_checkpoint
from verify.custody import CustodyLog
from verify.keys import DockKey, load_or_create

if TYPE_CHECKING:
    from storage.s3store import S3Store

logger = logging.getLogger(__name__)

LOG_ORIGIN = "evidock/custody-log"


def utcnow() -> datetime:
    return datetime.now(UTC)


def os_actor() -> str:
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


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
            return size, taken

    def queue_upload(
        self, txn: Transaction, item_id: int | None, *, ingested_here: bool = False
    ) -> None:
        """With [s3]: ask a worker to bring S3 in line with this item (its original, proxies,
        legal hold), or with ``None`` to publish new checkpoints; in the caller's transaction,
        the one that records the change."""
        if self.s3 is not None:
            if item_id is None:
                node = None
            elif ingested_here:  # this dock's own spool: no need to look it up
                node = self.worker_node
            else:
                node = self.job_node(txn, item_id)
            JobOps(txn).enqueue_once(kind=UPLOAD, item_id=item_id, now=self.clock(), node=node)

    def job_node(self, txn: Transaction, item_id: int) -> str | None:
        """Where a job reading this item's local copy must run: the dock that took it in,
        unless the store is shared by every node."""
        if self.settings.store.shared:
            return None
        return ObjectOps(txn).spool_node(item_id)

    @property
    def worker_node(self) -> str | None:
        """The jobs this node's workers may run: their own dock's (None: any)."""
        return None if self.settings.store.shared else self.dock.name

    def close(self) -> None:
        self.catalog.close()


def ctx_of(settings: object) -> Context:
    """The context of a CLI command (its handlers receive the settings untyped)."""
    assert isinstance(settings, Settings)
    return open_context(settings)


def object_store(settings: Settings) -> S3Store | None:
    """The configured S3 store, or None; boto3 is loaded only where S3 is configured."""
    if settings.store.s3 is None:
        return None
    from storage.s3store import S3Store

    return S3Store(settings.store.s3)


def open_context(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Context:
    """Data dir, catalog at the newest schema, store folders, dock key and registration.

    Idempotent: this is what 'evidock init' does, and every command starts with it.
    """
    makedirs_durable(settings.data_dir)
    store = LocalStore(settings.store_dir)
    store.prepare()
    makedirs_durable(store.root / "checkpoints")
    key, created = load_or_create(settings.keys_dir, settings.dock.name)
    catalog = Catalog.open(settings.catalog_url)
    with catalog.write() as txn:
        dock = txn.ensure_dock(
            name=settings.dock.name,
            host=socket.gethostname(),
            public_key=key.public,
            key_name=key.name,
            now=clock(),
        )
    return Context(
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
