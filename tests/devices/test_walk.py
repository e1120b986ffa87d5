"""Walking an untrusted device tree: regular files only, nothing followed, names kept."""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.errors import NotADeviceRoot, UnsafeEntry
from devices.walk import FileEntry, Listing, open_file, open_root, walk
from tests.devices.deeptree import chain_path, make_chain, removed_after


@pytest.fixture
def device(tmp_path: Path) -> Path:
    root = tmp_path / "dev"
    (root / "DCIM").mkdir(parents=True)
    (root / "DCIM" / "a.mp4").write_bytes(b"a" * 10)
    return root


def _listing(root: Path) -> Listing:
    fd = open_root(root)
    try:
        return walk(fd)
    finally:
        os.close(fd)


def test_symlinks_are_listed_as_anomalies_and_never_followed(device: Path, tmp_path: Path) -> None:
    """A link to a file or folder outside the device is recorded, not read or entered."""
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd").write_text("root:x")
    os.symlink(outside / "passwd", device / "DCIM" / "link.mp4")
    os.symlink(outside, device / "escape")
    listing = _listing(device)
    assert [f.path for f in listing.files] == [b"DCIM/a.mp4"]
    assert {(a.path, a.kind) for a in listing.anomalies} == {
        (b"DCIM/link.mp4", "symlink"),
        (b"escape", "symlink"),
    }


def test_fifo_is_an_anomaly_and_does_not_block(device: Path) -> None:
    """A named pipe is reported with a reason; the walk never opens it."""
    os.mkfifo(device / "pipe")
    listing = _listing(device)
    assert [(a.path, a.kind) for a in listing.anomalies] == [(b"pipe", "fifo")]
    assert "pipe" in listing.anomalies[0].reason


def test_names_that_are_not_utf8_are_kept_as_bytes(device: Path) -> None:
    """A GBK-encoded name survives byte for byte; only its display form is escaped."""
    raw = "执法记录.mp4".encode("gbk")
    with open(os.path.join(os.fsencode(device), raw), "wb") as f:
        f.write(b"x")
    listing = _listing(device)
    entry = next(f for f in listing.files if f.path == raw)
    assert "\\x" in entry.display
    fd = open_root(device)
    try:
        src = open_file(fd, entry)
        assert os.read(src, 10) == b"x"
        os.close(src)
    finally:
        os.close(fd)


def test_file_replaced_by_a_symlink_after_listing_is_refused(device: Path, tmp_path: Path) -> None:
    """Between listing and opening the device swapped the file for a link: not opened."""
    listing = _listing(device)
    target = device / "DCIM" / "a.mp4"
    target.unlink()
    (tmp_path / "other").write_bytes(b"other")
    os.symlink(tmp_path / "other", target)
    fd = open_root(device)
    try:
        with pytest.raises(UnsafeEntry):
            open_file(fd, listing.files[0])
    finally:
        os.close(fd)


def test_file_replaced_by_another_file_after_listing_is_refused(device: Path) -> None:
    """Same name, different inode: not the file that was listed."""
    listing = _listing(device)
    target = device / "DCIM" / "a.mp4"
    target.unlink()
    target.write_bytes(b"b" * 10)
    fd = open_root(device)
    try:
        with pytest.raises(UnsafeEntry):
            open_file(fd, listing.files[0])
    finally:
        os.close(fd)


def test_folder_swapped_for_a_symlink_after_listing_is_refused(
    device: Path, tmp_path: Path
) -> None:
    """A directory replaced by a link to elsewhere is not traversed when opening."""
    listing = _listing(device)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.mp4").write_bytes(b"a" * 10)
    os.rename(device / "DCIM", tmp_path / "moved")
    os.symlink(elsewhere, device / "DCIM")
    fd = open_root(device)
    try:
        with pytest.raises(UnsafeEntry):
            open_file(fd, listing.files[0])
    finally:
        os.close(fd)


def test_root_that_is_a_symlink_or_missing_is_refused(device: Path, tmp_path: Path) -> None:
    """The mount point itself must be a real directory."""
    os.symlink(device, tmp_path / "link")
    with pytest.raises(NotADeviceRoot, match="symbolic link"):
        open_root(tmp_path / "link")
    with pytest.raises(NotADeviceRoot, match="does not exist"):
        open_root(tmp_path / "nope")
    with pytest.raises(NotADeviceRoot, match="not a directory"):
        open_root(device / "DCIM" / "a.mp4")


def test_unreadable_folder_is_an_anomaly(device: Path) -> None:
    """A folder the dock cannot list is recorded, and the rest of the device is still walked."""
    locked = device / "locked"
    locked.mkdir()
    locked.chmod(0)
    if os.geteuid() != 0:
        listing = _listing(device)
        locked.chmod(0o755)
        assert [(a.path, a.kind) for a in listing.anomalies] == [(b"locked", "unreadable")]
        return
    root_fd = open_root(device)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop root (root reads every folder), walk the already-open root
        try:
            os.setgid(65534)
            os.setuid(65534)
            listing = walk(root_fd)
            os.write(write_end, pickle.dumps(listing))
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    os.close(root_fd)
    locked.chmod(0o755)
    listing = pickle.loads(data)
    assert [(a.path, a.kind) for a in listing.anomalies] == [(b"locked", "unreadable")]
    assert [f.path for f in listing.files] == [b"DCIM/a.mp4"]


