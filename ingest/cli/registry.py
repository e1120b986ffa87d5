"""``evidock init``, ``evidock device add|list|assign`` and ``evidock officer add|list``: the
data directory, and who holds which device."""

from __future__ import annotations

import argparse
from typing import Any

from i18n import _
from ingest.cases.lifecycle import log_assignment, log_device, log_officer  # issue 14
from ingest.cases.vocab import DEVICE_STATUSES, label
from ingest.cli import devicelife
from ingest.cli.common import examples, open_dock, parse_time
from ingest.config import Settings
from ingest.context import os_actor
from ingest.errors import EXIT_OK
from ingest.output import Output, pad, width
from storage.catalog.caserecords import IN_SERVICE
from storage.catalog.offload import OffloadOps


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "init",
        help=_("create the data dir, catalog and signing key (idempotent)"),
        description=_(
            "The one command that makes a data directory: its catalog (migrated to the newest "
            "schema), its store and this dock's signing key. Run it again at any time: it "
            "changes nothing that is there and prints the verifier key to publish."
        ),
        epilog=examples("EVIDOCK_HOME=/srv/evidock evidock init", "evidock init --json"),
    )
    s.set_defaults(func=cmd_init)

    dev = sub.add_parser(
        "device",
        help=_("register and list devices"),
        epilog=examples("evidock device add BWC-7 --officer J1", "evidock device list"),
    ).add_subparsers(dest="action", required=True)
    s = dev.add_parser(
        "add",
        help=_("register a device by its serial"),
        epilog=examples(
            "evidock device add BWC-7",
            "evidock device add REC-2 --kind audio-recorder --vendor Acme --officer J1",
        ),
    )
    s.add_argument("serial")
    s.add_argument(
        "--kind", default="body-camera", help=_("body-camera, audio-recorder, camera, ...")
    )
    s.add_argument("--vendor", default="")
    s.add_argument("--model", default="")
    s.add_argument("--officer", metavar="BADGE", help=_("assign it to this officer from now on"))
    s.add_argument("--in-service-since", metavar="TIME", help=_("documented start of service"))
    s.set_defaults(func=cmd_device_add)
    s = dev.add_parser(
        "list",
        help=_("list devices"),
        epilog=examples("evidock device list", "evidock device list --json"),
    )
    s.set_defaults(func=cmd_device_list)
    s = dev.add_parser(
        "assign",
        help=_("hand a device to an officer (history is kept)"),
        epilog=examples(
            "evidock device assign BWC-7 J2",
            "evidock device assign BWC-7 J2 --from 2026-11-26T08:00",
        ),
    )
    s.add_argument("serial")
    s.add_argument("badge")
    s.add_argument("--from", dest="start", metavar="TIME", help=_("ISO time (default: now)"))
    s.add_argument("--reason", help=_("why an earlier custody is recorded only now"))
    s.set_defaults(func=cmd_device_assign)
    devicelife.add_parsers(dev)  # retire, lost, repair, return (issue 20)

    off = sub.add_parser(
        "officer",
        help=_("register and list officers"),
        epilog=examples('evidock officer add J1 --name "Zhang San"', "evidock officer list"),
    ).add_subparsers(dest="action", required=True)
    s = off.add_parser(
        "add",
        help=_("register an officer"),
        epilog=examples(
            'evidock officer add J1 --name "Zhang San" --unit "Team 1" --certificate 21010000001'
        ),
    )
    s.add_argument("badge")
    s.add_argument("--name", required=True)
    s.add_argument("--unit", default="")
    s.add_argument("--certificate", default="", help=_("enforcement certificate number"))
    s.set_defaults(func=cmd_officer_add)
    s = off.add_parser(
        "list",
        help=_("list officers"),
        epilog=examples("evidock officer list", "evidock officer list --json"),
    )
    s.set_defaults(func=cmd_officer_list)


def cmd_init(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings, create=True)  # the one command that makes a data dir
    ctx.close()
    out.document(
        {
            "data_dir": str(settings.data_dir),
            "catalog": settings.catalog_url,
            "dock": ctx.dock.name,
            "key_created": ctx.key_created,
            "verifier_key": ctx.key.verifier,
        }
    )
    key = _("created: {key}") if ctx.key_created else _("present: {key}")
    facts = [
        (_("data dir"), str(settings.data_dir)),
        (_("catalog"), settings.catalog_url),
        (_("dock"), ctx.dock.name),
        (_("signing key"), key.format(key=ctx.key.verifier)),
    ]
    wide = max(width(name) for name, _value in facts) + 2
    for name, value in facts:
        out.line(f"{pad(name, wide)}{value}")
    return EXIT_OK


