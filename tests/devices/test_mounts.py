"""Read-only mounting: the plan is checked as data, the options against a real kernel mount."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devices.mounts import Mounter, MountError, existing_mount, plan_mount
from devices.udev import parse_property_dump, props_from_mapping

DATA = Path(__file__).resolve().parents[1] / "data" / "udev"
SONY = props_from_mapping(
    parse_property_dump((DATA / "sony-storage-media-part1.properties").read_text())
)


def test_plan_sets_the_device_read_only_then_mounts_with_every_safety_option(
    tmp_path: Path,
) -> None:
    """blockdev --setro first; ro,nosuid,nodev,noexec,nosymfollow; target from the kernel name."""
    plan = plan_mount(SONY, tmp_path)
    setro, mount = plan.commands()
    assert setro == ["blockdev", "--setro", "/dev/sdc1"]
    assert mount[:3] == ["mount", "-t", "vfat"]
    assert mount[4] == "ro,nosuid,nodev,noexec,nosymfollow"
    assert mount[-1] == str(tmp_path / "sdc1")


def test_ext4_is_mounted_without_journal_replay(tmp_path: Path) -> None:
    """noload keeps the kernel from writing a journal replay to the evidence medium."""
    import dataclasses

    plan = plan_mount(dataclasses.replace(SONY, fs_type="ext4"), tmp_path)
    assert "noload" in plan.options


def test_unknown_file_systems_are_not_mounted(tmp_path: Path) -> None:
    """Only file systems cameras use are mounted at all."""
    import dataclasses

    with pytest.raises(MountError, match="not one evidock mounts"):
        plan_mount(dataclasses.replace(SONY, fs_type="crypto_LUKS"), tmp_path)


def test_medium_already_mounted_is_used_where_it_is(tmp_path: Path) -> None:
    """A medium mounted by someone else is not mounted again, and nothing is run."""
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sdc1 /media/Sony\\0408Gb vfat ro,nosuid 0 0\n")
    ran: list[list[str]] = []
    root, ours = Mounter(tmp_path, run=lambda c: ran.append(list(c)), mounts_file=mounts).mount(
        SONY
    )
    assert (root, ours, ran) == (Path("/media/Sony 8Gb"), False, [])
    assert existing_mount("/dev/sdz", mounts.read_text()) is None


def test_the_options_really_make_a_mount_read_only_and_link_proof(tmp_path: Path) -> None:
    """On a real kernel mount the same options refuse writes and symlink traversal."""
    target = tmp_path / "m"
    target.mkdir()
    opts = ",".join(plan_mount(SONY, tmp_path).options)
    setup = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "evidock-src", str(target)], capture_output=True
    )
    if setup.returncode != 0:
        pytest.skip(f"cannot mount here: {setup.stderr.decode().strip()}")
    try:
        (target / "real.mp4").write_bytes(b"x")
        (target / "link.mp4").symlink_to(target / "real.mp4")
        remount = subprocess.run(
            ["mount", "-o", f"remount,{opts}", str(target)], capture_output=True
        )
        assert remount.returncode == 0, remount.stderr
        with pytest.raises(OSError):
            (target / "new.mp4").write_bytes(b"y")
        with pytest.raises(OSError):
            (target / "link.mp4").read_bytes()
        assert (target / "real.mp4").read_bytes() == b"x"
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_a_dock_that_is_not_root_mounts_through_setpriv_with_its_ambient_capabilities(
    tmp_path: Path,
) -> None:
    """mount(8) refuses the evidock user even with CAP_SYS_ADMIN; the same command prefixed by
    ``privileged`` mounts, from a process with only the capabilities the dock's unit grants."""
    import os

    from devices.mounts import privileged

    if os.geteuid() != 0:
        pytest.skip("needs root to start a process as another user with capabilities")
    target = tmp_path / "medium"
    target.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "ro,nosuid,nodev", "--", "none", str(target)]
    caps = "+sys_admin,+setuid,+setgid"
    as_dock = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
               f"--inh-caps={caps}", f"--ambient-caps={caps}", f"--bounding-set=-all,{caps}",
               "--no-new-privs"]  # fmt: skip
    plain = subprocess.run([*as_dock, *mount], capture_output=True, text=True, check=False)
    if "setpriv" in plain.stderr and plain.returncode != 32:
        pytest.skip(f"this container cannot grant capabilities: {plain.stderr.strip()}")
    assert plain.returncode != 0, "mount(8) no longer refuses a user who is not root"
    assert privileged(mount, 0) == mount
    done = subprocess.run([*as_dock, *privileged(mount, 65534)], capture_output=True, text=True,
                          check=False)  # fmt: skip
    if done.returncode != 0 and "permission denied" in done.stderr.lower():
        pytest.skip(f"this container may not mount: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    try:
        mounts = Path("/proc/self/mounts").read_text()
        assert any(
            line.split()[1] == str(target) and " ro," in line for line in mounts.splitlines()
        )
    finally:
        subprocess.run(["umount", "--", str(target)], check=True)
