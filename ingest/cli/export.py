"""``evidock export request|approve|build|list`` and ``evidock verify-export``: disclosure
packages (Art. 30) that anyone can check offline (issue 17)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from i18n import _, n_
from ingest.cli.actor import acting
from ingest.cli.common import examples, open_dock, problem_lines
from ingest.cli.links import case_number
from ingest.config import Settings
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.export.requests import (
    PURPOSES,
    ApprovalDenied,
    approve_export,
    record_denied,
    request_export,
)
from ingest.export.run import build_export
from ingest.output import Output
from storage.catalog.exports import Export, ExportOps
from verify.log.note import NoteError, parse_verifier_key
from verify.package.verify_bag import check_bag
from verify.problems import Problem


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "export",
        help=_("disclosure packages: request, approve, build (Art. 30)"),
        epilog=examples(
            'evidock export request --case 2026-001 --for "当事人 张三" --purpose 查阅',
            'evidock export request --item 12 --item 13 --for "某区人民法院" --purpose 诉讼',
            "evidock export approve 4",
            "evidock export build 4 --out /media/usb/export-4.zip",
        ),
    )
    ops = s.add_subparsers(dest="export_command", required=True)
    r = ops.add_parser(
        "request",
        help=_("ask for a package for a recipient and a purpose; prints the export id"),
        epilog=examples(
            'evidock export request --case 2026-001 --for "当事人 张三" --purpose 查阅',
            'evidock export request --item 12 --item 13 --for "某区人民法院" --purpose 诉讼 '
            "--originals --copies",
        ),
    )
    r.add_argument("--case", metavar="N", help=_("every item linked to the case"))
    r.add_argument("--item", metavar="ID", type=int, action="append", default=[])
    r.add_argument("--for", dest="recipient", required=True, metavar="WHO",
                   help=_('the recipient, e.g. "当事人 张三"'))  # fmt: skip
    r.add_argument("--purpose", required=True, choices=PURPOSES)
    r.add_argument("--originals", action="store_true", help=_("the untouched originals"))
    r.add_argument("--copies", action="store_true", help=_("view copies with burned-in text"))
    r.set_defaults(func=cmd_request)
    a = ops.add_parser(
        "approve",
        help=_("approve a request (approver or custodian role)"),
        epilog=examples("evidock export approve 4"),
    )
    a.add_argument("export_id", type=int, metavar="ID")
    a.set_defaults(func=cmd_approve)
    b = ops.add_parser(
        "build",
        help=_("build the package of an approved request"),
        epilog=examples(
            "evidock export build 4 --out /media/usb/export-4.zip",
            "evidock export build 4 --out ./export-4 --override-fixity --reason '法院调取'",
        ),
    )
    b.add_argument("export_id", type=int, metavar="ID")
    b.add_argument("--out", required=True, type=Path, metavar="DIR|FILE.zip")
    b.add_argument(
        "--override-fixity",
        action="store_true",
        help=_("include items whose last fixity check failed (needs --reason)"),
    )
    b.add_argument("--reason", help=_("why (recorded in the custody event)"))
    b.set_defaults(func=cmd_build)
    ls = ops.add_parser(
        "list", help=_("every export and its state"), epilog=examples("evidock export list")
    )
    ls.set_defaults(func=cmd_list)

    v = sub.add_parser(
        "verify-export",
        help=_("check a package offline (the same checks as its verify_bag.py)"),
        epilog=examples(
            "evidock verify-export export-4.zip --key 'dock-01+1a2b3c4d+AbCd...'",
            "evidock verify-export ./export-4 --json",
        ),
    )
    v.add_argument("bag", type=Path, metavar="BAG", help=_("the package folder or .zip"))
    v.add_argument("--key", metavar="KEY", help=_("the dock's verifier key, or a file holding it"))
    v.set_defaults(func=cmd_verify_export)


def export_json(e: Export) -> dict[str, Any]:
    return {
        "id": e.id,
        "status": e.status,
        "case": e.case_number,
        "items": list(e.items),
        "recipient": e.recipient,
        "purpose": e.purpose,
        "originals": e.originals,
        "copies": e.copies,
        "requested_by": e.requested_by,
        "requested_at": e.requested_at.isoformat(),
        "approved_by": e.approved_by,
        "approved_at": None if e.approved_at is None else e.approved_at.isoformat(),
        "built_at": None if e.built_at is None else e.built_at.isoformat(),
        "package_sha256": e.package_sha256,
        "path": e.path,
    }


def cmd_request(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        with ctx.catalog.write() as txn:
            export = request_export(
                txn, ctx, case=case_number(args.case) if args.case else None, items=args.item,
                recipient=args.recipient, purpose=args.purpose, originals=args.originals,
                copies=args.copies, actor=actor,
            )  # fmt: skip
    finally:
        ctx.close()
    out.document(export_json(export))
    out.line(f"{export.id}")
    out.line(
        n_(
            "export request #{id} recorded ({n} item); next: evidock export approve {id}",
            "export request #{id} recorded ({n} items); next: evidock export approve {id}",
            len(export.items),
        ).format(id=export.id, n=len(export.items))
    )
    return EXIT_OK


def cmd_approve(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        actor, person = acting(ctx)
        try:
            with ctx.catalog.write() as txn:
                export = approve_export(txn, ctx, args.export_id, actor=actor, person=person)
        except ApprovalDenied as e:
            with ctx.catalog.write() as txn:
                record_denied(txn, ctx, args.export_id, actor=actor, person=person,
                              why=e.recorded)  # fmt: skip
            raise
    finally:
        ctx.close()
    out.document(export_json(export))
    out.line(
        _(
            "export #{id} approved by {actor}; next: evidock export build {id} --out DIR|FILE.zip"
        ).format(id=export.id, actor=actor)
    )
    return EXIT_OK


def cmd_build(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    reason = (args.reason or "").strip() or None
    if args.override_fixity and reason is None:
        raise UsageError(
            _("--override-fixity needs --reason"),
            hint=_("Say why items whose fixity check failed must go out anyway."),
        )
    ctx = open_dock(settings)
    try:
        actor = acting(ctx)[0]
        override = reason if args.override_fixity else None
        export, built = build_export(
            ctx, args.export_id, args.out, actor=actor, override_reason=override
        )
    finally:
        ctx.close()
    out.document({**export_json(export), **built.event_data()})
    of = _("the zip file") if built.is_zip else _("its tagmanifest-sha256.txt")
    out.line(f"{built.path}")
    files = n_("{n} file", "{n} files", len(built.files)).format(n=len(built.files))
    events = n_("{n} custody event", "{n} custody events", built.events).format(n=built.events)
    out.line(_("package built: {files}, {events}").format(files=files, events=events))
    out.line(_("package sha256 ({of}): {sha256}").format(of=of, sha256=built.sha256))
    return EXIT_OK


def cmd_list(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        with ctx.catalog.read() as txn:
            exports = ExportOps(txn).all()
    finally:
        ctx.close()
    out.document([export_json(e) for e in exports])
    out.table(
        [_("id"), _("status"), _("case"), _("items"), _("for"), _("purpose"), _("approved by"),
         _("sha256")],
        [
            [e.id, e.status, e.case_number or "-", len(e.items), e.recipient, e.purpose,
             e.approved_by or "-", (e.package_sha256 or "-")[:16]]
            for e in exports
        ],
    )  # fmt: skip
    return EXIT_OK


def cmd_verify_export(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    key = _key(args.key)
    if not args.bag.exists():
        raise UsageError(
            _("{bag}: no such package").format(bag=args.bag),
            hint=_("Give the folder or .zip."),
        )
    findings, counts = check_bag(args.bag, key)
    problems = [
        Problem(code=f.code, subject=f.subject, expected=f.expected, found=f.found)
        for f in findings
    ]
    out.document({"ok": not problems, **counts, "key_from_package": key is None,
                  "problems": [p.to_json() for p in problems]})  # fmt: skip
    problem_lines(out, problems, with_item=False)
    if problems:
        out.line(
            n_(
                "verify-export: FAILED, {n} problem",
                "verify-export: FAILED, {n} problems",
                len(problems),
            ).format(n=len(problems))
        )
        return EXIT_FAILURE
    files = n_("{n} file", "{n} files", counts["files"]).format(n=counts["files"])
    events = n_("{n} custody event", "{n} custody events", counts["events"]).format(
        n=counts["events"]
    )
    out.line(
        _("verify-export: OK, {files}, {events} in the log signed at size {size}").format(
            files=files, events=events, size=counts["tree_size"]
        )
    )
    if key is None:
        out.line(
            _(
                "note: checked with the key inside the package; give --key to compare it with "
                "the office's published key"
            )
        )
    return EXIT_OK


def _key(text: str | None) -> str | None:
    if text is None:
        return None
    path = Path(text)
    if "+" not in text and path.is_file():
        text = path.read_text(encoding="utf-8").strip()
    try:
        parse_verifier_key(text)
    except NoteError as e:
        raise UsageError(
            _("--key: {error}").format(error=e),
            hint=_("Give the verifier key as the office publishes it."),
        ) from e
    return text
