"""Engines for the catalog: SQLite for one dock, PostgreSQL for a fleet, and migrations."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.sql.dml import Insert

from i18n import _
from storage.errors import CatalogDiskError, CatalogTooNew, CatalogUnavailable

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
READ_ONLY = "evidock_read_only"
# key of the PostgreSQL advisory lock that serialises schema migrations across a fleet
MIGRATION_LOCK = 0x65766964  # "evid"
# libpq connection parameters of every PostgreSQL connection (the URL's query overrides them)
PG_CONNECT_ARGS: dict[str, str | int] = {
    "application_name": "evidock",
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


LASTING_SQLSTATE_CLASSES = frozenset({"54"})
"""PostgreSQL error classes that retrying cannot change: 54, program limit exceeded (an index
entry, a statement, an argument list too big). The other errors a driver reports as
operational (a lost connection, a deadlock, a full disk, a shutdown) may pass."""


def is_lasting(err: OperationalError) -> bool:
    """Whether ``err`` comes again however often the same write is tried."""
    state = getattr(err.orig, "sqlstate", None)
    return isinstance(state, str) and state[:2] in LASTING_SQLSTATE_CLASSES


SQLITE_DISK_ERRORS = frozenset({10, 13})
"""SQLite's primary result codes of a failing or full disk: SQLITE_IOERR (EIO, a failed
fsync, and the extended IOERR codes) and SQLITE_FULL (ENOSPC)."""


def unavailable(err: OperationalError, message: str) -> CatalogUnavailable:
    """The error to raise for ``err`` (``message`` says what failed): ``CatalogDiskError``
    when SQLite reports its disk full or failing, else ``CatalogUnavailable``."""
    code = getattr(err.orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in SQLITE_DISK_ERRORS:
        return CatalogDiskError(message)
    return CatalogUnavailable(message)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


@functools.cache
def insert_or_skip(dialect: str, model: type[object]) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING id`` into ``model``'s table in
    ``dialect``, a Core statement built once: the caller executes it on the session's
    connection with the row's values as parameters (no ORM unit of work, no statement built
    and cache-keyed per row: issue 19). A row that a unique key already holds is skipped
    without an error, so without a savepoint, and returns no id. The one place the two
    dialects part."""
    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)
    return stmt.on_conflict_do_nothing().returning(stmt.table.c.id)


def make_engine(url: str, *, sqlite_cache_kib: int | None = None) -> Engine:
    """An engine with the dialect settings evidence needs (durable commits, serial writers).
    ``sqlite_cache_kib``: the page cache of each SQLite connection (default: SQLite's 2,000
    KiB); a docking caps it, its memory flat in the size of the catalog (issue 19)."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise CatalogUnavailable(
            _("catalog_url {url} is not a database URL").format(url=repr(url))
        ) from e
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not Path(db).parent.is_dir():
            raise CatalogUnavailable(
                _("the folder of the catalog {path} does not exist").format(path=db),
                hint=_("Run 'evidock init' first."),
            )
        # A kept pool: closing the last connection of a WAL database checkpoints and deletes
        # the WAL (with fsyncs) on every transaction.
        engine = create_engine(
            parsed,
            connect_args={"timeout": 60},
            pool_size=8,
            max_overflow=8,
            pool_pre_ping=False,
        )
        _sqlite_setup(engine, cache_kib=sqlite_cache_kib)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        # Fleet mode: a server restart kills every pooled connection. pre-ping finds a dead one
        # at checkout (and the first disconnect error empties the pool), so after a restart
        # the next transaction reconnects; a call cut mid-way fails with CatalogUnavailable
        # and the daemons retry it. Connecting gives up after connect_timeout instead of
        # hanging on an unreachable host; TCP keepalives find a server gone silent. A key
        # given in the URL's query wins.
        libpq = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in parsed.query}
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=10,
            pool_timeout=30,
            pool_recycle=3600,
            connect_args=libpq,
        )
    raise CatalogUnavailable(
        _("catalog_url uses {backend}; evidock supports sqlite and postgresql").format(
            backend=repr(parsed.get_backend_name())
        )
    )


def _sqlite_setup(engine: Engine, *, cache_kib: int | None = None) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own BEGIN handling is switched off; we say BEGIN IMMEDIATE ourselves so
        # that two writers queue on the database lock instead of failing half-way.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        if cache_kib is not None:
            cur.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB, not pages
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> frozenset[str]:
    """Every schema revision this evidock's migrations know."""
    return frozenset(
        r.revision for r in ScriptDirectory.from_config(_alembic_config()).walk_revisions()
    )


