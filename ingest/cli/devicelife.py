"""``evidock device retire|lost|repair|return`` (issue 20): a device's life as custody events.

A retired, lost or broken device is not expected at a dock, so it is not reported "not docked
for 24 h"; a lost one is its own alarm, since what it recorded after its last docking may never
be offloaded. History is added to, never rewritten.
"""

from __future__ import annotations

import argparse
from typing import Any

from ingest.cases.lifecycle import log_device_status
from ingest.cases.vocab import DEVICE_STATUSES, label
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK, UsageError
from ingest.output import Output
from storage.catalog.caserecords import IN_SERVICE, LOST, REPAIR, RETIRED

# command -> (the status it records, what it says)
_COMMANDS = {
    "retire": (RETIRED, "停用报废：不再使用 / taken out of service for good"),
    "lost": (LOST, "报告遗失：其上未上传的录像无法移交 / reported lost: what it holds may be lost"),
    "repair": (REPAIR, "送修：暂不使用 / sent to repair"),
    "return": (IN_SERVICE, "恢复使用：维修返回或找回 / back in service: repaired or found"),
}


def add_parsers(dev: Any) -> None:
    for command, (_, help_text) in _COMMANDS.items():
        s = dev.add_parser(
            command,
            help=help_text,
            epilog=examples(
                f'evidock device {command} BWC-7 --reason "屏幕损坏 broken screen"',
                f'evidock device {command} BWC-7 --reason "..." --at 2026-11-26T08:00',
            ),
        )
        s.add_argument("serial")
        s.add_argument("--reason", required=True, help="why (recorded in the custody log)")
        s.add_argument("--at", metavar="TIME", help="since when (default: now)")
        s.set_defaults(func=cmd_device_status, status=_COMMANDS[command][0])


def cmd_device_status(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    status: str = args.status
    if not args.reason.strip():
        raise UsageError("原因不能为空 / the reason is empty", hint="Say why in --reason.")
    given = parse_time(args.at, settings) if args.at else None
    ctx = open_dock(settings)
    try:
        at = given if given is not None else ctx.clock()
        with ctx.catalog.write() as txn:
            history = txn.device_statuses(args.serial)
            was = history[-1].status if history else IN_SERVICE
            if was == RETIRED:
                raise UsageError(
                    f"设备 {args.serial} 已报废，不能再变更 / device {args.serial} is retired "
                    "for good",
                    hint="Register a replacement device with 'evidock device add'.",
                )
            if was == status:
                raise UsageError(
                    f"设备 {args.serial} 已是此状态 / device {args.serial} is already "
                    f"{label(DEVICE_STATUSES, status)}",
                    hint="Nothing to record.",
                )
            txn.set_device_status(
                serial=args.serial, status=status, start=at, reason=args.reason, actor=os_actor()
            )
            log_device_status(txn, ctx, serial=args.serial, status=status, was=was, start=at,
                              reason=args.reason, actor=os_actor())  # fmt: skip
    finally:
        ctx.close()
    out.document({"serial": args.serial, "status": status, "from": was, "at": at.isoformat()})
    out.line(
        f"设备 device {args.serial}: {label(DEVICE_STATUSES, was)} → "
        f"{label(DEVICE_STATUSES, status)} ({out.when(at)}; {args.reason})"
    )
    if status == LOST:
        out.line(
            "遗失设备上自上次对接以来的录像可能无法移交：请在相关案卷中说明。/ Recordings made "
            "since its last docking may never be offloaded: note it in the affected case files."
        )
    return EXIT_OK
