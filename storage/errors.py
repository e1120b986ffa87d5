"""Errors of the storage subsystem: each carries a stable code and a hint for the operator.

Messages and hints are English in the source and go through the catalog (issue 20): a class
``hint`` is marked with ``N_`` (the CLI shows ``_(e.hint)`` in the reader's language), a
message or ``hint=`` given where the error is raised is ``_()``-ed there. ``code`` stays as
it is: programs and the journal read it.
"""

from __future__ import annotations

from i18n import N_


class StorageError(Exception):
    """Base of every storage failure: ``code`` is stable kebab-case, ``hint`` says what to do."""

    code = "storage-error"
    hint = N_("Check the data directory and the catalog URL.")

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class CatalogUnavailable(StorageError):
    code = "catalog-unavailable"
    hint = N_("Check catalog_url in the configuration and that the database server is running.")


class CatalogDiskError(CatalogUnavailable):
    """The disk under a SQLite catalog is full or fails (SQLite's ``SQLITE_FULL`` and
    ``SQLITE_IOERR``: ENOSPC, EIO). The transaction was rolled back whole; like any outage of
    the catalog it passes once the disk is mended (exit 4), but the operator must act."""

    code = "catalog-disk"
    hint = N_(
        "Free space on the catalog's disk, or check the disk's health, then run the command "
        "again: nothing was half-recorded, and what was not recorded stays on the device."
    )


class CatalogRefused(StorageError):
    """The catalog's database refused a write for a reason that trying again cannot change (a
    limit of the database: PostgreSQL's SQLSTATE class 54). Unlike ``CatalogUnavailable``,
    nobody should wait for it to pass: a file it hit stays on the device as failed, and the
    dock does not offer the device again for it."""

    code = "catalog-refused"
    hint = N_(
        "Nothing was recorded, and trying again gives the same answer: report the message "
        "(it names the database's limit) to whoever maintains evidock."
    )


class CatalogTooNew(StorageError):
    """The catalog's schema revision is one this evidock does not know: a newer release wrote
    it. Opening it would be a downgrade, which evidock never does (exit 2)."""

    code = "catalog-too-new"
    hint = N_(
        "Install the evidock release that wrote this catalog, or a newer one: an older "
        "evidock never opens a newer catalog."
    )


class NotFound(StorageError):
    code = "not-found"
    hint = N_(
        "List what exists with 'evidock items', 'evidock device list' or 'evidock officer list'."
    )


class AlreadyExists(StorageError):
    code = "already-exists"
    hint = N_("Use the existing record, or choose another identifier.")


class StoreIntegrityError(StorageError):
    """Bytes in a blob store do not match the hash they are filed under."""

    code = "store-integrity"
    hint = N_(
        "Do not repair the object: run 'evidock verify' and report the item to the custodian."
    )


class StoreWriteError(StorageError):
    code = "store-write"
    hint = N_(
        "Check free space, permissions and the health of the store's disk; nothing was recorded."
    )


class S3Unavailable(StorageError):
    """The object store cannot be reached now (network, endpoint down, throttled)."""

    code = "s3-unavailable"
    hint = N_(
        "Items stay in the local spool and are uploaded when the object store is back; "
        "check the endpoint URL and the network."
    )


class S3ConfigError(StorageError):
    """The bucket or the credentials are not what the configuration asks for."""

    code = "s3-config"
    hint = N_("Fix the [s3] section of the configuration or the bucket, then start again.")


class S3IntegrityError(StoreIntegrityError):
    """The object store reports bytes, a checksum, a version or a lock we did not send."""

    code = "s3-integrity"
    hint = N_(
        "The item stays pending and the upload is retried; if it persists, run "
        "'evidock verify --full' and report the object to the custodian."
    )