def cmd_device_add(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    since = parse_time(args.in_service_since, settings) if args.in_service_since else None
    ctx = open_dock(settings)
    try:
        with ctx.catalog.write() as txn:
            now = ctx.clock()
            existing = txn.find_device(args.serial)
            if existing is not None and not existing.registered:
                # docked before it was registered (a profile that takes registered cameras
                # only refused it and said to register it): the seen device becomes registered
                dev = txn.register_seen_device(
                    serial=args.serial, kind=args.kind, vendor=args.vendor, model=args.model,
                    in_service_since=since,
                )  # fmt: skip
            else:
                dev = txn.add_device(
                    serial=args.serial,
                    kind=args.kind,
                    vendor=args.vendor,
                    model=args.model,
                    profile="",
                    registered=True,
                    now=now,
                    in_service_since=since,
                )
            log_device(txn, ctx, dev, actor=os_actor())
            if args.officer:
                txn.assign_device(serial=dev.serial, badge=args.officer, start=now)
                log_assignment(txn, ctx, serial=dev.serial, badge=args.officer, start=now,
                               actor=os_actor())  # fmt: skip
    finally:
        ctx.close()
    out.document({"serial": dev.serial, "officer": args.officer})
    done = (
        _("device {serial} registered, held by {officer}")
        if args.officer
        else _("device {serial} registered")
    )
    out.line(done.format(serial=dev.serial, officer=args.officer))
    return EXIT_OK


def cmd_device_list(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        with ctx.catalog.read() as txn:
            devices = txn.devices()
            status = OffloadOps(txn).statuses_at([d.id for d in devices], at=ctx.clock())
    finally:
        ctx.close()
    by_serial = {d.serial: d.id for d in devices}

    def now(serial: str) -> str:  # issue 20: no status row is in service
        return status.get(by_serial[serial], IN_SERVICE)

    out.document(
        [
            {
                "serial": d.serial,
                "status": now(d.serial),
                "kind": d.kind,
                "vendor": d.vendor,
                "model": d.model,
                "registered": d.registered,
                "officer": d.officer_badge,
                "last_docked_at": d.last_docked_at.isoformat() if d.last_docked_at else None,
            }
            for d in devices
        ]
    )
    out.table(
        [
            _("SERIAL"),
            _("KIND"),
            _("MODEL"),
            _("REGISTERED"),
            _("STATUS"),
            _("OFFICER"),
            _("LAST DOCKED"),
        ],
        [
            [
                d.serial,
                d.kind,
                d.model or "-",
                _("yes") if d.registered else _("NO"),
                label(DEVICE_STATUSES, now(d.serial)),
                d.officer_badge or "-",
                out.when(d.last_docked_at),
            ]
            for d in devices
        ],
    )
    return EXIT_OK


def cmd_device_assign(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    given = parse_time(args.start, settings) if args.start else None
    ctx = open_dock(settings)
    try:
        start = given if given is not None else ctx.clock()
        with ctx.catalog.write() as txn:
            until = txn.assign_device(
                serial=args.serial, badge=args.badge, start=start, reason=args.reason
            )
            # one device_assigned event per assignment; an earlier custody recorded later
            # also names where it ends and why it is recorded only now
            log_assignment(txn, ctx, serial=args.serial, badge=args.badge, start=start,
                           actor=os_actor(), until=until, reason=args.reason)  # fmt: skip
    finally:
        ctx.close()
    out.document(
        {
            "serial": args.serial,
            "officer": args.badge,
            "from": start.isoformat(),
            "until": None if until is None else until.isoformat(),
        }
    )
    held = (
        _("device {serial} held by {badge} from {start} until {until} (recorded later: {reason})")
        if until
        else _("device {serial} held by {badge} from {start}")
    )
    out.line(
        held.format(serial=args.serial, badge=args.badge, start=out.when(start),
                    until=out.when(until), reason=args.reason)
    )  # fmt: skip
    return EXIT_OK


def cmd_officer_add(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        with ctx.catalog.write() as txn:
            o = txn.add_officer(
                badge=args.badge,
                name=args.name,
                unit=args.unit,
                certificate_no=args.certificate,
                now=ctx.clock(),
            )
            log_officer(txn, ctx, o, actor=os_actor())
    finally:
        ctx.close()
    out.document({"badge": o.badge, "name": o.name})
    out.line(_("officer {badge} ({name}) registered").format(badge=o.badge, name=o.name))
    return EXIT_OK


def cmd_officer_list(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        with ctx.catalog.read() as txn:
            officers = txn.officers()
    finally:
        ctx.close()
    out.document(
        [
            {"badge": o.badge, "name": o.name, "unit": o.unit, "certificate": o.certificate_no}
            for o in officers
        ]
    )
    out.table(
        [_("BADGE"), _("NAME"), _("UNIT"), _("CERTIFICATE")],
        [[o.badge, o.name, o.unit or "-", o.certificate_no or "-"] for o in officers],
    )
    return EXIT_OK
