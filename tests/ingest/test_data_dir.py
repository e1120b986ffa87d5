"""A data directory that is not this dock's (a typo, a disk not mounted, a lost key) is refused
with exit 2 and what to do; nothing is created in its place, no new key is made."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from ingest.datadir import DockState, Kind, Place, Seen, check_dock, check_place
from ingest.errors import DataDirError, DockKeyMissing, NoCatalog, StoreMissing
from support.pg import fresh_database, libpq_url

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(home: Path, **extra: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env |= {"EVIDOCK_HOME": str(home), "EVIDOCK_DOCK_NAME": "dock-dd", **extra}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ingest.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


def _refused(p: subprocess.CompletedProcess[str], code: str) -> str:
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert f"[{code}]\nhint: " in p.stderr and "Traceback" not in p.stderr + p.stdout
    return p.stderr


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def docked(tmp_path: Path, camera: Path) -> tuple[Path, Run]:
    """A dock made by 'evidock init' that has ingested a camera."""
    home = tmp_path / "home"
    run = _runner(home)
    assert run("init").returncode == 0
    assert run("ingest", str(camera), "--device", "BWC-1").returncode == 0
    return home, run


@pytest.mark.parametrize("command", [["items"], ["verify"], ["ingest", "{camera}"]])
def test_a_misspelt_home_is_refused_and_nothing_is_created(
    tmp_path: Path, camera: Path, command: list[str]
) -> None:
    """items, verify and ingest on an EVIDOCK_HOME that does not exist: exit 2, the path and
    'evidock init' in the message, no folder, catalog or key made (verify used to say OK)."""
    typo = tmp_path / "hoem"
    before = _tree(tmp_path)
    p = _runner(typo)(*(a.replace("{camera}", str(camera)) for a in command))
    err = _refused(p, "no-catalog")
    assert err.startswith(f"evidock: there is no evidock data directory at {typo} [no-catalog]")
    assert "evidock init" in err and "EVIDOCK_HOME" in err
    assert _tree(tmp_path) == before and p.stdout == ""


def test_an_empty_folder_where_the_data_disk_should_be_mounted_is_refused(tmp_path: Path) -> None:
    """The mount point without its disk: no catalog in it, exit 2, the folder stays empty; the
    dock daemon refuses it too (it may not start a new SQLite dock on the root disk)."""
    mountpoint = tmp_path / "evidock"
    mountpoint.mkdir()
    run = _runner(mountpoint)
    err = _refused(run("items"), "no-catalog")
    catalog = mountpoint / "catalog.db"
    assert f"the data directory {mountpoint} holds no catalog: {catalog} does not exist" in err
    assert "Is the data disk mounted?" in err
    _refused(run("worker", "--drain", "--metrics-address", "off"), "no-catalog")
    assert list(mountpoint.iterdir()) == []


def test_a_home_that_is_a_file_exits_2_for_every_command_and_init(tmp_path: Path) -> None:
    """EVIDOCK_HOME pointing at a file used to end in an internal error with exit 1."""
    file = tmp_path / "evidock.toml"
    file.write_text("data_dir = '/var/lib/evidock'\n")
    run = _runner(file)
    for command in (["items"], ["init"], ["verify"]):
        err = _refused(run(*command), "bad-data-dir")
        assert err.startswith(f"evidock: the data directory {file} is a file, not a directory")
    assert file.read_text() == "data_dir = '/var/lib/evidock'\n"


def test_init_under_a_file_says_it_cannot_create_the_folder(tmp_path: Path) -> None:
    """init on a path whose parent is a file: exit 2 with the reason, no internal error."""
    (tmp_path / "file").write_text("x")
    err = _refused(_runner(tmp_path / "file" / "home")("init"), "bad-data-dir")
    assert f"cannot create the data directory {tmp_path / 'file' / 'home'}: Not a directory" in err


def test_a_missing_store_is_refused_while_the_catalog_holds_dockings(
    docked: tuple[Path, Run], camera: Path
) -> None:
    """store/ gone, or only its empty mount point left: items, verify, checkpoint and even
    init exit 2 naming the store; no empty store is made in its place."""
    home, run = docked
    shutil.rmtree(home / "store")
    for command in (["items"], ["verify"], ["init"], ["checkpoint"]):
        err = _refused(run(*command), "store-missing")
        assert f"the evidence store {home / 'store' / 'sha256'} is missing" in err
        assert "Is the store's disk mounted" in err
    assert not (home / "store").exists()
    (home / "store").mkdir()
    _refused(run("ingest", str(camera), "--device", "BWC-1"), "store-missing")
    assert list((home / "store").iterdir()) == []


def test_a_missing_key_of_a_registered_dock_is_refused_and_no_new_key_is_made(
    docked: tuple[Path, Run],
) -> None:
    """keys/dock-dd.key gone: every command, init included, exits 2 saying to restore it or
    to come back under a new name; no key file is written."""
    home, run = docked
    key = home / "keys" / "dock-dd.key"
    key.unlink()
    for command in (["items"], ["verify"], ["init"], ["checkpoint"]):
        err = _refused(run(*command), "dock-key-missing")
        assert "dock 'dock-dd' is registered in the catalog with the key dock-dd+" in err
        assert f"but its key file {key} is missing" in err
        assert "Restore the key file from the backup" in err and "new dock name" in err
    assert list((home / "keys").iterdir()) == []


def test_a_new_dock_name_on_an_existing_catalog_gets_its_own_key(
    docked: tuple[Path, Run], tmp_path: Path
) -> None:
    """A name the catalog does not know is a new node joining: its key is made."""
    home, _ = docked
    other = _runner(home, EVIDOCK_DOCK_NAME="dock-2")
    p = other("--json", "init")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["key_created"] is True
    assert (home / "keys" / "dock-2.key").is_file()


def test_the_demo_sets_itself_up_in_its_own_home(tmp_path: Path) -> None:
    """evidock demo makes its data dir itself and ends with exit 0."""
    home = tmp_path / "demo"
    p = _runner(tmp_path / "not-used")("demo", "--home", str(home))
    assert p.returncode == 0, p.stderr
    assert (home / "catalog.db").is_file() and not (tmp_path / "not-used").exists()


@pytest.mark.postgres
def test_an_empty_postgresql_catalog_is_refused_by_commands_and_set_up_by_daemons(
    tmp_path: Path, pg_admin: str
) -> None:
    """Fleet bring-up: 'evidock items' on an empty database exits 2 and creates no table; the
    first worker daemon up creates the schema (README, 'Bringing a fleet up')."""
    home = tmp_path / "home"
    home.mkdir()
    with fresh_database(pg_admin) as url:
        run = _runner(home, EVIDOCK_CATALOG_URL=url)
        err = _refused(run("items"), "no-catalog")
        assert "has no evidock schema (an empty database)" in err
        with psycopg.connect(libpq_url(url)) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)
        assert list(home.iterdir()) == []
        p = run("worker", "--drain", "--metrics-address", "off")
        assert p.returncode == 0, p.stderr
        assert run("items").returncode == 0


# -- the decisions themselves, without a disk ------------------------------------------------
HOME = Path("/var/lib/evidock")
DB = HOME / "catalog.db"


def _place(home: Kind, db: Kind | None = "file") -> Place:
    return Place(
        data_dir=HOME,
        data_dir_seen=Seen(kind=home),
        catalog_file=DB if db is not None else None,
        catalog_file_seen=Seen(kind=db or "missing"),
        catalog_inside=True,
        source="/etc/evidock/evidock.toml",
    )


@pytest.mark.parametrize(
    ("place", "create", "refused"),
    [
        (_place("dir"), False, None),
        (_place("dir", None), False, None),  # PostgreSQL: the schema is checked afterwards
        (_place("missing"), False, NoCatalog),
        (_place("missing", "missing"), True, None),
        (_place("file"), True, DataDirError),
        (_place("dir", "missing"), False, NoCatalog),
        (_place("dir", "dir"), True, DataDirError),
        (_place("missing", None), False, NoCatalog),
    ],
)
def test_which_places_a_command_may_use(
    place: Place, create: bool, refused: type[Exception] | None
) -> None:
    """Only init (create) may start from nothing; a file is never a data directory."""
    if refused is None:
        check_place(place, create=create)
    else:
        with pytest.raises(refused):
            check_place(place, create=create)


def _dock(*, key: Kind, registered: bool, store: Kind, dockings: bool) -> DockState:
    return DockState(
        name="dock-01",
        key_file=HOME / "keys" / "dock-01.key",
        key_file_seen=Seen(kind=key),
        registered_key="dock-01+1a2b3c4d+AQ" if registered else None,
        store=HOME / "store" / "sha256",
        store_seen=Seen(kind=store),
        dockings=dockings,
    )


@pytest.mark.parametrize(
    ("state", "refused"),
    [
        (_dock(key="file", registered=True, store="dir", dockings=True), None),
        (_dock(key="missing", registered=False, store="missing", dockings=False), None),
        (_dock(key="missing", registered=True, store="dir", dockings=True), DockKeyMissing),
        (_dock(key="file", registered=True, store="missing", dockings=True), StoreMissing),
        (_dock(key="file", registered=True, store="missing", dockings=False), None),
    ],
)
def test_which_docks_a_command_may_use(state: DockState, refused: type[Exception] | None) -> None:
    """A registered dock needs its key file; recorded dockings need their store."""
    if refused is None:
        check_dock(state)
    else:
        with pytest.raises(refused):
            check_dock(state)