def test_another_file_system_mounted_inside_the_device_is_not_entered(device: Path) -> None:
    """A mount point below the device root is recorded and never walked into."""
    import subprocess

    inner = device / "inner"
    inner.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "evidock-test", str(inner)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (inner / "planted.mp4").write_bytes(b"p")
        listing = _listing(device)
    finally:
        subprocess.run(["umount", str(inner)], check=True)
    assert [f.path for f in listing.files] == [b"DCIM/a.mp4"]
    assert [(a.path, a.kind) for a in listing.anomalies] == [(b"inner", "mount-point")]


@contextlib.contextmanager
def _fd_headroom(extra: int) -> Iterator[None]:
    """At most ``extra`` more fds may be open in this process while the block runs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(n) for n in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1 + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_tree_1200_folders_deep_yields_the_files_within_bounds_and_one_reason_for_the_rest(
    tmp_path: Path,
) -> None:
    """No recursion and at most one open folder per level entered: the files down to max_depth
    are listed, the first folder beyond it is one 'too-deep' anomaly, nothing is raised."""
    root = tmp_path / "dev"
    files = {0: ("top.mp4", b"t"), 3: ("near.mp4", b"n"), 64: ("edge.mp4", b"e"),
             65: ("beyond.mp4", b"b"), 1100: ("deep.mp4", b"x")}  # fmt: skip
    make_chain(root, 1200, files)
    with removed_after(root):
        fd = open_root(root)
        try:
            with _fd_headroom(80):  # 64 levels and a listing, never 1200
                listing = walk(fd)
        finally:
            os.close(fd)
    assert [f.path for f in listing.files] == [
        chain_path(64) + b"/edge.mp4",
        chain_path(3) + b"/near.mp4",
        b"top.mp4",
    ]
    assert [(a.path, a.kind) for a in listing.anomalies] == [(chain_path(65), "too-deep")]
    assert listing.anomalies[0].reason == (
        "folder more than 64 levels deep: not entered, what it holds stays on the device "
        "(the limit is [dock] max_depth)"
    )


def test_walk_stops_after_max_entries_and_names_where_it_stopped(tmp_path: Path) -> None:
    """Past the entry limit nothing more is listed; one 'too-many-entries' anomaly says where
    the listing stopped (entries are taken in name order, depth first)."""
    root = tmp_path / "dev"
    (root / "A").mkdir(parents=True)
    for name in ("1.mp4", "2.mp4", "3.mp4"):
        (root / "A" / name).write_bytes(b"x")
    for name in ("B.mp4", "C.mp4"):
        (root / name).write_bytes(b"y")
    listing = _bounded(root, max_entries=3)
    assert [f.path for f in listing.files] == [b"A/1.mp4", b"A/2.mp4"]
    assert [(a.path, a.kind) for a in listing.anomalies] == [(b"A/3.mp4", "too-many-entries")]
    assert "more than 3 entries" in listing.anomalies[0].reason
    assert [f.path for f in _bounded(root, max_entries=6).files] == [
        b"A/1.mp4", b"A/2.mp4", b"A/3.mp4", b"B.mp4", b"C.mp4",
    ]  # fmt: skip


def test_walk_with_a_small_max_depth_reports_each_folder_it_does_not_enter(tmp_path: Path) -> None:
    """Every folder just beyond the depth limit is its own anomaly; files above it are taken."""
    root = tmp_path / "dev"
    (root / "DCIM" / "100MEDIA" / "deeper").mkdir(parents=True)
    (root / "DCIM" / "other").mkdir()
    (root / "DCIM" / "a.mp4").write_bytes(b"a")
    (root / "DCIM" / "100MEDIA" / "b.mp4").write_bytes(b"b")
    listing = _bounded(root, max_depth=1)
    assert [f.path for f in listing.files] == [b"DCIM/a.mp4"]
    assert [(a.path, a.kind) for a in listing.anomalies] == [
        (b"DCIM/100MEDIA", "too-deep"),
        (b"DCIM/other", "too-deep"),
    ]


def test_file_1200_folders_deep_opens_with_one_folder_open_at_a_time(tmp_path: Path) -> None:
    """open_file goes down component by component without holding every folder open."""
    root = tmp_path / "dev"
    make_chain(root, 1200, {1200: ("deep.mp4", b"deep")})
    with removed_after(root):
        fd = open_root(root)
        try:
            folder = fd
            for _ in range(1200):
                inner = os.open(b"d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder)
                if folder != fd:
                    os.close(folder)
                folder = inner
            st = os.stat(b"deep.mp4", dir_fd=folder)
            os.close(folder)
            entry = FileEntry(
                path=chain_path(1200) + b"/deep.mp4", size=st.st_size, mtime_ns=st.st_mtime_ns,
                dev=st.st_dev, ino=st.st_ino,
            )  # fmt: skip
            with _fd_headroom(8):
                src = open_file(fd, entry)
            try:
                assert os.read(src, 10) == b"deep"
            finally:
                os.close(src)
        finally:
            os.close(fd)


def _bounded(root: Path, **limits: int) -> Listing:
    fd = open_root(root)
    try:
        return walk(fd, **limits)
    finally:
        os.close(fd)
