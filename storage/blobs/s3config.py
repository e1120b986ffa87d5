"""What the S3 evidence store needs to know, as one frozen record (built by ingest.config).

Credentials are never here: they come from the standard AWS chain (environment, shared
credentials file, instance role), so they never reach the catalog, the logs or a status page.
"""

from __future__ import annotations

from dataclasses import dataclass

LOCK_MODES = ("COMPLIANCE", "GOVERNANCE", "")
CHECKSUM_BEHAVIOURS = ("when_required", "when_supported")
ADDRESSING_STYLES = ("auto", "path", "virtual")
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Config:
    bucket: str
    endpoint_url: str | None = None  # None: AWS
    region: str = "us-east-1"
    prefix: str = ""  # e.g. "district-7/"; keys are <prefix>originals/sha256/<hex>
    addressing_style: str = "auto"
    checksum_calculation: str = "when_required"
    object_lock_mode: str = "COMPLIANCE"  # "" = the bucket need not have Object Lock
    retention_days: int = 3650
    multipart_threshold: int = 64 * MIB  # single PUT below, multipart at or above
    part_size: int = 16 * MIB
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_attempts: int = 3  # botocore's own retries of one call; the job queue retries later
    release_local: bool = False  # drop the local copy once the S3 copy is verified
