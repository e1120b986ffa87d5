"""Moving a catalog into another database: every table, row for row, in one target transaction.

``evidock catalog migrate-to`` moves a dock's SQLite catalog into the fleet's PostgreSQL
catalog with it (any target SQLAlchemy can open works: a SQLite file makes a backup copy).

- The source is held still: ``lock_source`` takes SQLite's write lock (``BEGIN IMMEDIATE``) on
  one connection and keeps it until ``close``, so no dock or worker commits while rows are
  read; readers (the audit of the source) go on beside it.
- The target is brought to the newest schema and must hold no row of any catalog table; under
  PostgreSQL the tables are also locked against other writers for the copy.
- Every table of ``catalog.models`` is copied in foreign-key order, primary keys and values as
  they are, ``batch`` rows at a time (flat memory), all in ONE target transaction: a failure
  rolls everything back and leaves the target empty. ``alembic_version`` is not copied: the
  target's own migration wrote it.
- Before the commit, every table is read back from the target (inside the same transaction)
  and its digest compared with the digest of the rows read from the source: the copy is proven
  value for value, not only counted. Then PostgreSQL's serial sequences are moved past the
  copied ids, so new rows continue after them.

Verifying the custody log of the target is ``verify``'s job; the command does it after the
commit and calls ``discard`` (delete every row again) when it fails.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic.util.exc import CommandError
from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Table,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from i18n import N_, _, n_
from storage.catalog.engine import current_revision, head_revision, make_engine, migrate
from storage.catalog.models import Base
from storage.errors import CatalogUnavailable, StorageError

logger = logging.getLogger(__name__)

BATCH = 5000
"""Rows per read and per INSERT batch."""


class MigrateRefused(StorageError):
    """The move cannot start: nothing was written anywhere."""

    code = "migrate-refused"
    hint = N_("Read the message: it says what to change before running the command again.")


class MigrateFailed(StorageError):
    """The copy failed; the target transaction was rolled back."""

    code = "migrate-failed"
    hint = N_(
        "Nothing was committed to the target and the source is unchanged; fix the cause in "
        "the message and run the command again."
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TableCopy:
    name: str
    rows: int
    digest: str
    """SHA-256 of every row's values in primary-key order (see ``feed_rows``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetState:
    url: str
    """The target URL without its password."""
    dialect: str
    revision: str | None
    rows: tuple[tuple[str, int], ...]
    """Catalog tables of the target that hold rows, with their row counts."""

    @property
    def empty(self) -> bool:
        return not self.rows


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyResult:
    tables: tuple[TableCopy, ...]
    sequences: tuple[tuple[str, int], ...]
    """(table, last id) of each serial sequence that was moved (PostgreSQL only)."""
    seconds: float

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def catalog_tables() -> list[Table]:
    """The tables of the catalog, parents before children."""
    return list(Base.metadata.sorted_tables)


