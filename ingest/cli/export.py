"""``evidock export request|approve|build|list`` and ``evidock verify-export``: disclosure
packages (Art. 30) that anyone can check offline (issue 17)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

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
        help="disclosure packages: request, approve, build (Art. 30) / 证据导出",
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
        help="ask for a package for a recipient and a purpose; prints the export id",
        epilog=examples(
            'evidock export request --case 2026-001 --for "当事人 张三" --purpose 查阅',
            'evidock export request --item 12 --item 13 --for "某区人民法院" --purpose 诉讼 '
            "--originals --copies",
        ),
    )
    r.add_argument("--case", metavar="N", help="every item linked to the case")
    r.add_argument("--item", metavar="ID", type=int, action="append", default=[])
    r.add_argument("--for", dest="recipient", required=True, metavar="WHO",
                   help='the recipient, e.g. "当事人 张三"')  # fmt: skip
    r.add_argument("--purpose", required=True, choices=PURPOSES)
    r.add_argument("--originals", action="store_true", help="the untouched originals")
    r.add_argument("--copies", action="store_true", help="view copies with burned-in text")
    r.set_defaults(func=cmd_request)
    a = ops.add_parser(
        "approve",
        help="approve a request (approver or custodian role)",
        epilog=examples("evidock export approve 4"),
    )
    a.add_argument("export_id", type=int, metavar="ID")
    a.set_defaults(func=cmd_approve)
    b = ops.add_parser(
        "build",
        help="build the package of an approved request",
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
        help="include items whose last fixity check failed (needs --reason)",
    )
    b.add_argument("--reason", help="why (recorded in the custody event)")
    b.set_defaults(func=cmd_build)
    ls = ops.add_parser(
        "list", help="every export and its state", epilog=examples("evidock export list")
    )
    ls.set_defaults(func=cmd_list)

    v = sub.add_parser(
        "verify-export",
        help="check a package offline (the same checks as its verify_bag.py) / 核验证据包",
        epilog=examples(
            "evidock verify-export export-4.zip --key 'dock-01+1a2b3c4d+AbCd...'",
            "evidock verify-export ./export-4 --json",
        ),
    )
    v.add_argument("bag", type=Path, metavar="BAG", help="the package folder or .zip")
    v.add_argument("--key", metavar="KEY", help="the dock's verifier key, or a file holding it")
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
        actor, _ = acting(ctx)
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
        f"导出申请 #{export.id} 已登记，共 {len(export.items)} 个项目，待审批 / export request "
        f"#{export.id} recorded ({len(export.items)} items); next: evidock export approve "
        f"{export.id}"
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
                record_denied(txn, ctx, args.export_id, actor=actor, person=person, why=str(e))
            raise
    finally:
        ctx.close()
    out.document(export_json(export))
    out.line(
        f"导出 #{export.id} 已由 {actor} 批准 / export #{export.id} approved by {actor}; next: "
        f"evidock export build {export.id} --out DIR|FILE.zip"
    )
    return EXIT_OK


def cmd_build(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    reason = (args.reason or "").strip() or None
    if args.override_fixity and reason is None:
        raise UsageError(
            "--override-fixity 需要 --reason / --override-fixity needs --reason",
            hint="Say why items whose fixity check failed must go out anyway.",
        )
    ctx = open_dock(settings)
    try:
        actor, _ = acting(ctx)
        override = reason if args.override_fixity else None
        export, built = build_export(
            ctx, args.export_id, args.out, actor=actor, override_reason=override
        )
    finally:
        ctx.close()
    out.document({**export_json(export), **built.event_data()})
    of = "the zip file" if built.is_zip else "its tagmanifest-sha256.txt"
    out.line(f"{built.path}")
    out.line(
        f"证据包已生成：{len(built.files)} 个文件，{built.events} 条保管事件 / package built: "
        f"{len(built.files)} files, {built.events} custody events"
    )
    out.line(f"package sha256 ({of}): {built.sha256}")
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
        ["id", "status", "case", "items", "for", "purpose", "approved by", "sha256"],
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
        raise UsageError(f"{args.bag} 不存在 / no such package", hint="Give the folder or .zip.")
    findings, counts = check_bag(args.bag, key)
    problems = [
        Problem(code=f.code, subject=f.subject, expected=f.expected, found=f.found)
        for f in findings
    ]
    out.document({"ok": not problems, **counts, "key_from_package": key is None,
                  "problems": [p.to_json() for p in problems]})  # fmt: skip
    problem_lines(out, problems, with_item=False)
    if problems:
        out.line(f"verify-export: 未通过 FAILED, {len(problems)} problem(s)")
        return EXIT_FAILURE
    out.line(
        f"verify-export: 通过 OK, {counts['files']} files, {counts['events']} custody events "
        f"in the log signed at size {counts['tree_size']}"
    )
    if key is None:
        out.line("注意 / note: checked with the key inside the package; give --key to compare "
                 "it with the office's published key")  # fmt: skip
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
            f"--key: {e}", hint="Give the verifier key as the office publishes it."
        ) from e
    return text
