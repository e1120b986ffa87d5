"""Errors of the ingest subsystem and the one table that maps every error to an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # an integrity or ingest failure was found
EXIT_USAGE = 2  # bad usage or bad input
EXIT_OVERDUE = 3  # overdue --fail-on-overdue found something


class IngestError(Exception):
    code = "ingest-error"
    hint = "See the log lines above; nothing was recorded as verified."
    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(IngestError):
    code = "bad-config"
    hint = "Fix the configuration file (see the README, 'Configuration')."
    exit_code = EXIT_USAGE


class UsageError(IngestError):
    code = "bad-usage"
    hint = "Run 'evidock --help' for the commands and their options."
    exit_code = EXIT_USAGE


class ToolMissing(IngestError):
    code = "tool-missing"
    hint = "Install it: apt-get install ffmpeg libimage-exiftool-perl (or run 'make demo')."
    exit_code = EXIT_USAGE


class DataDirError(IngestError):
    """The data directory is not one this command may use: nothing was created or changed."""

    code = "bad-data-dir"
    hint = "Check EVIDOCK_HOME (or data_dir in the configuration); 'evidock init' makes a new one."
    exit_code = EXIT_USAGE


class NoCatalog(DataDirError):
    """No data directory, no catalog in it, or a database without evidock's schema."""

    code = "no-catalog"


class StoreMissing(DataDirError):
    """The catalog records evidence in a local store that is not there (an unmounted disk)."""

    code = "store-missing"


class DockKeyMissing(DataDirError):
    """The catalog has this dock registered, but its signing key file is gone."""

    code = "dock-key-missing"
