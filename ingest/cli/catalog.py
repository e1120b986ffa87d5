"""``evidock catalog migrate-to URL``: move this dock's SQLite catalog into PostgreSQL (issue 9).

The steps, each of which stops the move when it fails (nothing is half-done):

1. Refuse (exit 2) when the configured catalog is not SQLite, the target is the source, the
   dock daemon of this data dir runs, or the target already holds evidock data.
2. Lock the source against writers (SQLite ``BEGIN IMMEDIATE``, held to the end) and audit
   it as ``evidock verify --quick`` does: a custody log that does not verify is not carried
   into the fleet (exit 1, nothing written to the target).
3. Copy every table in one target transaction (``storage.catalog.migrate``: row digests compared
   before the commit, PostgreSQL sequences moved past the copied ids).
4. Audit the target independently (its own connections, the same checks as ``evidock
   verify``) and compare with the source: event count, log head and root, newest
   checkpoint, rows per table, the same problems (none, for a sound catalog). Any difference:
   the copied rows are deleted again and the command exits 1.
5. Record a ``catalog_migrated`` custody event in the target and sign a checkpoint (the
   usual way: catalog row and write-once file in the store), then audit once more: nothing
   the source's audit did not find may show up. From then on the store's checkpoints go
   beyond the old SQLite file: 'evidock verify' against it reports checkpoint-beyond-log
   (or, had a dock written to it by mistake, checkpoint-root-mismatch: a forked log).

Stored objects are not re-hashed (the store does not move): that stays ``evidock verify``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from i18n import N_, _, n_
from ingest.cli import catalog_upgrade
from ingest.cli.catalog_compare import Said, Side, audit, differences, side
from ingest.cli.common import examples, open_dock, problem_lines
from ingest.config import Settings
from ingest.context import os_actor
from ingest.dock.status import read_status
from ingest.errors import EXIT_FAILURE, EXIT_OK, IngestError, UsageError
from ingest.output import Output
from storage.catalog.migrate import (
    CatalogMove,
    CopyResult,
    MigrateFailed,
    TargetState,
    backend,
    not_empty_message,
    redact,
    sqlite_path,
)
from storage.catalog.session import Catalog
from storage.errors import StorageError
from verify.errors import VerifyError
from verify.keys import DockKey, load_if_readable
from verify.log.events import EventType
from verify.problems import Problem

TARGETS = ("postgresql", "sqlite")
_TARGET = "postgresql+psycopg://evidock@catalog.internal/evidock"  # in the examples


class MigrationFailed(IngestError):
    """The copy failed or did not verify; the target holds no evidock data."""

    code = "migrate-failed"


def add_parsers(sub: Any) -> None:
    cat = sub.add_parser(
        "catalog",
        help=_("upgrade the catalog's schema, or move the catalog to another database"),
        epilog=examples(f"evidock catalog migrate-to {_TARGET} --dry-run"),
    )
    acts = cat.add_subparsers(dest="action", required=True)
    s = acts.add_parser(
        "migrate-to",
        help=_("copy this dock's SQLite catalog and custody log into an empty PostgreSQL catalog"),
        description=_(
            "Stop this dock's daemon, workers and audit timer first. The source stays "
            "as it is (keep it as a read-only backup); the target must be empty. Exit 0: moved "
            "and verified; 1: the source or the copy did not verify (the target is left empty); "
            "2: refused, nothing written."
        ),
        epilog=examples(
            f"evidock catalog migrate-to {_TARGET} --dry-run",
            f"evidock catalog migrate-to {_TARGET} --json",
        ),
    )
    s.add_argument(
        "url",
        help=_("target, e.g. {example}").format(
            example="postgresql+psycopg://evidock@db.example/evidock"
        ),
    )
    s.add_argument(
        "--dry-run", action="store_true", help=_("check everything and say what would be copied")
    )
    s.set_defaults(func=cmd_migrate_to)
    catalog_upgrade.add_parser(acts)


def cmd_migrate_to(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    source_file = _check_usage(settings, args.url)
    key = load_if_readable(settings.keys_dir, settings.dock.name)
    with CatalogMove(settings.catalog_url, args.url) as move:
        target = move.target_state()
        if not target.empty:
            raise UsageError(
                not_empty_message(args.url, target.rows),
                hint=_(
                    "Give an empty database (CREATE DATABASE ...). If an earlier migrate-to "
                    "was interrupted, drop and recreate the target database, then run it again."
                ),
            )
        if not args.dry_run:
            move.prepare_source()
            move.lock_source()
        source = Catalog(settings.catalog_url, engine=move.source)
        src = side(source, settings, key)
        counts = move.source_counts()
        doc: dict[str, Any] = {
            "dry_run": bool(args.dry_run),
            "source": {"path": str(source_file), "tables": counts, "log": src.log.to_json()},
            "target": {"url": target.url, "dialect": target.dialect, "revision": target.revision},
            "source_audit": src.report.to_json(),
        }
        _source_lines(out, source_file, target, counts, src)
        if not src.report.log_intact:
            doc["refused"] = "the custody log of the source does not verify"
            out.document(doc)
            problem_lines(out, src.report.problems, with_item=False)
            out.line(
                _(
                    "NOT MOVED: the custody log of the source does not verify; nothing was "
                    "written to the target. Hand this report to the evidence custodian "
                    "(evidock verify)."
                )
            )
            return EXIT_FAILURE
        if args.dry_run:
            doc["would_copy"] = {"rows": sum(counts.values()), "tables": counts}
            out.document(doc)
            out.line(
                _(
                    "dry run: would copy {rows} rows into {target}; nothing was written (a real "
                    "run first locks the source against writers)"
                ).format(rows=sum(counts.values()), target=target.url)
            )
            return EXIT_OK
        copied, differences = _copy_and_verify(move, settings, key, src, counts, doc)
        if differences:
            doc["discarded"] = _discard(move)
            out.document(doc)
            for d in differences:
                out.line(_("DIFFERENCE {difference}").format(difference=d.shown()))
            if doc["discarded"]["ok"]:
                out.line(
                    _(
                        "NOT MOVED: the target does not verify like the source; the source is "
                        "unchanged and the copied rows were deleted again (the target is empty)."
                    )
                )
            else:
                out.line(
                    _(
                        "NOT MOVED: the target does not verify like the source; the source is "
                        "unchanged; deleting the copied rows failed ({error}): drop and "
                        "recreate the target database."
                    ).format(error=doc["discarded"]["error"])
                )
            return EXIT_FAILURE
        _copied_lines(out, copied, doc)
    # the source lock is released: the move is committed and verified
    rec = _record(settings, key, source_file, args.url, copied, src)
    new_problems = rec.pop("new_problems")
    shown_reason = rec.pop("shown_reason", None)
    doc["recorded"] = rec
    steps = _next_steps(settings, args.url, source_file)
    doc["next"] = [str(step) for step in steps]
    out.document(doc)
    _recorded_lines(out, rec, shown_reason, new_problems, src, steps)
    return EXIT_OK if rec["verify_ok"] is not False else EXIT_FAILURE


def _copy_and_verify(
    move: CatalogMove,
    settings: Settings,
    key: DockKey | None,
    src: Side,
    counts: dict[str, int],
    doc: dict[str, Any],
) -> tuple[CopyResult, list[Said]]:
    """The copy, then the independent audit of the target; returns the differences."""
    try:
        copied = move.copy()
    except MigrateFailed as e:
        raise MigrationFailed(str(e), hint=e.hint) from e
    doc["copied"] = _copied_json(copied)
    target = Catalog(move.target_url, engine=move.target)
    try:
        dst = side(target, settings, key)
        found = differences(src, dst, counts, move.target_counts())
    except (StorageError, VerifyError) as e:
        emptied = _discard(move)["ok"]
        if emptied:
            raise MigrationFailed(
                _(
                    "the copy was committed but could not be verified: {error}; its rows were "
                    "deleted again"
                ).format(error=e),
                hint=_("The source is unchanged. Fix the cause and run the command again."),
            ) from e
        raise MigrationFailed(
            _(
                "the copy was committed but could not be verified: {error}; the target still "
                "holds it"
            ).format(error=e),
            hint=_(
                "The source is unchanged. Fix the cause and run the command again into a "
                "dropped and recreated target database."
            ),
        ) from e
    doc["verified"] = {
        "ok": not found,
        "log": dst.log.to_json(),
        "differences": [str(d) for d in found],
        "target_audit": dst.report.to_json(),
    }
    return copied, found


# -- checks before anything is written ---------------------------------------------------------
def _check_usage(settings: Settings, target_url: str) -> Path:
    source = settings.catalog_url
    if backend(source) != "sqlite":
        raise UsageError(
            _(
                "the configured catalog is {catalog}, not a SQLite file: only a single dock's "
                "SQLite catalog is moved"
            ).format(catalog=redact(source)),
            hint=_("Run the command on the dock whose catalog_url is its SQLite file."),
        )
    path = sqlite_path(source)
    if path is None or not path.is_file():
        raise UsageError(
            _("there is no catalog at {path}: nothing to move").format(path=path or source),
            hint=_("Check EVIDOCK_HOME / data_dir and catalog_url of this dock."),
        )
    if backend(target_url) not in TARGETS:
        raise UsageError(
            _("{url} is not a PostgreSQL (or SQLite) URL").format(url=redact(target_url)),
            hint=_("Write it like postgresql+psycopg://USER@HOST:5432/DATABASE."),
        )
    target_file = sqlite_path(target_url)
    if target_file == path:
        raise UsageError(
            _("the target is the source catalog itself"),
            hint=_("Give the URL of another database."),
        )
    if target_file is not None and not target_file.parent.is_dir():
        # not an outage (exit 4) that goes away by trying again
        raise UsageError(
            _("the folder of the target {path} does not exist").format(path=target_file),
            hint=_("Create the folder first, or give the URL of another database."),
        )
    status = read_status(settings.data_dir / "run" / f"dock-{settings.dock.name}.json")
    if status is not None and status.get("running"):
        raise UsageError(
            _(
                "the dock daemon of this data dir runs (pid {pid}): a catalog is moved only "
                "while nothing writes to it"
            ).format(pid=status.get("pid")),
            hint=_(
                "Stop it first (systemctl stop evidock-dock, and the worker and audit timer), "
                "then run the command again. If no dock runs, the status file {folder} names "
                "a reused pid: remove it."
            ).format(folder=settings.data_dir / "run"),
        )
    return path


# -- when the copy does not verify ------------------------------------------------------------
def _discard(move: CatalogMove) -> dict[str, Any]:
    """Delete the copied rows again; whatever stops that is told, not raised: the operator
    then drops and recreates the target database."""
    try:
        move.discard()
    except Exception as e:  # noqa: BLE001 - reported with what to do instead
        error = f"{type(e).__name__}: {e}"
        return {"ok": False, "error": error, "action": "drop and recreate the target database"}
    return {"ok": True}


# -- recording the move ------------------------------------------------------------------------
def _record(
    settings: Settings,
    key: DockKey | None,
    source_file: Path,
    target_url: str,
    copied: CopyResult,
    src: Side,
) -> dict[str, Any]:
    """The ``catalog_migrated`` event and a checkpoint in the target, then a last audit that
    must find nothing the source's audit did not find."""
    moved = dataclasses.replace(settings, catalog_url=target_url)
    seq: int | None = None
    try:
        ctx = open_dock(moved)
        try:
            with ctx.catalog.write() as txn:
                seq = ctx.custody.append(
                    txn,
                    type=EventType.CATALOG_MIGRATED,
                    actor=os_actor(),
                    data={
                        "from": str(source_file),
                        "to": _where(target_url),
                        "events": src.log.events,
                        "root": src.log.root,
                        "rows": copied.rows,
                        "tables": {t.name: t.rows for t in copied.tables},
                    },
                ).seq
            size = ctx.checkpoint()[0]
            report = audit(ctx.catalog, settings, key)
        finally:
            ctx.close()
    except (StorageError, VerifyError) as e:
        return {
            "event": seq,
            "type": "catalog_migrated",
            "reason": f"{e} (hint: {e.hint})",
            "shown_reason": _("{error} (hint: {hint})").format(error=e, hint=_(e.hint)),
            "checkpoint_size": None,
            "verify_ok": None if seq is None else False,
            "new_problems": (),
        }
    new = tuple(p for p in report.problems if p not in set(src.report.problems))
    return {
        "event": seq,
        "type": "catalog_migrated",
        "checkpoint_size": size,
        "verify_ok": not new,
        "problems": [p.to_json() for p in report.problems],
        "new_problems": new,
    }


