"""Errors of the ingest subsystem and the one table that maps every error to an exit code.

Each subsystem has one error base with a stable kebab-case ``code`` and a ``hint`` that says
what to do: ``IngestError`` here, ``StorageError``, ``VerifyError`` and ``DeviceError`` in
theirs (the lower layers cannot import this module). ``FAILURES`` names those four roots;
``EXIT_CODES`` is the only place where an error class becomes an exit code: an error takes
the code of its nearest class in the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from devices.errors import DeviceError
from i18n import N_
from storage.errors import CatalogUnavailable, S3Unavailable, StorageError, StoreIntegrityError
from verify.errors import VerifyError

EXIT_OK = 0
EXIT_FAILURE = 1  # an integrity or ingest failure was found
EXIT_USAGE = 2  # bad usage or bad input
EXIT_OVERDUE = 3  # overdue --fail-on-overdue found something
EXIT_UNAVAILABLE = 4  # the catalog or the object store could not be reached (EX_TEMPFAIL-like)

EXIT_MEANINGS: Final[Mapping[int, str]] = MappingProxyType(
    {
        EXIT_OK: N_("success"),
        EXIT_FAILURE: N_("an integrity or ingest failure was found"),
        EXIT_USAGE: N_("bad usage or bad input (the message says what to do)"),
        EXIT_OVERDUE: N_("overdue --fail-on-overdue found something"),
        EXIT_UNAVAILABLE: N_(
            "temporarily unavailable: the catalog or the store could not be reached; try again"
        ),
    }
)
"""What each exit code means, for ``evidock --help`` (marked: shown with ``_()``)."""


class IngestError(Exception):
    code = "ingest-error"
    hint = N_("See the log lines above; nothing was recorded as verified.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(IngestError):
    code = "bad-config"
    hint = N_("Fix the configuration file (see the README, 'Configuration').")


class UsageError(IngestError):
    code = "bad-usage"
    hint = N_("Run 'evidock --help' for the commands and their options.")


class ToolMissing(IngestError):
    code = "tool-missing"
    hint = N_("Install it: apt-get install ffmpeg libimage-exiftool-perl (or run 'make demo').")


class FixityRefused(UsageError):
    """An item whose stored bytes failed their last fixity check, used without an override."""

    code = "fixity-failed"


class DataDirError(IngestError):
    """The data directory is not one this command may use: nothing was created or changed."""

    code = "bad-data-dir"
    hint = N_(
        "Check EVIDOCK_HOME (or data_dir in the configuration); 'evidock init' makes a new one."
    )


class NoCatalog(DataDirError):
    """No data directory, no catalog in it, or a database without evidock's schema."""

    code = "no-catalog"


class StoreMissing(DataDirError):
    """The catalog records evidence in a local store that is not there (an unmounted disk)."""

    code = "store-missing"


class DockKeyMissing(DataDirError):
    """The catalog has this dock registered, but its signing key file is gone."""

    code = "dock-key-missing"


Failure = IngestError | StorageError | VerifyError | DeviceError
"""An error of ours: it has a ``code`` and a ``hint``, and ``EXIT_CODES`` knows it."""

FAILURES: Final = (IngestError, StorageError, VerifyError, DeviceError)

EXIT_CODES: Final[Mapping[type[Exception], int]] = MappingProxyType(
    {
        # ingest: a failed ingest is 1; what the operator typed or configured is 2
        IngestError: EXIT_FAILURE,
        ConfigError: EXIT_USAGE,
        UsageError: EXIT_USAGE,
        ToolMissing: EXIT_USAGE,
        DataDirError: EXIT_USAGE,
        # storage: bytes that do not match their hash are 1; an outage is 4; the rest is 2
        StorageError: EXIT_USAGE,
        StoreIntegrityError: EXIT_FAILURE,
        CatalogUnavailable: EXIT_UNAVAILABLE,
        S3Unavailable: EXIT_UNAVAILABLE,
        # verify: an integrity failure
        VerifyError: EXIT_FAILURE,
        # devices: a device or folder that cannot be read as given
        DeviceError: EXIT_USAGE,
    }
)


def exit_code_for(err: BaseException) -> int:
    """The exit code of ``err``: that of its nearest class in ``EXIT_CODES``; anything else
    (an internal error) is 1."""
    for cls in type(err).__mro__:
        code = EXIT_CODES.get(cls)
        if code is not None:
            return code
    return EXIT_FAILURE
