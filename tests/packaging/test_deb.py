"""The Debian package as an operator meets it: ``make deb`` builds it, lintian finds no error,
``apt-get install ./evidock_*.deb`` installs it, the installed program and units work, a
reinstall migrates the catalog, and a purge leaves the evidence in /var/lib/evidock.

Needs root and Debian's apt (the machines and CI are both); it purges what it installed."""

from __future__ import annotations

import glob
import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/var/lib/evidock")
UNITS = ["evidock-dock.service", "evidock-worker@.service", "evidock-audit.service",
         "evidock-audit.timer", "evidock-witness.service", "evidock-console.service"]  # fmt: skip

# Not beside other tests: while the package is installed, /etc/evidock/evidock.toml exists and
# every evidock started without EVIDOCK_CONFIG would read it. `make test` runs it on its own.
pytestmark = [pytest.mark.slow, pytest.mark.deb, pytest.mark.timeout(1800)]


def _sh(
    *cmd: str, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"} if env is None else env
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)  # fmt: skip


def _purge() -> None:
    _sh("apt-get", "purge", "-y", "-q", "evidock")


@pytest.fixture(scope="module")
def deb() -> Iterator[Path]:
    """evidock_<version>_<arch>.deb built by make deb; the package purged afterwards."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("building and installing the Debian package needs root and apt")
    _purge()  # a run that was interrupted
    built = _sh("make", "-C", str(ROOT), "deb", timeout=1200)
    assert built.returncode == 0, built.stdout[-4000:] + built.stderr[-4000:]
    [path] = glob.glob(str(ROOT / "evidock_*.deb"))
    yield Path(path)
    _purge()


def test_lintian_reports_no_error(deb: Path) -> None:
    """lintian's E: lines are errors (warnings are allowed, and listed on failure)."""
    p = _sh("lintian", "--no-tag-display-limit", str(deb), timeout=900)
    errors = [line for line in p.stdout.splitlines() if line.startswith("E:")]
    assert not errors, "\n".join(errors)


def test_installed_package_runs_keeps_its_units_valid_and_purge_keeps_the_evidence(
    deb: Path,
) -> None:
    """apt-get install ./evidock_*.deb; evidock --version; init as the evidock user (0640
    catalog, 0600 key); the units pass systemd-analyze verify; a reinstall runs the catalog
    upgrade; apt-get purge says it keeps /var/lib/evidock, and it is still there."""
    # as the README says (apt-get wants ./ for a local file: run from the folder of the .deb)
    installed = subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", f"./{deb.name}"],
        cwd=deb.parent, capture_output=True, text=True, timeout=900, check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    version = _sh("/usr/bin/evidock", "--version")
    assert version.returncode == 0 and version.stdout.startswith("evidock 0."), version
    assert "commit" in version.stdout  # make deb records the git commit
    # the compiled catalog is in the package: an office's dock speaks Chinese by default
    chinese = _sh("/usr/bin/evidock", "--help", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    assert chinese.returncode == 0 and "在标准输出打印一个 JSON 文档" in chinese.stdout, chinese
    assert stat.S_IMODE(DATA.stat().st_mode) == 0o750 and DATA.owner() == "evidock"

    init = _sh("runuser", "-u", "evidock", "--", "/usr/bin/evidock", "init")
    assert init.returncode == 0, init.stderr
    catalog = DATA / "catalog.db"
    assert catalog.owner() == "evidock" and stat.S_IMODE(catalog.stat().st_mode) == 0o640
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in (DATA / "keys").glob("*.key"))

    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        units = [f"/lib/systemd/system/{name}" for name in UNITS]
        p = _sh(analyze, "verify", *units, timeout=120)
        assert p.returncode == 0, p.stderr
        assert "evidock" not in p.stderr, p.stderr

    again = subprocess.run(["dpkg", "-i", deb.name], cwd=deb.parent, capture_output=True,
                           text=True, timeout=900, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "newest revision" in again.stdout + again.stderr  # postinst: catalog upgrade

    purged = _sh("apt-get", "purge", "-y", "-q", "evidock")
    assert purged.returncode == 0, purged.stderr
    assert "/var/lib/evidock" in purged.stdout + purged.stderr
    assert not Path("/usr/bin/evidock").exists() and not Path("/etc/evidock/evidock.toml").exists()
    assert catalog.is_file() and (DATA / "keys").is_dir()
