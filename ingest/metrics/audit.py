"""What ``evidock verify`` (and the audit timer) leaves for Prometheus: node_exporter's
textfile format, one file rewritten after each run.

A full run (no ``--item``, no ``--quick``) is a fixity sweep: every stored object re-hashed.
Its finish time, objects and failures are written; a partial run keeps the previous sweep's
values from the file it replaces, so ``time() - evidock_fixity_last_sweep_timestamp_seconds``
always measures the last complete sweep, whatever it found. Labels: problem codes only.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from i18n import _
from ingest.errors import UsageError
from ingest.metrics.prometheus import Family, read_textfile, write_textfile
from verify.audit.run import AuditReport

SWEEP = "evidock_fixity_last_sweep_timestamp_seconds"
FAILURES = "evidock_fixity_failures"
OBJECTS = "evidock_fixity_objects_checked"
BYTES = "evidock_fixity_bytes_checked"
_SWEEP_HELP = {
    SWEEP: "Unix time the last complete fixity sweep (every stored object re-hashed) ended",
    FAILURES: "Stored objects whose bytes did not match (or were missing) in the last sweep",
    OBJECTS: "Stored objects re-hashed by the last complete fixity sweep",
    BYTES: "Bytes re-hashed by the last complete fixity sweep",
}


MISMATCH = "evidock_catalog_log_mismatch"
# problem codes of verify's comparison of the catalog with the projection of its custody log
_MISMATCH_PREFIXES = ("item-fact", "offload-", "excuse-", "link-", "case-")


def is_catalog_log_mismatch(code: str) -> bool:
    """A catalog row that disagrees with what its custody events say (issue 14)."""
    return code.endswith("-mismatch") or code.startswith(_MISMATCH_PREFIXES)


def check_textfile_path(path: Path) -> None:
    """Refuse, before any work, a path node_exporter would never read or we cannot write."""
    if path.suffix != ".prom":
        raise UsageError(
            _("{path} does not end in .prom").format(path=path),
            hint=_(
                "node_exporter's textfile collector reads only *.prom files: name it "
                "like /var/lib/prometheus/node-exporter/evidock.prom"
            ),
        )
    if not path.parent.is_dir():
        raise UsageError(
            _("the folder of {path} does not exist").format(path=path),
            hint=_(
                "Give the textfile collector's folder (node_exporter "
                "--collector.textfile.directory)."
            ),
        )


def verify_families(
    report: AuditReport,
    *,
    finished_at: datetime,
    duration_s: float,
    previous: dict[str, float],
) -> list[Family]:
    c = report.checked
    sweep = c.item is None and not c.quick
    if sweep:
        values: dict[str, float | None] = {
            SWEEP: finished_at.timestamp(),
            FAILURES: float(sum(1 for f in report.fixity if not f.ok)),
            OBJECTS: float(c.objects_rehashed),
            BYTES: float(c.bytes_rehashed),
        }
    else:
        values = {name: previous.get(name) for name in _SWEEP_HELP}
    problems: Counter[str] = Counter()
    for p in report.problems:
        problems[p.code] += p.count
    return [
        Family.single(
            "evidock_verify_last_run_timestamp_seconds",
            "Unix time the last evidock verify ended",
            finished_at.timestamp(),
        ),
        Family.single(
            "evidock_verify_duration_seconds", "Seconds the last evidock verify took", duration_s
        ),
        Family.single(
            "evidock_verify_log_intact",
            "1 when the last verify found the custody log and its checkpoints intact",
            1.0 if report.log_intact else 0.0,
        ),
        Family.single(
            MISMATCH,
            "Catalog facts the last evidock verify found disagreeing with the custody log",
            float(sum(n for code, n in problems.items() if is_catalog_log_mismatch(code))),
        ),
        Family(
            name="evidock_verify_problems",
            # untranslated: Prometheus HELP, read by monitoring in English
            help="Problems the last evidock verify found, by code",
            labels=("code",),
            samples=tuple(((code,), float(n)) for code, n in sorted(problems.items())),
        ),
        *(Family.single(name, help, values[name]) for name, help in _SWEEP_HELP.items()),
    ]


def write_verify_textfile(
    path: Path, report: AuditReport, *, finished_at: datetime, duration_s: float
) -> None:
    families = verify_families(
        report, finished_at=finished_at, duration_s=duration_s, previous=read_textfile(path)
    )
    try:
        write_textfile(path, families)
    except OSError as e:
        raise UsageError(
            _("cannot write the metrics textfile {path}: {error}").format(
                path=path, error=e.strerror
            ),
            hint=_("Check that the user running evidock may write in that folder."),
        ) from e
