"""The pyudev adapter: USB block devices in, plain records out. Nothing else imports pyudev.

The observer thread only enqueues (through the callback it is given); deciding what to do with
a device happens elsewhere, on plain ``UdevEvent`` records that tests build from recorded
``udevadm info --query=property`` dumps of real devices.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyudev

from devices.profiles import UsbProps

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class UdevEvent:
    action: str
    props: UsbProps


def parse_property_dump(text: str) -> dict[str, str]:
    """``udevadm info --query=property`` (or ``-q all``'s 'E:' lines) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("E: "):
            line = line[3:]
        elif line[:2] in ("P:", "N:", "S:", "L:", "W:") or not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            out[key] = value
    return out


def props_from_mapping(m: Mapping[str, str]) -> UsbProps:
    return UsbProps(
        devnode=m.get("DEVNAME", ""),
        devtype=m.get("DEVTYPE", ""),
        bus=m.get("ID_BUS", ""),
        vendor_id=m.get("ID_VENDOR_ID", "").lower(),
        model_id=m.get("ID_MODEL_ID", "").lower(),
        vendor=m.get("ID_VENDOR", ""),
        model=m.get("ID_MODEL", ""),
        serial_short=m.get("ID_SERIAL_SHORT", ""),
        fs_type=m.get("ID_FS_TYPE", ""),
        fs_label=m.get("ID_FS_LABEL", ""),
        fs_usage=m.get("ID_FS_USAGE", ""),
        usb_driver=m.get("ID_USB_DRIVER", ""),
    )


def is_usb_filesystem(props: UsbProps) -> bool:
    """A USB mass-storage block device that carries a file system (partition or superfloppy)."""
    return (
        props.bus == "usb"
        and props.devtype in ("partition", "disk")
        and props.fs_usage == "filesystem"
        and bool(props.fs_type)
    )


class UdevSource:
    """Watches udev for block devices; ``on_event`` must only enqueue."""

    def __init__(self, on_event: Callable[[UdevEvent], None]) -> None:
        self._on_event = on_event
        self._observer: Any = None

    def existing(self) -> list[UdevEvent]:
        """Block devices already present when the daemon starts (docked before it ran)."""
        ctx = pyudev.Context()
        events = []
        for dev in ctx.list_devices(subsystem="block"):
            props = props_from_mapping(dict(dev.properties))
            if is_usb_filesystem(props):
                events.append(UdevEvent(action="add", props=props))
        return events

    def start(self) -> None:
        ctx = pyudev.Context()
        monitor = pyudev.Monitor.from_netlink(ctx)
        monitor.filter_by(subsystem="block")

        def callback(device: Any) -> None:
            props = props_from_mapping(dict(device.properties))
            self._on_event(UdevEvent(action=str(device.action), props=props))

        self._observer = pyudev.MonitorObserver(monitor, callback=callback, name="evidock-udev")
        self._observer.start()

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.send_stop()
            self._observer.join(timeout=5)
            self._observer = None
