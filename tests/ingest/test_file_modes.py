"""What evidock makes in its data directory is not for others on the host (issue 16): folders
0750, files 0640 (stored objects and checkpoints 0440), signing keys 0600, whatever the umask
of the shell that started it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


def _evidock(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDOCK_")}
    env |= {"EVIDOCK_HOME": str(home), "EVIDOCK_DOCK_NAME": "dock-modes"}
    return subprocess.run(
        [sys.executable, "-m", "ingest.cli.main", *args],
        env=env, capture_output=True, text=True, timeout=300,
        preexec_fn=lambda: os.umask(0o022),  # a usual login shell's umask
    )  # fmt: skip


def test_nothing_in_the_data_dir_is_readable_by_others(tmp_path: Path, camera: Path) -> None:
    """init, ingest, the proxies and a checkpoint: no file or folder has a bit for others,
    the catalog is 0640, the keys 0600 in a 0700 folder, stored objects 0440."""
    home = tmp_path / "home"
    for args in (("init",), ("ingest", str(camera), "--device", "BWC-M"),
                 ("worker", "--drain"), ("checkpoint",)):  # fmt: skip
        p = _evidock(home, *args)
        assert p.returncode == 0, (args, p.stderr)
    modes: dict[str, int] = {}
    for folder, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            modes[str(path.relative_to(home))] = stat.S_IMODE(path.lstat().st_mode)
    assert stat.S_IMODE(home.stat().st_mode) & 0o007 == 0
    readable = {name: f"{mode:o}" for name, mode in modes.items() if mode & 0o007}
    assert not readable, readable
    assert modes["catalog.db"] == 0o640
    assert modes["keys/dock-modes.key"] == 0o600
    objects = [m for n, m in modes.items() if n.startswith("store/sha256/") and len(n) > 80]
    derived = [m for n, m in modes.items() if n.startswith("store/derived/") and len(n) > 80]
    assert len(objects) == 4 and set(objects) == {0o440}
    assert derived and set(derived) == {0o440}
    assert modes["keys"] == 0o700
    assert {m for n, m in modes.items() if (home / n).is_dir() and n != "keys"} == {0o750}