def _where(url: str) -> str:
    """The target as the custody log names it: dialect, host, port and database, no user."""
    redacted = redact(url)
    scheme, _sep, rest = redacted.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def _next_steps(settings: Settings, target_url: str, source_file: Path) -> list[Said]:
    where = settings.source if settings.source != "defaults" else "/etc/evidock/evidock.toml"
    return [
        Said(
            N_(
                'set catalog_url = "{url}" in {where} (or EVIDOCK_CATALOG_URL) on this dock, '
                "with the password if the URL needs one"
            ),
            {"url": redact(target_url), "where": where},
        ),
        Said(
            N_("start the dock, its workers and the audit timer again; 'evidock verify' checks it"),
            {},
        ),
        Said(
            N_(
                "keep {source} as a read-only backup (chmod 0440) and never point a dock at it "
                "again: the custody log continues in the new catalog, and 'evidock verify' "
                "against the old file now reports checkpoint-beyond-log (its log ends before "
                "the move)"
            ),
            {"source": source_file},
        ),
    ]


# -- lines for people --------------------------------------------------------------------------
def _source_lines(
    out: Output, source_file: Path, target: TargetState, counts: dict[str, int], src: Side
) -> None:
    out.line(
        _("source   {path} (SQLite; locked against writers while it is copied)").format(
            path=source_file
        )
    )
    schema = (
        _("no evidock tables yet")
        if target.revision is None
        else _("revision {revision}").format(revision=target.revision)
    )
    out.line(
        _("target   {url} ({dialect}, {schema}, no evidock rows)").format(
            url=target.url, dialect=target.dialect, schema=schema
        )
    )
    cp = src.log.newest_checkpoint
    signed = (
        _("newest checkpoint size {size} by {dock}").format(size=cp["size"], dock=cp["dock"])
        if cp
        else _("no checkpoint")
    )
    out.line(
        _("log      {events} events, root {root}, {signed}").format(
            events=src.log.events, root=src.log.root, signed=signed
        )
    )
    out.table([_("TABLE"), _("ROWS")], [[name, n] for name, n in counts.items()])
    n = len(src.report.problems)
    state = _("verifies") if not n else n_("{n} problem", "{n} problems", n).format(n=n)
    out.line(_("source audit (as evidock verify --quick): {state}").format(state=state))


