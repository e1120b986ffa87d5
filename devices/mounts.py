"""Read-only mounting of a docked medium. The plan is pure; running it is a thin seam.

Options: ro,nosuid,nodev,noexec,nosymfollow (+ noload for ext3/ext4, so no journal replay
writes to the medium); the block device is set read-only first. A medium that is already
mounted is used where it is. Never fsck, never write.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devices.errors import DeviceError
from devices.profiles import UsbProps
from i18n import N_, _

logger = logging.getLogger(__name__)

BASE_OPTIONS = ("ro", "nosuid", "nodev", "noexec", "nosymfollow")
ALLOWED_FS = {
    "vfat": (),
    "exfat": (),
    "ntfs": (),
    "ntfs3": (),
    "ext2": (),
    "ext3": ("noload",),
    "ext4": ("noload",),
    "udf": (),
    "iso9660": (),
}

Runner = Callable[[Sequence[str]], None]


class MountError(DeviceError):
    code = "mount-failed"
    hint = N_("The device stays untouched; re-dock it, and check 'journalctl -u evidock-dock'.")


@dataclass(frozen=True, slots=True, kw_only=True)
class MountPlan:
    devnode: str
    target: Path
    fstype: str
    options: tuple[str, ...]

    def commands(self) -> list[list[str]]:
        return [
            ["blockdev", "--setro", self.devnode],
            [
                "mount",
                "-t",
                self.fstype,
                "-o",
                ",".join(self.options),
                "--",
                self.devnode,
                str(self.target),
            ],
        ]


def plan_mount(props: UsbProps, mount_root: Path) -> MountPlan:
    """Where and how to mount; the folder name comes from the kernel's device name only."""
    fstype = props.fs_type
    if fstype not in ALLOWED_FS:
        raise MountError(
            _("{device}: file system {fstype} is not one evidock mounts").format(
                device=props.devnode, fstype=repr(fstype)
            )
        )
    name = Path(props.devnode).name
    if not name or not name.replace("-", "").isalnum():
        raise MountError(
            _("unexpected device node name {device}").format(device=repr(props.devnode))
        )
    return MountPlan(
        devnode=props.devnode,
        target=mount_root / name,
        fstype=fstype,
        options=BASE_OPTIONS + ALLOWED_FS[fstype],
    )


# mount(8) refuses a user who is not root even with CAP_SYS_ADMIN (libmount's restricted
# mode). The dock service runs as the evidock user with CAP_SETUID/CAP_SETGID/CAP_SYS_ADMIN as
# ambient capabilities (systemd/evidock-dock.service): only these commands become uid 0, and
# they keep no more capabilities than the service's bounding set.
AS_ROOT = ("setpriv", "--reuid=0", "--regid=0", "--clear-groups", "--")


def privileged(cmd: Sequence[str], euid: int) -> list[str]:
    """``cmd`` as it must be run by a process of user ``euid`` to act as root."""
    return list(cmd) if euid == 0 else [*AS_ROOT, *cmd]


def _run(cmd: Sequence[str]) -> None:
    proc = subprocess.run(
        privileged(cmd, os.geteuid()), capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise MountError(
            _("{command} failed: {error}").format(
                command=" ".join(cmd), error=proc.stderr.strip() or proc.returncode
            )
        )


def existing_mount(devnode: str, mounts_text: str) -> Path | None:
    """Where ``devnode`` is mounted already, from /proc/self/mounts text (octal escapes)."""
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == devnode:
            return Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1]))
    return None


class Mounter:
    """Runs mount plans; ``run`` and ``mounts_file`` are seams for tests."""

    def __init__(
        self,
        mount_root: Path,
        *,
        run: Runner = _run,
        mounts_file: Path = Path("/proc/self/mounts"),
    ) -> None:
        self.mount_root = mount_root
        self._run = run
        self._mounts_file = mounts_file

    def mount(self, props: UsbProps) -> tuple[Path, bool]:
        """Mount read-only (or find it mounted). Returns (root, mounted_by_us)."""
        already = existing_mount(props.devnode, self._mounts_file.read_text())
        if already is not None:
            logger.info("medium already mounted devnode=%s at=%s", props.devnode, already)
            return already, False
        plan = plan_mount(props, self.mount_root)
        plan.target.mkdir(parents=True, exist_ok=True, mode=0o700)
        for cmd in plan.commands():
            self._run(cmd)
        return plan.target, True

    def unmount(self, target: Path) -> None:
        self._run(["umount", "--", str(target)])
        try:
            target.rmdir()
        except OSError:
            logger.warning("mount point not removed path=%s", target)