def redact(url: str) -> str:
    """``url`` without its password (for messages and output)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def backend(url: str) -> str:
    """``sqlite``, ``postgresql``, ... (``""`` when it is not a database URL)."""
    try:
        return make_url(url).get_backend_name()
    except ArgumentError:
        return ""


class CatalogMove:
    """One move of the catalog at ``source_url`` into ``target_url``; see the module doc.

    Use it as a context manager: leaving it releases the source's lock and both engines.
    """

    def __init__(
        self,
        source_url: str,
        target_url: str,
        *,
        batch: int = BATCH,
        source_engine: Engine | None = None,
        target_engine: Engine | None = None,
    ) -> None:
        self.source_url = source_url
        self.target_url = target_url
        self.batch = batch
        self.source = source_engine if source_engine is not None else make_engine(source_url)
        self.target = target_engine if target_engine is not None else make_engine(target_url)
        self._lock: Connection | None = None

    def __enter__(self) -> CatalogMove:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lock is not None:
            try:
                self._lock.rollback()  # the lock transaction only read
                self._lock.close()
            finally:
                self._lock = None
        self.source.dispose()
        self.target.dispose()

    # -- the source -----------------------------------------------------------------------------
    def prepare_source(self) -> None:
        """Bring the source schema to the newest revision (what every evidock command does)."""
        _migrate(self.source, "source", self.source_url)

    def lock_source(self) -> None:
        """Take the source's write lock and keep it until ``close``: no writer commits
        meanwhile (a dock or worker that tries waits, then fails on its busy timeout)."""
        if self._lock is not None:
            return
        conn = self.source.connect()
        try:
            conn.begin()  # BEGIN IMMEDIATE on SQLite (storage.catalog.engine)
            conn.execute(select(literal(1))).close()
        except OperationalError as e:
            conn.close()
            raise MigrateRefused(
                _("cannot lock the source catalog against writers: {error}").format(error=e.orig),
                hint=_(
                    "Another process keeps writing to it: stop the dock daemon, the workers "
                    "and the audit timer of this dock, then run the command again."
                ),
            ) from e
        self._lock = conn
        logger.info("source catalog locked against writers")

    def source_counts(self) -> dict[str, int]:
        """Rows per catalog table of the source (read under the lock when it is held)."""
        if self._lock is not None:
            return table_counts(self._lock)
        with self.source.connect() as conn:
            return table_counts(conn)

    # -- the target -----------------------------------------------------------------------------
    def target_state(self) -> TargetState:
        """What the target holds now; nothing is written (a missing table counts as empty)."""
        try:
            revision = current_revision(self.target)
            with self.target.connect() as conn:
                rows = tuple((n, c) for n, c in table_counts(conn).items() if c)
        except OperationalError as e:
            raise CatalogUnavailable(
                _("cannot read the target catalog {url}: {error}").format(
                    url=redact(self.target_url), error=e.orig
                )
            ) from e
        return TargetState(
            url=redact(self.target_url),
            dialect=self.target.dialect.name,
            revision=revision,
            rows=rows,
        )

    # -- the copy -------------------------------------------------------------------------------
    def copy(self) -> CopyResult:
        """Copy every table in one target transaction; see the module doc."""
        if self._lock is None:
            raise MigrateRefused(  # untranslated: a programming error, for a developer
                "the source is not locked", hint="Call lock_source() first."
            )
        src = self._lock
        _migrate(self.target, "target", self.target_url)
        started = time.monotonic()
        try:
            with self.target.begin() as dst:
                _lock_tables(dst)
                busy = [(n, c) for n, c in table_counts(dst).items() if c]
                if busy:
                    raise MigrateRefused(not_empty_message(self.target_url, busy))
                copied = [_copy_table(src, dst, t, self.batch) for t in catalog_tables()]
                _compare(dst, copied, self.batch)
                sequences = _reset_sequences(dst)
        except SQLAlchemyError as e:
            raise MigrateFailed(
                _("the copy into {url} failed and was rolled back: {error}").format(
                    url=redact(self.target_url),
                    error=f"{type(e).__name__}: {getattr(e, 'orig', None) or e}",
                )
            ) from e
        took = time.monotonic() - started
        logger.info("catalog copied rows=%d seconds=%.1f", sum(t.rows for t in copied), took)
        return CopyResult(tables=tuple(copied), sequences=tuple(sequences), seconds=took)

    def target_counts(self) -> dict[str, int]:
        """Rows per catalog table of the target, on a fresh connection (committed rows)."""
        with self.target.connect() as conn:
            return table_counts(conn)

    def discard(self) -> None:
        """Delete every catalog row of the target again (children first), in one transaction:
        after a failed verification the target is as empty as it was before the copy."""
        with self.target.begin() as conn:
            for table in reversed(catalog_tables()):
                conn.execute(table.delete())
        logger.warning("copied rows deleted from the target %s", redact(self.target_url))


def not_empty_message(url: str, rows: Sequence[tuple[str, int]]) -> str:
    listed = ", ".join(
        n_("{table} ({n} row)", "{table} ({n} rows)", count).format(table=name, n=count)
        for name, count in rows
    )
    return _(
        "the target catalog {url} already holds evidock data: {tables}. A move only goes into "
        "an empty catalog: merging two custody logs would fork them"
    ).format(url=redact(url), tables=listed)


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows of each catalog table in FK order; a table that does not exist counts 0."""
    present = set(inspect(conn).get_table_names())
    out: dict[str, int] = {}
    for table in catalog_tables():
        if table.name in present:
            out[table.name] = int(
                conn.execute(select(func.count()).select_from(table)).scalar_one()
            )
        else:
            out[table.name] = 0
    return out


