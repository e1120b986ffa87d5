"""Errors of the verify subsystem."""

from __future__ import annotations

from i18n import N_


class VerifyError(Exception):
    code = "verify-error"
    hint = N_("Run 'evidock verify' and hand the report to the evidence custodian.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class SigningKeyError(VerifyError):
    code = "bad-signing-key"
    hint = N_("Restore the dock's key file from its backup, or give this dock a new name.")
