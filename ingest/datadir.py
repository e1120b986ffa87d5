"""Whether a data directory is one a command may use, decided from what is there.

A typo in ``EVIDOCK_HOME``, or the store's disk not mounted, must not start a new empty dock
with a new key that ``verify`` then calls sound. So only ``evidock init`` (and the demo, in a
folder of its own) makes a data directory, a SQLite catalog or a catalog schema; the daemons
of a fleet may create the schema of an empty PostgreSQL catalog (the first node up does).
Every command refuses, with what to do (exit 2):

- a data directory that is missing or not a directory; a SQLite catalog file that is missing;
  a database without evidock's schema;
- this dock registered in the catalog while its key file is missing: a new key is never made
  for it (restore the key, or come back under a new dock name);
- the local store missing while the catalog records dockings whose recordings it holds.

A dock name not yet in the catalog is a new node joining: its key is made and registered.
The checks are pure functions over what ``look`` saw; ``ingest.context`` does the looking.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from i18n import _
from ingest.errors import DataDirError, DockKeyMissing, NoCatalog, StoreMissing

Kind = Literal["dir", "file", "missing", "other"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    """What is at a path (symlinks followed); ``detail`` says why for "other"."""

    kind: Kind
    detail: str = ""


def look(path: Path) -> Seen:
    """Stat ``path`` without creating or changing anything."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return Seen(kind="missing")
    except OSError as e:
        return Seen(kind="other", detail=e.strerror or str(e))
    if stat.S_ISDIR(st.st_mode):
        return Seen(kind="dir")
    if stat.S_ISREG(st.st_mode):
        return Seen(kind="file")
    return Seen(kind="other", detail=_("neither a file nor a directory"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """The data directory and, for a SQLite catalog, its file."""

    data_dir: Path
    data_dir_seen: Seen
    catalog_file: Path | None  # None: the catalog is a database server's
    catalog_file_seen: Seen
    catalog_inside: bool  # the catalog file is in the data directory
    source: str  # where the settings came from, for the hint


@dataclass(frozen=True, slots=True, kw_only=True)
class DockState:
    """This dock as the catalog and the data directory have it."""

    name: str
    key_file: Path
    key_file_seen: Seen
    registered_key: str | None  # the verifier key the catalog holds for this dock name
    store: Path  # the local store's object folder
    store_seen: Seen
    dockings: bool  # the catalog records dockings whose recordings this store holds


def _where(source: str) -> str:
    """The hint for a data directory or catalog that is not there, in the reader's language."""
    if source == "defaults":
        return _(
            "Is EVIDOCK_HOME spelled right? Is the data disk mounted? "
            "To start a new dock there: evidock init."
        )
    return _(
        "Is EVIDOCK_HOME (or data_dir in {source}) spelled right? Is the data disk mounted? "
        "To start a new dock there: evidock init."
    ).format(source=source)


def check_place(place: Place, *, create: bool) -> None:
    """Refuse a data directory or SQLite catalog that is not there (unless ``create``), or
    that is something else than a directory or a file."""
    d, seen = place.data_dir, place.data_dir_seen
    if seen.kind == "file":
        raise DataDirError(
            _("the data directory {path} is a file, not a directory").format(path=d),
            hint=_(
                "Point EVIDOCK_HOME (or data_dir in {source}) at a directory; "
                "'evidock init' makes one."
            ).format(source=place.source),
        )
    if seen.kind == "other":
        raise DataDirError(
            _("cannot use the data directory {path}: {why}").format(path=d, why=seen.detail)
        )
    if seen.kind == "missing" and not create:
        raise NoCatalog(
            _("there is no evidock data directory at {path}").format(path=d),
            hint=_where(place.source),
        )
    db, db_seen = place.catalog_file, place.catalog_file_seen
    if db is None:
        return
    if db_seen.kind in ("dir", "other"):
        why = db_seen.detail or _("a directory, not a file")
        raise DataDirError(_("cannot use the catalog {path}: {why}").format(path=db, why=why))
    if db_seen.kind == "missing" and not create:
        if place.catalog_inside:
            message = _("the data directory {dir} holds no catalog: {path} does not exist")
        else:
            message = _("no catalog: {path} does not exist")
        raise NoCatalog(message.format(dir=d, path=db), hint=_where(place.source))


def check_schema(*, present: bool, catalog: str, create: bool) -> None:
    """Refuse a database without evidock's schema, unless this command may create it."""
    if not present and not create:
        raise NoCatalog(
            _("the catalog {catalog} has no evidock schema (an empty database)").format(
                catalog=catalog
            ),
            hint=_(
                "Check catalog_url / EVIDOCK_CATALOG_URL. To set up a new catalog: evidock "
                "init (or start the dock or worker daemon of a fleet: the first one up creates "
                "it)."
            ),
        )


def check_dock(state: DockState) -> None:
    """Refuse a dock whose key file is gone, or whose store is gone with evidence in it."""
    if state.registered_key is not None and state.key_file_seen.kind == "missing":
        raise DockKeyMissing(
            _(
                "dock {name} is registered in the catalog with the key {key}, but its key file "
                "{path} is missing"
            ).format(name=repr(state.name), key=state.registered_key, path=state.key_file),
            hint=_(
                "Is the data disk mounted, and EVIDOCK_HOME right? Restore the key file from "
                "the backup; or, if the key is lost, come back under a new dock name ([dock] "
                "name or EVIDOCK_DOCK_NAME). No new key was made."
            ),
        )
    if state.dockings and state.store_seen.kind != "dir":
        if state.store_seen.kind == "missing":
            message = _(
                "the evidence store {path} is missing, but the catalog records dockings whose "
                "recordings it holds"
            )
        else:
            message = _(
                "the evidence store {path} is not a directory, but the catalog records "
                "dockings whose recordings it holds"
            )
        raise StoreMissing(
            message.format(path=state.store),
            hint=_(
                "Is the store's disk mounted at that path, and EVIDOCK_HOME right? Restore "
                "the store from the backup if it is lost; nothing was created."
            ),
        )
