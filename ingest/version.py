"""Which evidock this is: the version of the installed distribution and, when known, the git
commit it was built from (``evidock --version``, the ``evidock_build_info`` metric).

The commit comes from ``ingest/build-commit``, written into the package by ``make deb``; in a
git checkout (``pip install -e``) it is asked of git. Neither is an error when absent.
"""

from __future__ import annotations

import functools
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

_HERE = Path(__file__).resolve().parent
COMMIT_FILE = _HERE / "build-commit"


def release() -> str:
    """The installed distribution's version (pyproject.toml), or "unknown"."""
    try:
        return version("evidock")
    except PackageNotFoundError:
        return "unknown"


@functools.cache
def commit() -> str:
    """The short git commit of the build, or "" when nobody recorded one."""
    try:
        recorded = COMMIT_FILE.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        recorded = ""
    if recorded:
        return recorded
    if not (_HERE.parent / ".git").exists():
        return ""
    try:
        proc = subprocess.run(
            ["git", "-C", str(_HERE.parent), "rev-parse", "--short=12", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def describe() -> str:
    """``0.2.0`` or ``0.2.0 (commit 1a2b3c4d5e6f)``."""
    c = commit()
    return f"{release()} (commit {c})" if c else release()
