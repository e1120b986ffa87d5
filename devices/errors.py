"""Errors of the devices subsystem."""

from __future__ import annotations


class DeviceError(Exception):
    code = "device-error"
    hint = "Check that the device is docked and mounted, then try again."

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class NotADeviceRoot(DeviceError):
    code = "bad-device-root"
    hint = "Give the folder where the device is mounted (a directory, not a file or a link)."


class UnsafeEntry(DeviceError):
    """A device entry changed between listing and opening, or is not a regular file."""

    code = "unsafe-entry"
    hint = "Leave the device docked; the file stays on it and is listed with its reason."
