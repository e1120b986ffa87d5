"""What ``evidock catalog migrate-to`` compares: each catalog's audit and log state, and the
differences between the source and the copy (any one of them undoes the move).

A difference is a ``Said``: English in the JSON document (programs read it), the reader's
language in the lines a person reads (issue 20)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from i18n import N_, _
from ingest.config import Settings
from ingest.context import LOG_ORIGIN
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from verify.audit.run import AuditReport, run_audit
from verify.keys import DockKey
from verify.log.merkle import root


@dataclass(frozen=True, slots=True)
class Said:
    """A sentence (``message`` marked with ``N_``, named fields) and the values it names."""

    message: str
    values: Mapping[str, object]

    def __str__(self) -> str:
        """The English sentence, for the JSON document."""
        return self.message.format(**self.values)

    def shown(self) -> str:
        """The sentence in the reader's language."""
        return _(self.message).format(**self.values)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogState:
    """What must be identical in the source and the target once the copy is done."""

    events: int
    size: int
    last_leaf: str
    root: str | None
    checkpoint_rows: int
    newest_checkpoint: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """One catalog's audit and log state."""

    report: AuditReport
    log: LogState


def side(catalog: Catalog, settings: Settings, key: DockKey | None) -> Side:
    """The audit (as 'evidock verify --quick') and the log state of one catalog."""
    return Side(report=audit(catalog, settings, key), log=log_state(catalog))


def audit(catalog: Catalog, settings: Settings, key: DockKey | None) -> AuditReport:
    return run_audit(
        catalog,
        LocalStore(settings.store_dir),
        dock=settings.dock.name,
        local_key=key,
        origin=LOG_ORIGIN,
        quick=True,
    )


def log_state(catalog: Catalog) -> LogState:
    with catalog.read() as txn:
        txn.pin_snapshot()
        head = txn.log.head()
        try:
            tree_root: str | None = root(head.size, txn.log.read_node).hex()
        except LookupError:
            tree_root = None  # a missing node: the audit reports it
        checkpoints = txn.log.checkpoints()
        newest = checkpoints[-1] if checkpoints else None
        return LogState(
            events=txn.log.event_count(),
            size=head.size,
            last_leaf=head.last_leaf,
            root=tree_root,
            checkpoint_rows=len(checkpoints),
            newest_checkpoint=None
            if newest is None
            else {"dock": newest.dock_name, "size": newest.size, "root": newest.root},
        )


def differences(
    src: Side, dst: Side, src_counts: dict[str, int], dst_counts: dict[str, int]
) -> list[Said]:
    """Every way the target differs from the source: log state, rows per table, problems."""
    out = []
    for field in dataclasses.fields(LogState):
        a, b = getattr(src.log, field.name), getattr(dst.log, field.name)
        if a != b:
            values = {"field": field.name, "source": a, "target": b}
            out.append(Said(N_("log {field}: source {source}, target {target}"), values))
    for name in dict.fromkeys([*src_counts, *dst_counts]):
        a, b = src_counts.get(name, 0), dst_counts.get(name, 0)
        if a != b:
            values = {"table": name, "source": a, "target": b}
            out.append(
                Said(N_("table {table}: source {source} rows, target {target} rows"), values)
            )
    before, after = set(src.report.problems), set(dst.report.problems)
    only_target = N_("problem only in the target: [{code}] {message}")
    only_source = N_("problem only in the source: [{code}] {message}")
    out += [Said(only_target, {"code": p.code, "message": p.message}) for p in after - before]
    out += [Said(only_source, {"code": p.code, "message": p.message}) for p in before - after]
    return out