def refuse_unknown(revision: str | None) -> None:
    """Refuse a catalog written by a newer evidock (a revision none of our migrations know):
    migrating it 'up' is impossible and using it as is would be a downgrade."""
    if revision is None or revision in known_revisions():
        return
    raise CatalogTooNew(
        _(
            "the catalog's schema revision {revision} is newer than this evidock {release} "
            "knows (newest known {newest}): refusing to downgrade it"
        ).format(revision=revision, release=_release(), newest=head_revision())
    )


def _release() -> str:
    try:
        return version("evidock")
    except PackageNotFoundError:
        return _("(unknown version)")


def pending_revisions(engine: Engine) -> tuple[str | None, list[str]]:
    """The catalog's revision and the migrations that would bring it to the newest, oldest
    first; refuses a catalog that is newer than this evidock."""
    current = current_revision(engine)
    refuse_unknown(current)
    script = ScriptDirectory.from_config(_alembic_config())
    head = script.get_current_head()
    if current == head or head is None:
        return current, []
    steps = [r.revision for r in script.iterate_revisions(head, current or "base")]
    return current, [s for s in reversed(steps) if s != current]


def has_schema(engine: Engine) -> bool:
    """Whether the catalog was ever created (at any revision): False for an empty database.
    Reads only; an unreachable server is CatalogUnavailable."""
    try:
        return current_revision(engine) is not None
    except OperationalError as e:
        raise unavailable(e, _("cannot open the catalog: {error}").format(error=e.orig)) from e


@contextlib.contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """Foreign keys off on a SQLite connection for the migration transaction around it.

    SQLite changes a table's constraints by rebuilding it (alembic's batch mode: copy, drop,
    rename), and with foreign keys on it refuses to drop a table other rows point to. The
    pragma does nothing inside a transaction, so it is set before ``begin``; ``migrate``
    checks every reference before the commit, and the connection goes back to the pool with
    foreign keys on again (or is discarded). Does nothing on other databases."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        try:
            raw.execute("PRAGMA foreign_keys=ON")
        except Exception:
            conn.invalidate()  # never a pooled connection without foreign keys
            raise


def migrate(engine: Engine) -> None:
    """Bring the catalog schema to the newest revision; cheap when it is already there.

    Nodes of a fleet that start together on a new catalog migrate one after the other: on
    PostgreSQL the migration transaction first takes an advisory lock (schema changes are
    transactional there), and whoever gets it second finds the schema already at the newest
    revision. On SQLite the write transaction (BEGIN IMMEDIATE) already admits one writer.
    """
    head = head_revision()
    try:
        current = current_revision(engine)
        if current == head:
            return
        refuse_unknown(current)
        cfg = _alembic_config()
        with engine.connect() as conn, _sqlite_foreign_keys_off(conn), conn.begin():
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
                if MigrationContext.configure(conn).get_current_revision() == head:
                    return  # another node migrated it while we waited
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if conn.dialect.name == "sqlite":
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:  # a migration bug: roll it all back
                    raise RuntimeError(f"migration left broken references: {broken[:10]}")
    except OperationalError as e:
        raise unavailable(e, _("cannot open the catalog: {error}").format(error=e.orig)) from e
    logger.info("catalog migrated revision=%s", head)