def feed_rows(h: hashlib._Hash, rows: Iterable[Sequence[Any]]) -> None:
    """Feed rows into the hash ``h`` in a typed, length-prefixed encoding: equal digests mean
    equal values, type for type and byte for byte."""
    for row in rows:
        h.update(b"(")
        for value in row:
            h.update(_encode(value))
        h.update(b")")


def _encode(value: object) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"i%d;" % value
    if isinstance(value, float):
        return b"f" + value.hex().encode("ascii") + b";"
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return b"s%d:" % len(raw) + raw
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return b"b%d:" % len(raw) + raw
    if isinstance(value, datetime):
        return b"d" + value.isoformat().encode("ascii") + b";"
    raise MigrateFailed(
        _("a catalog value of type {type} has no digest encoding; the copy was rolled back").format(
            type=type(value).__name__
        ),
        hint=_("A column type new to the catalog: teach storage.catalog.migrate._encode about it."),
    )


def _ordered(table: Table, batch: int) -> Any:
    return (
        select(table)
        .order_by(*table.primary_key.columns)
        .execution_options(yield_per=batch, stream_results=True)
    )


def _copy_table(src: Connection, dst: Connection, table: Table, batch: int) -> TableCopy:
    h = hashlib.sha256()
    count = 0
    result = src.execute(_ordered(table, batch))
    for part in result.partitions(batch):
        dst.execute(table.insert(), [dict(row._mapping) for row in part])
        feed_rows(h, part)
        count += len(part)
    return TableCopy(name=table.name, rows=count, digest=h.hexdigest())


def _compare(dst: Connection, copied: Sequence[TableCopy], batch: int) -> None:
    """Read every table back from the target (inside the copy transaction) and compare."""
    tables = {t.name: t for t in catalog_tables()}
    for c in copied:
        h = hashlib.sha256()
        count = 0
        for part in dst.execute(_ordered(tables[c.name], batch)).partitions(batch):
            feed_rows(h, part)
            count += len(part)
        if (count, h.hexdigest()) != (c.rows, c.digest):
            raise MigrateFailed(
                _(
                    "table {table} reads back from the target as {found} rows with digest "
                    "{found_digest}, not the {copied} rows (digest {copied_digest}) copied from "
                    "the source; the copy was rolled back"
                ).format(
                    table=c.name,
                    found=count,
                    found_digest=h.hexdigest(),
                    copied=c.rows,
                    copied_digest=c.digest,
                ),
                hint=_(
                    "A value did not survive the target database's column type; report it "
                    "with this message."
                ),
            )


def _lock_tables(conn: Connection) -> None:
    """PostgreSQL: no other writer touches the catalog tables until the copy commits."""
    if conn.dialect.name != "postgresql":
        return  # SQLite: BEGIN IMMEDIATE (storage.catalog.engine) already excludes other writers
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(t.name) for t in catalog_tables())
    conn.execute(text(f"LOCK TABLE {names} IN EXCLUSIVE MODE"))


def _reset_sequences(conn: Connection) -> list[tuple[str, int]]:
    """PostgreSQL: every serial sequence of an integer primary key continues after max(id)."""
    if conn.dialect.name != "postgresql":
        return []  # SQLite's INTEGER PRIMARY KEY continues after max(rowid) by itself
    moved = []
    for table in catalog_tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer):
            continue
        seq = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}
        ).scalar()
        if seq is None:
            continue
        last = conn.execute(select(func.max(pk[0]))).scalar()
        conn.execute(
            text("SELECT setval(CAST(:s AS regclass), :v, :called)"),
            {"s": seq, "v": 1 if last is None else int(last), "called": last is not None},
        )
        moved.append((table.name, 0 if last is None else int(last)))
    return moved


_WHICH = {"source": N_("the source catalog"), "target": N_("the target catalog")}


def _migrate(engine: Engine, which: str, url: str) -> None:
    try:
        migrate(engine)
    except CommandError as e:
        raise MigrateRefused(
            _(
                "{which} {url} has a schema this evidock does not know (revision {revision}, "
                "newest known {newest}): {error}"
            ).format(
                which=_(_WHICH[which]),
                url=redact(url),
                revision=repr(current_revision(engine)),
                newest=repr(head_revision()),
                error=e,
            ),
            hint=_("Use the evidock release that wrote it, or another database."),
        ) from e
