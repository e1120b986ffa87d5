"""Hostile trees for tests: a chain of folders far deeper than Python's recursion limit.

Built and removed through folder fds, one level at a time (``shutil.rmtree`` and ``os.walk``
recurse, and would fail on the very trees these tests need).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

FOLDER = b"d"


def make_chain(top: Path, depth: int, files: Mapping[int, tuple[str, bytes]]) -> None:
    """``depth`` folders named ``d``, each inside the one before, below ``top``; ``files[n]``
    (name, content) is written in the folder ``n`` levels below ``top`` (0: ``top`` itself)."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for level in range(depth + 1):
            if level in files:
                name, content = files[level]
                out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
                try:
                    os.write(out, content)
                finally:
                    os.close(out)
            if level == depth:
                break
            os.mkdir(FOLDER, dir_fd=fd)
            inner = os.open(FOLDER, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def chain_path(levels: int) -> bytes:
    """The relative path of the folder ``levels`` deep in a chain."""
    return b"/".join([FOLDER] * levels)


def remove_tree(top: Path) -> None:
    """Delete a tree however deep (coreutils ``rm`` does not recurse on the stack)."""
    subprocess.run(["rm", "-rf", "--", str(top)], check=True)


@contextlib.contextmanager
def removed_after(*tops: Path) -> Iterator[None]:
    """Delete these trees when the test ends (pytest's own clean-up would recurse on them)."""
    try:
        yield
    finally:
        for top in tops:
            remove_tree(top)