def _copied_lines(out: Output, copied: CopyResult, doc: dict[str, Any]) -> None:
    log = doc["verified"]["log"]
    out.line(
        _(
            "copied   {rows} rows of {tables} tables in {seconds} s (one transaction; every "
            "table read back and compared before the commit)"
        ).format(rows=copied.rows, tables=len(copied.tables), seconds=f"{copied.seconds:.1f}")
    )
    out.line(
        _(
            "verified the target on its own: log of {events} events, root {root}, "
            "{checkpoint_rows} checkpoint rows, every table's rows as in the source"
        ).format(events=log["events"], root=log["root"], checkpoint_rows=log["checkpoint_rows"])
    )


def _recorded_lines(
    out: Output,
    rec: dict[str, Any],
    reason: str | None,
    new_problems: tuple[Problem, ...],
    src: Side,
    steps: list[Said],
) -> None:
    """What was recorded in the target; ``reason`` (in the reader's language) why not."""
    if rec["event"] is None:
        out.line(
            _("WARNING: the move was not recorded in the custody log: {reason}").format(
                reason=reason
            )
        )
    elif reason is not None:
        out.line(
            _("recorded custody event #{event} (catalog_migrated), then it failed:").format(
                event=rec["event"]
            )
        )
        out.line(_("WARNING: {reason}").format(reason=reason))
    else:
        out.line(
            _(
                "recorded custody event #{event} (catalog_migrated) and a checkpoint at size "
                "{size}; the target verifies afterwards: {verifies}"
            ).format(
                event=rec["event"],
                size=rec["checkpoint_size"],
                verifies=_("yes") if rec["verify_ok"] else _("NO"),
            )
        )
        problem_lines(out, new_problems, with_item=False)
    n = len(src.report.problems)
    if n:
        out.line(
            n_(
                "WARNING: {n} problem of the source came along unchanged (not in the custody "
                "log); 'evidock verify' lists it for the custodian",
                "WARNING: {n} problems of the source came along unchanged (none of them in the "
                "custody log); 'evidock verify' lists them for the custodian",
                n,
            ).format(n=n)
        )
    out.line(_("next:"))
    for step in steps:
        out.line(f"  - {step.shown()}")


def _copied_json(copied: CopyResult) -> dict[str, Any]:
    return {
        "rows": copied.rows,
        "seconds": round(copied.seconds, 3),
        "tables": {t.name: {"rows": t.rows, "sha256": t.digest} for t in copied.tables},
        "sequences": dict(copied.sequences),
    }
