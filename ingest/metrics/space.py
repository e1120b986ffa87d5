"""Free space where evidence and its catalog are written, at scrape time (issue 18).

``evidock_store_free_bytes``: free space of the file system of the local store (the staging
folder is on it too); ``evidock_catalog_free_bytes``: that of a SQLite catalog's folder (a
database server's catalog has no sample: its host is watched by its own exporter);
``evidock_store_free_alert_bytes``: ``[dock] alert_free_gib``, the room of one full camera,
below which the alert EvidockStoreNearlyFull fires (monitoring/alerts.yml compares the two,
so the threshold is configured where the dock is).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ingest.config import Settings
from ingest.metrics.prometheus import Family
from storage.catalog.migrate import sqlite_path

StatVfs = Callable[[Path], os.statvfs_result]


def free_bytes(path: Path, statvfs: StatVfs = os.statvfs) -> int | None:
    """Bytes an unprivileged writer may still use on the file system of ``path``."""
    try:
        st = statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def space_families(settings: Settings, *, statvfs: StatVfs = os.statvfs) -> list[Family]:
    dock = (settings.dock.name,)
    db = sqlite_path(settings.catalog_url)
    gauges = (
        ("evidock_store_free_bytes", "Free bytes on the file system of the local evidence store",
         free_bytes(settings.store_dir, statvfs)),
        ("evidock_catalog_free_bytes", "Free bytes on the file system of the SQLite catalog",
         free_bytes(db.parent, statvfs) if db is not None else None),
        ("evidock_store_free_alert_bytes",
         "Free store bytes below which the store cannot take one more full camera "
         "([dock] alert_free_gib)", settings.dock.alert_free_gib << 30),
    )  # fmt: skip
    return [
        Family(
            name=name,
            help=text,
            labels=("dock",),
            samples=() if value is None else ((dock, float(value)),),
        )
        for name, text, value in gauges
    ]
