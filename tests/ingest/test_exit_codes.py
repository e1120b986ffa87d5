"""The one table of exit codes: every error class of every package has its code, and an
unreachable catalog is 'temporarily unavailable' (4), not bad usage."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import i18n
from ingest.cli.main import build_parser
from ingest.errors import EXIT_CODES, EXIT_MEANINGS, FAILURES, exit_code_for

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ingest", "storage", "verify", "devices")

EXPECTED = {
    # ingest
    "ingest.errors.IngestError": 1,
    "ingest.errors.ConfigError": 2,
    "ingest.errors.UsageError": 2,
    "ingest.export.build.PackageIntegrityError": 1,  # a stored original is not what was logged
    "ingest.export.build.PackageRefused": 2,
    "ingest.export.requests.ApprovalDenied": 2,
    "ingest.export.requests.ExportRefused": 2,
    "ingest.cases.compliance.CaseNumberInvalid": 2,
    "ingest.errors.ToolMissing": 2,
    "ingest.errors.DataDirError": 2,
    "ingest.errors.NoCatalog": 2,
    "ingest.errors.StoreMissing": 2,
    "ingest.errors.DockKeyMissing": 2,
    "ingest.errors.FixityRefused": 2,  # failed fixity used without a recorded override
    "ingest.pipeline.acquire.SourceChanged": 1,
    "ingest.pipeline.acquire.ReadError": 1,
    "ingest.pipeline.acquire.ReadBackMismatch": 1,
    "ingest.pipeline.acquire.StagingReadError": 1,  # the evidence disk failed the read-back
    "ingest.pipeline.acquire.Abandoned": 1,
    "ingest.pipeline.acquire.WriteError": 1,
    "ingest.cli.catalog.MigrationFailed": 1,
    "ingest.media.transcode.TranscodeError": 1,
    "ingest.media.transcode.TranscodeStopped": 1,
    "ingest.jobs.proxies.ProxyError": 1,
    "ingest.jobs.proxies.NotMediaContainer": 1,
    # storage
    "storage.errors.StorageError": 2,
    "storage.errors.CatalogUnavailable": 4,
    "storage.errors.CatalogDiskError": 4,  # the SQLite catalog's disk full or failing
    "storage.errors.CatalogRefused": 2,  # a record beyond a limit of the database: bad input
    "storage.errors.CatalogTooNew": 2,  # a catalog of a newer release: never downgraded
    "storage.errors.NotFound": 2,
    "storage.errors.AlreadyExists": 2,
    "storage.errors.StoreIntegrityError": 1,
    "storage.errors.S3IntegrityError": 1,
    "storage.errors.StoreWriteError": 2,
    "storage.errors.S3Unavailable": 4,
    "storage.errors.S3ConfigError": 2,
    "storage.catalog.jobs.LeaseLost": 2,
    "storage.catalog.migrate.MigrateRefused": 2,
    "storage.catalog.migrate.MigrateFailed": 2,  # always told as MigrationFailed (1)
    # verify
    "verify.errors.VerifyError": 1,
    "verify.errors.SigningKeyError": 1,
    "verify.proofs.CustodyProofError": 1,
    # devices
    "devices.errors.DeviceError": 2,
    "devices.errors.NotADeviceRoot": 2,
    "devices.errors.UnsafeEntry": 2,
    "devices.profiles.ProfileError": 2,
    "devices.mounts.MountError": 2,
    "ingest.cases.agreement.CatalogDisagrees": 1,  # the catalog disagrees with its log
    "ingest.cases.archive.ArchiveRefused": 2,  # gaps or an incomplete file: say why, or fix
    "ingest.cli.actor.AccessRefused": 2,  # a person's role or the level refuses it (issue 16)
}


def _every_error_class() -> dict[str, type[Exception]]:
    """Each subclass of the four error roots, after importing every module of the packages."""
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not info.name.endswith("__main__"):
                importlib.import_module(info.name)
    found: dict[str, type[Exception]] = {}
    todo: list[type[Exception]] = list(FAILURES)
    while todo:
        cls = todo.pop()
        found[f"{cls.__module__}.{cls.__qualname__}"] = cls
        todo.extend(cls.__subclasses__())
    return found


def test_every_error_class_of_every_package_has_its_exit_code() -> None:
    """The table gives each error class of ingest, storage, verify and devices its code; a new
    error class must be added here, which makes its exit code a decision."""
    classes = _every_error_class()
    assert sorted(classes) == sorted(EXPECTED)
    got = {name: exit_code_for(cls("x")) for name, cls in classes.items()}
    assert got == EXPECTED


def test_every_error_has_a_code_and_a_hint() -> None:
    """Whatever the CLI catches as one of ours says what it is and what to do."""
    for name, cls in _every_error_class().items():
        err = cls("x")
        code, hint = str(getattr(err, "code", "")), str(getattr(err, "hint", ""))
        assert code and code == code.lower() and " " not in code, name
        assert hint.strip(), name


def test_every_exit_code_has_one_meaning_listed_in_the_help() -> None:
    """Codes 0-4 mean what design.md and the README say; 'evidock --help' lists them."""
    assert set(EXIT_CODES.values()) <= set(EXIT_MEANINGS)
    assert sorted(EXIT_MEANINGS) == [0, 1, 2, 3, 4]
    assert EXIT_MEANINGS[4].startswith("temporarily unavailable")
    text = " ".join(build_parser().format_help().split())
    for code, meaning in EXIT_MEANINGS.items():
        assert f"{code} {' '.join(meaning.split())}" in text
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert (
        "4 temporarily unavailable: the catalog or the store could not be reached; try again"
        in readme
    )


def test_the_help_explains_the_exit_codes_in_the_readers_language() -> None:
    """Under zh, 'evidock --help' says what each exit code means in Chinese (issue 20)."""
    with i18n.speaking("zh"):
        text = " ".join(build_parser().format_help().split())
    assert "4 暂时不可用：无法连接目录库或存储库；请稍后重试" in text
    assert "2 用法或输入有误（按提示信息处理）" in text
    assert "temporarily unavailable" not in text


def test_an_error_of_no_package_is_an_internal_failure() -> None:
    """Anything that is not one of ours exits 1 (and main says 'internal error')."""
    assert exit_code_for(RuntimeError("boom")) == 1
    assert exit_code_for(KeyError("k")) == 1


def test_an_unreachable_catalog_exits_4_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    """A PostgreSQL catalog nobody answers for: exit 4 (try again), the reason and a hint."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env |= {
        "EVIDOCK_HOME": str(home),
        "EVIDOCK_DOCK_NAME": "dock-cli",
        "EVIDOCK_CATALOG_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x",
    }
    for argv in (["items"], ["items", "--json"], ["--json", "device", "list"]):
        p = subprocess.run(
            [sys.executable, "-m", "ingest.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert p.returncode == 4, (argv, p.stdout, p.stderr)
        assert p.stdout == ""
        first, hint = p.stderr.splitlines()
        assert first.startswith("evidock: cannot open the catalog: ")
        assert first.endswith("[catalog-unavailable]") and "127.0.0.1" in first
        assert hint.startswith("hint: Check catalog_url")
        assert "Traceback" not in p.stderr
