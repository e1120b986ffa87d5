"""Errors of the devices subsystem: a stable ``code`` and a ``hint`` for the operator.

As in ``storage.errors``: class hints are marked with ``N_`` and shown with ``_()``; messages
and hints given at the raise are ``_()``-ed there (issue 20).
"""

from __future__ import annotations

from i18n import N_


class DeviceError(Exception):
    code = "device-error"
    hint = N_("Check that the device is docked and mounted, then try again.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class NotADeviceRoot(DeviceError):
    code = "bad-device-root"
    hint = N_("Give the folder where the device is mounted (a directory, not a file or a link).")


class UnsafeEntry(DeviceError):
    """A device entry changed between listing and opening, or is not a regular file."""

    code = "unsafe-entry"
    hint = N_("Leave the device docked; the file stays on it and is listed with its reason.")
