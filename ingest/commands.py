"""Handlers of the ``evidock`` subcommands: parse nothing, decide little, print results."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from ingest.config import Settings
from ingest.context import Context, open_context, os_actor
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.output import Output, item_json
from ingest.pipeline import FAILED, FileResult, ingest_device

_MARK = {"stored": "stored ", "already": "already", "failed": "FAILED ", "not_acquired": "skipped"}


def _ctx(settings: object) -> Context:
    assert isinstance(settings, Settings)
    return open_context(settings)


def parse_time(text: str, settings: Settings) -> datetime:
    """An ISO time from the command line; without a zone it is read in the configured zone."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError as e:
        raise UsageError(
            f"{text!r} is not a time", hint="Write times like 2026-11-26T08:30 or with +08:00."
        ) from e
    if t.tzinfo is None:
        t = t.replace(tzinfo=settings.zone)
    return t.astimezone(UTC)


def cmd_init(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    s = ctx.settings
    out.document(
        {
            "data_dir": str(s.data_dir),
            "catalog": s.catalog_url,
            "dock": ctx.dock.name,
            "key_created": ctx.key_created,
            "verifier_key": ctx.key.verifier,
        }
    )
    out.line(f"data dir     {s.data_dir}")
    out.line(f"catalog      {s.catalog_url}")
    out.line(f"dock         {ctx.dock.name}")
    out.line(f"signing key  {'created' if ctx.key_created else 'present'}: {ctx.key.verifier}")
    ctx.close()
    return EXIT_OK


def cmd_ingest(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)

    def show(r: FileResult) -> None:
        ident = f"#{r.item}" if r.item is not None else "-"
        sha = r.sha256[:12] if r.sha256 else "-" * 12
        extra = f"  [{', '.join(r.flags)}]" if r.flags else ""
        why = f"  ({r.reason})" if r.reason and r.result != "stored" else ""
        out.line(f"{_MARK.get(r.result, r.result)}  {ident:>6}  {sha}  {r.path}{extra}{why}")

    try:
        report = ingest_device(
            ctx,
            args.path,
            serial=args.device,
            officer=args.officer,
            actor=os_actor(),
            on_file=show,
        )
    finally:
        ctx.close()
    summary = report.summary()
    out.document(
        {
            "session": report.session,
            "device": report.device,
            "officer": report.officer,
            "files": [
                {
                    "path": f.path,
                    "result": f.result,
                    "item": f.item,
                    "sha256": f.sha256,
                    "size": f.size,
                    "flags": list(f.flags),
                    "reason": f.reason,
                }
                for f in report.files
            ],
            "summary": summary,
            "checkpoint_size": report.checkpoint_size,
        }
    )
    out.line(
        f"session {report.session}, device {report.device}: {summary['stored']} stored, "
        f"{summary['already']} already in the catalog, {summary['failed']} failed, "
        f"{summary['not_acquired']} not acquired, {summary['flagged']} flagged"
    )
    if summary["failed"]:
        out.line("Failed files stay on the device; see the reasons above and dock it again.")
    return EXIT_FAILURE if report.count(FAILED) else EXIT_OK


def cmd_items(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    with ctx.catalog.read() as txn:
        items = txn.items(device=args.device, officer=args.officer)
    ctx.close()
    out.document([item_json(i) for i in items])
    out.table(
        ["ID", "SHA256", "SIZE", "DEVICE", "OFFICER", "RECORDED", "STATE", "FLAGS", "PATH"],
        [
            [
                i.id,
                i.sha256[:12],
                i.size,
                i.device_serial,
                i.officer_badge or "-",
                out.when(i.facts.recorded_start),
                i.state,
                ",".join(i.facts.flags) or "-",
                i.original_path_display,
            ]
            for i in items
        ],
    )
    return EXIT_OK


def cmd_custody(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    with ctx.catalog.read() as txn:
        item = txn.item(args.item)
        events = txn.log.events_for_item(item.id)
    ctx.close()
    doc: dict[str, Any] = {
        "item": item_json(item),
        "events": [
            {
                "seq": e.seq,
                "time": e.time,
                "type": e.type,
                "actor": e.actor,
                "dock": e.dock,
                "data": json.loads(e.data),
                "prev": e.prev,
            }
            for e in events
        ],
    }
    out.document(doc)
    out.line(f"item #{item.id}  sha256 {item.sha256}  {item.size} bytes")
    out.line(f"from {item.device_serial}:{item.original_path_display}")
    for e in events:
        t = datetime.strptime(e.time, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        out.line(f"  #{e.seq:<6} {out.when(t)}  {e.type:<18} {e.actor:<16} dock {e.dock}")
    return EXIT_OK


def cmd_checkpoint(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    size, taken = ctx.checkpoint()
    ctx.close()
    out.document({"size": size, "taken": taken})
    out.line(f"checkpoint of {size} events {'signed' if taken else 'already signed'}")
    return EXIT_OK


def cmd_device_add(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    with ctx.catalog.write() as txn:
        now = ctx.clock()
        existing = txn.find_device(args.serial)
        if existing is not None and not existing.registered:
            raise UsageError(
                f"device {args.serial!r} was seen before it was registered",
                hint="Its recordings are kept; registering seen devices comes with docking.",
            )
        dev = txn.add_device(
            serial=args.serial,
            kind=args.kind,
            vendor=args.vendor,
            model=args.model,
            profile="",
            registered=True,
            now=now,
        )
        if args.officer:
            txn.assign_device(serial=dev.serial, badge=args.officer, start=now)
    ctx.close()
    out.document({"serial": dev.serial, "officer": args.officer})
    out.line(
        f"device {dev.serial} registered" + (f", held by {args.officer}" if args.officer else "")
    )
    return EXIT_OK


def cmd_device_list(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    with ctx.catalog.read() as txn:
        devices = txn.devices()
    ctx.close()
    out.document(
        [
            {
                "serial": d.serial,
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
        ["SERIAL", "KIND", "MODEL", "REGISTERED", "OFFICER", "LAST DOCKED"],
        [
            [
                d.serial,
                d.kind,
                d.model or "-",
                "yes" if d.registered else "NO",
                d.officer_badge or "-",
                out.when(d.last_docked_at),
            ]
            for d in devices
        ],
    )
    return EXIT_OK


def cmd_device_assign(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    start = parse_time(args.start, ctx.settings) if args.start else ctx.clock()
    with ctx.catalog.write() as txn:
        txn.assign_device(serial=args.serial, badge=args.badge, start=start)
    ctx.close()
    out.document({"serial": args.serial, "officer": args.badge, "from": start.isoformat()})
    out.line(f"device {args.serial} held by {args.badge} from {out.when(start)}")
    return EXIT_OK


def cmd_officer_add(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    with ctx.catalog.write() as txn:
        o = txn.add_officer(
            badge=args.badge,
            name=args.name,
            unit=args.unit,
            certificate_no=args.certificate,
            now=ctx.clock(),
        )
    ctx.close()
    out.document({"badge": o.badge, "name": o.name})
    out.line(f"officer {o.badge} ({o.name}) registered")
    return EXIT_OK


def cmd_officer_list(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = _ctx(settings)
    with ctx.catalog.read() as txn:
        officers = txn.officers()
    ctx.close()
    out.document(
        [
            {"badge": o.badge, "name": o.name, "unit": o.unit, "certificate": o.certificate_no}
            for o in officers
        ]
    )
    out.table(
        ["BADGE", "NAME", "UNIT", "CERTIFICATE"],
        [[o.badge, o.name, o.unit or "-", o.certificate_no or "-"] for o in officers],
    )
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, out: Output, settings: object) -> int:
    from ingest.demo import run_demo

    assert isinstance(settings, Settings)
    return run_demo(settings, out, args)
