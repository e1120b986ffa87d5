"""``evidock demo``: the whole job on a simulated camera, end to end, told step by step."""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from i18n import _
from ingest.access import people
from ingest.access.roles import Role
from ingest.cases.lifecycle import log_assignment, log_case, log_device, log_officer
from ingest.cases.links import link_items
from ingest.cases.overdue import build_report
from ingest.cli.common import examples
from ingest.config import Settings
from ingest.context import LOG_ORIGIN, Context, open_context, os_actor
from ingest.dock.receipt import read_receipt, receipt_lines
from ingest.errors import EXIT_FAILURE, EXIT_OK
from ingest.export.build import Spec, build_package
from ingest.jobs.proxies import proxy_states
from ingest.jobs.worker import WorkerPool
from ingest.media.simcam import make_camera
from ingest.output import Output, path_text, shown_path
from ingest.pipeline.run import FileResult, ingest_device
from storage.catalog.caserecords import NewCase
from storage.catalog.cases import CaseOps
from storage.records import Item
from verify.audit.run import run_audit

SERIAL = "BWC-DEMO-0001"
BADGE = "J0001"
DEMO_CASE = "2026-0001"
DEMO_LOGIN = "demo.custodian"


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "demo",
        help=_("the whole job on a simulated camera, end to end"),
        description=_(
            "Registers an officer and a body camera, docks a simulated camera twice, "
            "makes review proxies, runs the overdue scan and verify, in a data dir of its own "
            "(never the configured one)."
        ),
        epilog=examples("evidock demo", "evidock demo --home /tmp/evidock-demo"),
    )
    s.add_argument("--home", type=Path, help=_("data dir for the demo (default: a new temp dir)"))
    s.set_defaults(func=cmd_demo)


def _proxies(ctx: Context, out: Output) -> int:
    """Issue 5: the job queue that ingest filled, worked to empty as 'evidock worker --drain'
    would, then each item's derivatives (or why it has none)."""
    out.line(
        "== " + _("review proxies: the queue run to empty (evidock worker --drain), below ingest")
    )
    quick = dataclasses.replace(ctx.settings.worker, retry_seconds=0.0, concurrency=2)
    WorkerPool(ctx, drain=True, settings=quick).run()
    with ctx.catalog.read() as txn:
        items = txn.items()
        states = proxy_states(txn, [i.id for i in items])
    for i in items:
        p = states[i.id]
        made = ", ".join(f"{kind} {sha[:12]}" for kind, sha in p.derived)
        out.line(f"   #{i.id} {path_text(i.original_path)}: {made or p.note or p.state or '-'}")
    out.line(
        "   "
        + _(
            "each one filed under store/derived/sha256/.. and logged as a 'transcoded' custody "
            "event naming the source hash, its own hash, ffmpeg's version and its arguments"
        )
    )
    return ctx.checkpoint()[0]


def _console(ctx: Context, out: Output, home: Path) -> None:
    """Issue 16: the demo's case (its first video linked) and a custodian who can open the
    console; the password is printed once and kept nowhere but as its scrypt hash."""
    now = ctx.clock()
    with ctx.catalog.read() as txn:
        videos = [i.id for i in txn.items() if i.facts.video_codec and not i.facts.flags]
    with ctx.catalog.write() as txn:
        case = CaseOps(txn).add_case(
            NewCase(number=DEMO_CASE, title="演示案件 demo case", enforcement_type="penalty",
                    procedure="general", handler=BADGE, reviewer=None, approver=None,
                    confidentiality="none", opened_at=now, opened_by=os_actor())
        )  # fmt: skip
        log_case(txn, ctx, case, "case_opened")
        password = secrets.token_urlsafe(12)
        person = people.add(txn, ctx, username=DEMO_LOGIN, name="演示保管员 demo custodian",
                            badge=None, unit="Fengli enforcement team", os_user=None,
                            password=password, actor=os_actor())  # fmt: skip
        people.grant(txn, ctx, person, Role.CUSTODIAN, actor=os_actor())
    if videos:
        link_items(ctx, number=DEMO_CASE, item_ids=videos[:1], stage="investigation",
                   activity_id=None, why="demo", actor=os_actor())  # fmt: skip
    port = ctx.settings.console.port
    out.line(
        "== "
        + _("the evidence console: case {case}, custodian {login}").format(
            case=DEMO_CASE, login=DEMO_LOGIN
        )
    )
    out.line(
        "   "
        + _("start it:  {command}").format(
            command=f"EVIDOCK_HOME={home} evidock console --port {port}"
        )
    )
    out.line(
        "   " + _("open:      {url}").format(url=f"http://127.0.0.1:{port}/?case={DEMO_CASE}&all=1")
    )
    out.line(
        "   "
        + _("login:     {login}  password: {password}  (shown once)").format(
            login=DEMO_LOGIN, password=password
        )
    )


