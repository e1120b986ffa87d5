"""``evidock device retire|lost|repair|return`` (issue 20): a device's life as custody events.

A retired, lost or broken device is not expected at a dock, so it is not reported "not docked
for 24 h"; a lost one is its own alarm, since what it recorded after its last docking may never
be offloaded. History is added to, never rewritten.
"""

from __future__ import annotations

import argparse
from typing import Any

from i18n import N_, _
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
    "retire": (RETIRED, N_("taken out of service for good")),
    "lost": (LOST, N_("reported lost: what it holds may be lost")),
    "repair": (REPAIR, N_("sent to repair")),
    "return": (IN_SERVICE, N_("back in service: repaired or found")),
}


def add_parsers(dev: Any) -> None:
    for command, (status, help_text) in _COMMANDS.items():
        s = dev.add_parser(
            command,
            help=_(help_text),
            epilog=examples(
                f'evidock device {command} BWC-7 --reason "屏幕损坏 broken screen"',
                f'evidock device {command} BWC-7 --reason "..." --at 2026-11-26T08:00',
            ),
        )
        s.add_argument("serial")
        s.add_argument("--reason", required=True, help=_("why (recorded in the custody log)"))
        s.add_argument("--at", metavar="TIME", help=_("since when (default: now)"))
        s.set_defaults(func=cmd_device_status, status=status)


def cmd_device_status(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    status: str = args.status
    if not args.reason.strip():
        raise UsageError(_("the reason is empty"), hint=_("Say why in --reason."))
    given = parse_time(args.at, settings) if args.at else None
    ctx = open_dock(settings)
    try:
        at = given if given is not None else ctx.clock()
        with ctx.catalog.write() as txn:
            history = txn.device_statuses(args.serial)
            was = history[-1].status if history else IN_SERVICE
            if was == RETIRED:
                raise UsageError(
                    _("device {serial} is retired for good").format(serial=args.serial),
                    hint=_("Register a replacement device with 'evidock device add'."),
                )
            if was == status:
                raise UsageError(
                    _("device {serial} is already {status}").format(
                        serial=args.serial, status=label(DEVICE_STATUSES, status)
                    ),
                    hint=_("Nothing to record."),
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
        _("device {serial}: {was} → {status} ({at}; {reason})").format(
            serial=args.serial,
            was=label(DEVICE_STATUSES, was),
            status=label(DEVICE_STATUSES, status),
            at=out.when(at),
            reason=args.reason,
        )
    )
    if status == LOST:
        out.line(
            _(
                "Recordings made since its last docking may never be offloaded: note it in the "
                "affected case files."
            )
        )
    return EXIT_OK
