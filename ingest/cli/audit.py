"""``evidock verify`` and ``evidock audit``: fixity of the custody log, its checkpoints and
every stored object.

``verify`` collects every problem and exits 1 if there is any; it never repairs. Over a log
that verifies it then records a fixity event per re-hashed item and signs a checkpoint.
``audit`` is the nightly sweep of the audit timer in one command: ``verify`` of everything,
then the 24-hour scan (``evidock overdue``'s measurement of anything not yet measured,
flagging late items), and the node_exporter textfile for the alerts. It exits 1 only for
integrity problems; what is overdue is for the alerts and the report.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from i18n import _, n_
from ingest.cases.overdue import build_report
from ingest.cli.common import examples, open_dock, problem_lines
from ingest.cli.witness import witness_policy
from ingest.config import Settings
from ingest.context import LOG_ORIGIN, Context, object_store, open_catalog, os_actor
from ingest.errors import EXIT_FAILURE, EXIT_OK
from ingest.metrics.audit import check_textfile_path, write_verify_textfile  # issue 7
from ingest.output import Output
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from verify.audit.run import AuditReport, record_fixity, run_audit
from verify.keys import DockKey, key_path, load_if_readable


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "verify",
        help=_("check the custody log, its signed checkpoints and every stored object"),
        description=_(
            "Collects every problem, exits 1 if there is any; never repairs anything. "
            "Afterwards records a fixity event per re-hashed item and signs a checkpoint."
        ),
        epilog=examples(
            "evidock verify",
            "evidock verify --item 12 --quick",
            "evidock verify --full --json --metrics-textfile /var/lib/node_exporter/evidock.prom",
        ),
    )
    s.add_argument("--item", type=int, metavar="ID", help=_("only this item (and the whole log)"))
    s.add_argument("--case", metavar="NUMBER", help=_("only this case's facts and linked items"))
    s.add_argument("--quick", action="store_true", help=_("do not re-hash the stored objects"))
    s.add_argument(
        "--full",
        action="store_true",
        help=_(
            "also download and re-hash every S3 object (default: size, checksum, version "
            "and lock from HEAD)"
        ),
    )
    s.add_argument(
        "--metrics-textfile",
        type=Path,
        metavar="PATH",
        help=_("also write the results for node_exporter's textfile collector (a *.prom file)"),
    )  # metrics (issue 7)
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser(
        "audit",
        help=_("one sweep: fixity of everything, checkpoint, overdue scan (the timer's job)"),
        description=_(
            "evidock verify of everything, then the overdue scan, then the metrics "
            "textfile. Exit 1 only for integrity problems; what is overdue goes to the alerts."
        ),
        epilog=examples(
            "evidock audit",
            "evidock audit --metrics-textfile /var/lib/node_exporter/evidock.prom --json",
        ),
    )
    s.add_argument(
        "--metrics-textfile", type=Path, metavar="PATH",
        help=_("write node_exporter textfile metrics (a path ending in .prom)"),
    )  # fmt: skip
    s.set_defaults(func=cmd_audit)


def cmd_verify(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    textfile = args.metrics_textfile  # metrics (issue 7)
    if textfile is not None:
        check_textfile_path(textfile)
    started = time.monotonic()
    report, recorded, cp_size = verify_run(
        settings, item=args.item, quick=args.quick, full=args.full, case=args.case
    )
    doc = report.to_json()
    doc["recorded"] = {"fixity_events": recorded, "checkpoint_size": cp_size}
    out.document(doc)
    verify_lines(out, report, recorded, cp_size)
    if textfile is not None:  # metrics (issue 7): node_exporter textfile
        took = time.monotonic() - started
        write_verify_textfile(textfile, report, finished_at=datetime.now(UTC), duration_s=took)
    return EXIT_OK if report.ok else EXIT_FAILURE


def cmd_audit(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    if args.metrics_textfile is not None:
        check_textfile_path(args.metrics_textfile)
    started = time.monotonic()
    report, recorded, cp_size = verify_run(settings, item=None, quick=False)
    ctx = open_dock(settings)
    try:
        # the overdue scan appends late_flagged events only to a log that verified
        overdue = build_report(ctx, actor=os_actor(), measure_first=report.log_intact)
    finally:
        ctx.close()
    if args.metrics_textfile is not None:
        write_verify_textfile(
            args.metrics_textfile,
            report,
            finished_at=datetime.now(UTC),
            duration_s=time.monotonic() - started,
        )
    out.document(
        {
            "verify": {
                **report.to_json(),
                "recorded": {"fixity_events": recorded, "checkpoint_size": cp_size},
            },
            "overdue": {"overdue_count": overdue.overdue_count, "measured": overdue.measured},
        }
    )
    verify_lines(out, report, recorded, cp_size)
    out.line(
        n_(
            "overdue scan: {overdue} overdue and not excused ({n} item measured now); "
            "details: evidock overdue",
            "overdue scan: {overdue} overdue and not excused ({n} items measured now); "
            "details: evidock overdue",
            overdue.measured,
        ).format(overdue=overdue.overdue_count, n=overdue.measured)
    )
    return EXIT_OK if report.ok else EXIT_FAILURE


def verify_run(
    settings: Settings,
    *,
    item: int | None,
    quick: bool,
    full: bool = False,
    case: str | None = None,
) -> tuple[AuditReport, int, int | None]:
    """The audit, then (over an intact log only) its fixity events and a checkpoint.
    Returns (report, fixity events recorded, checkpoint size or None)."""
    progress = _Progress() if sys.stderr.isatty() else None
    ctx, catalog, key = _verify_context(settings)
    try:
        report = run_audit(
            catalog,
            LocalStore(settings.store_dir),
            dock=settings.dock.name,
            # a fleet whose docks keep their own stores: this one checks what it holds
            node=None if catalog.is_sqlite or settings.store.shared else settings.dock.name,
            local_key=key,
            origin=LOG_ORIGIN,
            item=item,
            case=case,
            quick=quick,
            progress=progress,
            s3=ctx.s3 if ctx is not None else object_store(settings),
            s3_is_record=settings.store.s3_is_record,
            full=full,
            published_keys=settings.verify.trusted_keys,
            witnesses=witness_policy(settings),  # [trust]: quorum of cosignatures, TSA tokens
        )
        if progress is not None:
            progress.done()
        recorded, cp_size = 0, None
        if ctx is not None and report.log_intact:
            recorded = record_fixity(catalog, ctx.custody, report.fixity, actor=os_actor())
            cp_size = ctx.checkpoint()[0]
    finally:
        catalog.close()
    return report, recorded, cp_size


def _verify_context(settings: Settings) -> tuple[Context | None, Catalog, DockKey | None]:
    """The usual context; but when the catalog names this dock with a key other than the key
    file's, or the key file cannot be read, no context (it would refuse): the audit runs and
    reports it, nothing is recorded. A data dir without its catalog, or without the key file
    of a registered dock, is refused like by every command (there is nothing to verify)."""
    catalog = open_catalog(settings)
    name = settings.dock.name
    try:
        key = load_if_readable(settings.keys_dir, name)
        with catalog.read() as txn:
            registered = {d.name: d.public_key for d in txn.docks()}
    except BaseException:
        catalog.close()
        raise
    there = key_path(settings.keys_dir, name).exists()
    if name in registered and there and (key is None or registered[name] != key.public):
        return None, catalog, key
    catalog.close()
    ctx = open_dock(settings)
    return ctx, ctx.catalog, ctx.key


def verify_lines(out: Output, report: AuditReport, recorded: int, cp_size: int | None) -> None:
    c = report.checked
    problem_lines(out, report.problems)
    if c.case is not None:
        scope = _("case {case} and the whole log").format(case=c.case)
    elif c.item is not None:
        scope = _("item #{item} and the whole log").format(item=c.item)
    else:
        scope = _("everything")
    rehash = (
        _("not re-hashed: --quick")
        if c.quick
        else _(
            "{objects} re-hashed, {bytes} bytes; {derived} proxies, {derived_rehashed} re-hashed"
        ).format(
            objects=c.objects_rehashed,
            bytes=c.bytes_rehashed,
            derived=c.derived,
            derived_rehashed=c.derived_rehashed,
        )
    )
    out.line(
        _(
            "checked {scope}: log of {log_size} events ({events} read), {checkpoint_rows} "
            "checkpoint rows, {checkpoint_files} checkpoint files, {items} items, {objects} "
            "stored objects ({rehash})"
        ).format(
            scope=scope,
            log_size=c.log_size,
            events=c.events,
            checkpoint_rows=c.checkpoint_rows,
            checkpoint_files=c.checkpoint_files,
            items=c.items,
            objects=c.objects,
            rehash=rehash,
        )
    )
    for e in report.elsewhere:  # issue 18: not missing, only in another dock's store
        held = (
            _(
                "held by dock {dock}: {objects} stored objects and {derived} proxies are in its "
                "own store; verify them there (evidock verify on {dock})"
            )
            if e.derived
            else _(
                "held by dock {dock}: {objects} stored objects are in its own store; verify "
                "them there (evidock verify on {dock})"
            )
        )
        out.line(held.format(dock=e.dock, objects=e.objects, derived=e.derived))
    if c.s3_objects:
        how = (
            _("{n} originals downloaded and re-hashed").format(n=c.s3_rehashed)
            if c.s3_rehashed
            else _("size, checksum, version and lock from HEAD; --full downloads them")
        )
        out.line(_("S3: {n} objects checked ({how})").format(n=c.s3_objects, how=how))
    if report.log_intact:
        out.line(
            n_(
                "recorded {n} fixity event; checkpoint signed at size {size}",
                "recorded {n} fixity events; checkpoint signed at size {size}",
                recorded,
            ).format(n=recorded, size=cp_size)
        )
    else:
        out.line(_("recorded nothing: no event is appended to a custody log that does not verify"))
    if report.ok:
        out.line(_("verify: OK, everything holds"))
        return
    n = len(report.problems)
    out.line(
        n_(
            "verify: FAILED, {n} problem; nothing was repaired",
            "verify: FAILED, {n} problems; nothing was repaired",
            n,
        ).format(n=n)
    )
    for hint in dict.fromkeys(p.hint for p in report.problems):
        out.line(_("hint: {hint}").format(hint=_(hint)))


class _Progress:
    """One self-overwriting line on stderr (only used when stderr is a terminal)."""

    def __init__(self) -> None:
        self._shown = 0.0

    def __call__(self, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        now = time.monotonic()
        if now - self._shown < 0.2 and done < total:
            return
        self._shown = now
        mib = 1024 * 1024
        line = _("re-hashing stored objects: {done}/{total}, {done_mib}/{total_mib} MiB").format(
            done=done,
            total=total,
            done_mib=f"{done_bytes / mib:.1f}",
            total_mib=f"{total_bytes / mib:.1f}",
        )
        print(
            f"\r{line}",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def done(self) -> None:
        print(file=sys.stderr)