def cmd_demo(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    home: Path = args.home if args.home else Path(tempfile.mkdtemp(prefix="evidock-demo-"))
    if home.exists() and any(home.iterdir()):
        if not (home / "catalog.db").exists() or not args.home:
            out.line(
                _("{home} is not empty and not a demo home; give an empty folder").format(home=home)
            )
            return EXIT_FAILURE
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    demo_settings = dataclasses.replace(
        settings, data_dir=home.absolute(), catalog_url=f"sqlite:///{home.absolute()}/catalog.db"
    )
    ctx = open_context(demo_settings, create=True)  # its own new data dir
    out.line("== " + _("evidock demo: data dir {home}").format(home=home))
    out.line(
        "   " + _("dock {dock}, signing key {key}").format(dock=ctx.dock.name, key=ctx.key.verifier)
    )

    with ctx.catalog.write() as txn:
        now = ctx.clock()
        officer = txn.add_officer(badge=BADGE, name="Wang Wei", unit="Fengli enforcement team",
                                  certificate_no="21010000001", now=now)  # fmt: skip
        log_officer(txn, ctx, officer, actor=os_actor())  # as 'evidock officer add' does
        device = txn.add_device(serial=SERIAL, kind="body-camera", vendor="SimCam",
                                model="BWC-1", profile="", registered=True, now=now)  # fmt: skip
        log_device(txn, ctx, device, actor=os_actor())
        txn.assign_device(serial=SERIAL, badge=BADGE, start=now - timedelta(days=7))
        log_assignment(txn, ctx, serial=SERIAL, badge=BADGE, start=now - timedelta(days=7),
                       actor=os_actor())  # fmt: skip
    out.line(
        "== "
        + _("officer {badge} registered; body camera {serial} assigned to them").format(
            badge=BADGE, serial=SERIAL
        )
    )

    with tempfile.TemporaryDirectory(prefix="evidock-simcam-") as cam:
        camera = Path(cam)
        made = make_camera(camera, start=ctx.clock() - timedelta(hours=5))
        out.line(
            "== "
            + _("simulated camera docked at {camera}: {n} files").format(camera=camera, n=len(made))
        )
        for m in made:
            note = " " + _("(cut short, as by a dead battery)") if m.truncated else ""
            out.line(f"   {m.path.relative_to(camera)}  {m.kind}{note}")

        def show(r: FileResult) -> None:
            flags = f"  [{', '.join(r.flags)}]" if r.flags else ""
            ident = f"#{r.item}" if r.item is not None else "-"
            path = shown_path(r.raw_path, r.path)
            out.line(f"   {r.result:<8} {ident:>4}  {(r.sha256 or '')[:16]}  {path}{flags}")

        out.line("== " + _("first docking: copy, hash, read back, probe, store, record"))
        first = ingest_device(ctx, camera, serial=SERIAL, officer=None, actor=os_actor(),
                              on_file=show)  # fmt: skip
        out.line("== " + _("second docking of the same camera: nothing is taken twice"))
        second = ingest_device(ctx, camera, serial=SERIAL, officer=None, actor=os_actor(),
                               on_file=show)  # fmt: skip

        late_cam = Path(cam) / "second-camera"
        make_camera(late_cam, start=ctx.clock() - timedelta(hours=30), clips=1,
                    with_audio=False, with_photo=False, with_truncated=False)  # fmt: skip
        out.line(
            "== " + _("a second camera, docked 30 hours after it recorded (Art. 28: 24 hours)")
        )
        docked_at = ctx.clock()
        third = ingest_device(ctx, late_cam, serial="BWC-DEMO-0002", officer=None,
                              actor=os_actor(), on_file=show)  # fmt: skip
        # issue 20: what the officer reads at the bay (evidock status, the kiosk page)
        receipt = read_receipt(ctx, third, bay="demo", docked_at=docked_at)
        out.line("== " + _("the bay's receipt of that docking (evidock status, the kiosk page):"))
        for line in receipt_lines(receipt, ctx.settings.zone):
            out.line(f"   {line}")

    signed_at = _proxies(ctx, out)  # issue 5
    report = build_report(ctx, actor=os_actor())
    out.line(
        "== " + _("evidock overdue: {n} overdue and not excused").format(n=report.overdue_count)
    )
    for late in report.late:
        delay = late.judgement.delay
        hours = f"{delay.total_seconds() / 3600:.1f} h" if delay is not None else "?"
        out.line(
            "   "
            + _(
                "late: item #{item} {path} on {device}: offloaded {hours} after it was recorded "
                "(excusable: evidock excuse ITEM --reason)"
            ).format(
                item=late.item.item_id,
                path=late.item.path,
                device=late.item.device_serial,
                hours=hours,
            )
        )
    audit = run_audit(ctx.catalog, ctx.store, dock=ctx.dock.name, local_key=ctx.key,
                      origin=LOG_ORIGIN)  # fmt: skip
    c = audit.checked
    out.line(
        "== "
        + _(
            "evidock verify: {result}: {events} custody events replayed, {checkpoints} signed "
            "checkpoints checked, {objects} stored objects re-hashed ({bytes} bytes)"
        ).format(
            result=_("OK") if audit.ok else _("FAILED"),
            events=c.events,
            checkpoints=c.checkpoint_files,
            objects=c.objects_rehashed,
            bytes=c.bytes_rehashed,
        )
    )
    with ctx.catalog.read() as txn:
        items = txn.items()
        first_events = txn.log.events_for_item(items[0].id) if items else []
        log_size = txn.log.head().size
    out.line("== " + _("the catalog"))
    for i in items:
        out.line("   " + _item_line(i, out))
    if items:
        out.line("== " + _("custody of item #{item}").format(item=items[0].id))
        for e in first_events:
            out.line(
                "   "
                + _("#{seq} {time} {type} by {actor} at {dock}").format(
                    seq=e.seq, time=e.time, type=e.type, actor=e.actor, dock=e.dock
                )
            )
    out.line(
        "== "
        + _("custody log: {n} events, checkpoint signed at size {size}").format(
            n=log_size, size=signed_at
        )
    )
    s1, s2 = first.summary(), second.summary()
    out.line(
        "== "
        + _(
            "done: first docking stored {stored} ({flagged} flagged, still kept), second "
            "docking stored {stored2}, {already} already there"
        ).format(
            stored=s1["stored"], flagged=s1["flagged"], stored2=s2["stored"], already=s2["already"]
        )
    )
    bag = _export_bag(ctx, home, items)  # issue 17
    out.line(
        "== " + _("an evidence package of the first camera's recordings: {bag}").format(bag=bag)
    )
    out.line(
        "   "
        + _("check it anywhere: {command}").format(command=f"python3 {bag}/verify_bag.py {bag}")
    )
    out.line(
        "   " + _("look around: {command}").format(command=f"EVIDOCK_HOME={home} evidock items")
    )
    _console(ctx, out, home)  # issue 16: the last lines, the console's URL and a login
    out.document({"home": str(home), "first": s1, "second": s2, "items": len(items),
                  "log_size": log_size, "package": str(bag)})  # fmt: skip
    ctx.close()
    return EXIT_OK if first.ok and second.ok and third.ok and audit.ok else EXIT_FAILURE


def _item_line(i: Item, out: Output) -> str:
    """An item of the demo's catalog: its name, size, when and what it recorded, and flags."""
    f = i.facts
    line = _(
        "#{id} {path}: {size} bytes, recorded {when} ({source}), {video}/{audio} "
        "{width}x{height}, officer {officer}"
    ).format(
        id=i.id,
        path=path_text(i.original_path),
        size=i.size,
        when=out.when(f.recorded_start),
        source=f.time_source,
        video=f.video_codec or "-",
        audio=f.audio_codec or "-",
        width=f.width or "-",
        height=f.height or "-",
        officer=i.officer_badge or "-",
    )
    if f.gps_lat is not None and f.gps_lon is not None:
        line += ", " + _("GPS {lat},{lon}").format(lat=f"{f.gps_lat:.4f}", lon=f"{f.gps_lon:.4f}")
    if f.flags:
        line += ", " + _("FLAGGED {flags}").format(flags=",".join(f.flags))
    return line


def _export_bag(ctx: Context, home: Path, items: Sequence[Item]) -> Path:
    """The BagIt package of the first camera's items, originals only (issue 17)."""
    mine = tuple(i.id for i in items if i.device_serial == SERIAL)
    spec = Spec(package_id="evidock-demo", case_number=None, items=mine, originals=True,
                copies=False, recipient="演示 demo", purpose="诉讼", requested_by=os_actor(),
                approved_by=os_actor(), approved_at=ctx.clock())  # fmt: skip
    out = home / f"export-{ctx.clock():%Y%m%dT%H%M%S}"
    return build_package(ctx, spec, out, now=ctx.clock()).path
