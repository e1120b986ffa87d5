"""Witness gauges (issue 15), computed at scrape time from the catalog like the others.

Per configured witness not retired (label: its key name, never a person): refusals recorded (a
fork or rollback alarm: ``EvidockWitnessRefused``), checkpoints still to be cosigned, and the
age of the newest checkpoint it cosigned; with a TSA, the age of the newest timestamped
checkpoint.
"""

from __future__ import annotations

from datetime import datetime

from ingest.config import TrustSettings
from ingest.metrics.prometheus import Family
from storage.catalog.cosignatures import CosignatureOps
from storage.catalog.session import Transaction


def witness_families(txn: Transaction, trust: TrustSettings, *, at: datetime) -> list[Family]:
    """The families always (declared for the alert rules), samples per configured witness."""
    ops = CosignatureOps(txn)
    refusals = ops.refusal_counts() if trust.witnesses else {}
    names = [w.key.name for w in trust.witnesses if w.active(at)]  # a retired one is not waited for
    ages: list[tuple[tuple[str, ...], float]] = []
    for name in names:
        newest = ops.newest_cosigned_at(name)
        if newest is not None:
            ages.append(((name,), (at - newest).total_seconds()))
    stamped = ops.newest_timestamped_at() if trust.tsa_url else None
    return [
        Family.single(
            "evidock_timestamp_age_seconds",
            "Seconds since the newest checkpoint with an RFC 3161 token was signed",
            None if stamped is None else (at - stamped).total_seconds(),
        ),
        Family(
            name="evidock_witness_refusals",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Checkpoints a witness refused as a fork or rollback of the custody log",
            labels=("witness",),
            samples=tuple(((n,), float(refusals.get(n, 0))) for n in names),
        ),
        Family(
            name="evidock_witness_pending_checkpoints",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Checkpoints not yet cosigned by a witness (down, or refused)",
            labels=("witness",),
            samples=tuple(((n,), float(ops.pending_count(n))) for n in names),
        ),
        Family(
            name="evidock_witness_cosigned_age_seconds",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Seconds since the newest checkpoint a witness cosigned was signed",
            labels=("witness",),
            samples=tuple(ages),
        ),
    ]
