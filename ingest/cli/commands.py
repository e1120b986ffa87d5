"""Handlers of the ``evidock`` subcommands: parse nothing, decide little, print results."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from devices.walk import display_path
from ingest.cases.lifecycle import log_assignment, log_device, log_officer  # issue 14
from ingest.config import Settings
from ingest.context import (
    LOG_ORIGIN,
    Context,
    ctx_of,
    object_store,
    open_catalog,
    open_context,
    os_actor,
)
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.jobs.proxies import ProxyState, proxy_states  # issue 5
from ingest.metrics.audit import check_textfile_path, write_verify_textfile  # issue 7
from ingest.output import Output, for_terminal, item_json, path_text, shown_path
from ingest.pipeline.run import FAILED, FileResult, IngestReport, ingest_device
from storage.blobs.localstore import LocalStore
from storage.catalog.session import Catalog
from verify.audit.run import AuditReport, record_fixity, run_audit
from verify.keys import DockKey, key_path, load_if_readable
from verify.log.events import parse_time as parse_event_time
from verify.log.note import NoteError, parse_verifier_key
from verify.problems import Problem
from verify.proofs import (
    REPORT_FORMAT,
    CustodyProof,
    CustodyProofError,
    check_report,
    covering_checkpoint,
    prove_item,
)

KEY_WARNING = (
    "Compare the verifier key with the key the office publishes for this dock: a key taken "
    "from the report only shows that the report is consistent with itself."
)
_MARK = {"stored": "stored ", "already": "already", "failed": "FAILED ", "not_acquired": "skipped"}


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
    assert isinstance(settings, Settings)
    ctx = open_context(settings, create=True)  # the one command that makes a data dir
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
    ctx = ctx_of(settings)

    def show(r: FileResult) -> None:
        ident = f"#{r.item}" if r.item is not None else "-"
        sha = r.sha256[:12] if r.sha256 else "-" * 12
        extra = f"  [{', '.join(r.flags)}]" if r.flags else ""
        why = f"  ({r.reason})" if r.reason and r.result != "stored" else ""
        path = shown_path(r.raw_path, r.path)
        out.line(f"{_MARK.get(r.result, r.result)}  {ident:>6}  {sha}  {path}{extra}{why}")

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
                    "path_hex": f.raw_path.hex() if f.raw_path is not None else None,
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
            "serial_source": report.serial_source,
            "serial_mismatch": [
                {"path": display_path(p), "path_hex": p.hex(), "serial": claim}
                for p, claim in report.serial_claims
            ],
        }
    )
    out.line(
        f"session {report.session}, device {report.device}: {summary['stored']} stored, "
        f"{summary['already']} already in the catalog, {summary['failed']} failed, "
        f"{summary['not_acquired']} not acquired, {summary['flagged']} flagged"
    )
    _serial_lines(out, report)
    if summary["failed"]:
        out.line("Failed files stay on the device; see the reasons above and dock it again.")
    return EXIT_FAILURE if report.count(FAILED) else EXIT_OK


def _serial_lines(out: Output, report: IngestReport) -> None:
    """Files whose names claim another device's serial (issue 23): kept under this device."""
    if not report.serial_claims:
        return
    out.line(
        f"WARNING: {len(report.serial_claims)} file(s) named for another device; they came "
        f"off this medium and are filed under {report.device} ({report.serial_source}), "
        "flagged serial_mismatch:"
    )
    for p, claim in report.serial_claims:
        out.line(f"  {path_text(p)}  names {claim}")
    out.line("Check which camera recorded them before linking them to a case.")


def cmd_items(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = ctx_of(settings)
    with ctx.catalog.read() as txn:
        items = txn.items(device=args.device, officer=args.officer)
        proxies = proxy_states(txn, [i.id for i in items])  # issue 5
    ctx.close()
    out.document(
        [
            item_json(i, p.derived, proxy_state=p.state, proxy_note=p.note)
            for i, p in ((i, proxies[i.id]) for i in items)
        ]
    )
    headers = ["ID", "SHA256", "SIZE", "DEVICE", "OFFICER", "RECORDED", "STATE", "FLAGS"]
    out.table(
        [*headers, "PROXY", "PATH"],
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
                _proxy_cell(proxies[i.id]),
                path_text(i.original_path),
            ]
            for i in items
        ],
    )
    for i in items:  # issue 5: why an item has no proxy
        if proxies[i.id].note:
            out.line(f"#{i.id} {proxies[i.id].note}")
    return EXIT_OK


def _proxy_cell(p: ProxyState) -> str:
    """The PROXY column of 'evidock items' (issue 5)."""
    if p.derived:
        return ",".join(k for k, _ in p.derived)
    return {None: "-", "failed": "NO PROXY"}.get(p.state, p.state or "-")


def cmd_custody(args: argparse.Namespace, out: Output, settings: object) -> int:
    if args.csv and out.json_mode:
        raise UsageError("--csv and --json exclude each other", hint="Choose one output format.")
    ctx = ctx_of(settings)
    try:
        with ctx.catalog.read() as txn:
            item = txn.item(args.item)
            events = txn.log.events_for_item(item.id)
            checkpoints = txn.log.checkpoints()
        last = events[-1].seq if events else -1
        cp = covering_checkpoint(checkpoints, dock=ctx.dock.name, last_seq=last)
        if cp is None:
            ctx.checkpoint()
            with ctx.catalog.read() as txn:
                checkpoints = txn.log.checkpoints()
            cp = covering_checkpoint(checkpoints, dock=ctx.dock.name, last_seq=last)
        if cp is None:
            raise CustodyProofError(f"no checkpoint of this dock covers event #{last}")
        with ctx.catalog.read() as txn:
            proof = prove_item(
                txn, item.id, checkpoint=cp, verifier_key=ctx.key.verifier, origin=LOG_ORIGIN
            )
        with ctx.catalog.write() as txn:  # Art. 29: every access to a record is logged
            ctx.custody.append(
                txn,
                type="viewed",
                actor=os_actor(),
                item=item.id,
                data={"what": "custody report", "format": _format(out, args)},
            )
    finally:
        ctx.close()
    doc = {"format": REPORT_FORMAT, "item": item_json(item), **proof.to_json()}
    for e, p in zip(doc["events"], proof.events, strict=True):
        e["time_local"] = out.when(parse_event_time(p.event.time))
    doc["warning"] = KEY_WARNING
    out.document(doc)
    if args.csv:
        _custody_csv(out, proof)
        return EXIT_OK
    out.line(f"custody of item #{item.id}  sha256 {item.sha256}  {item.size} bytes")
    out.line(f"from {item.device_serial}:{path_text(item.original_path)}")
    for p in proof.events:
        e = p.event
        out.line(
            f"  #{e.seq:<6} {out.when(parse_event_time(e.time))}  {e.type:<18} "
            f"{e.actor:<16} dock {e.dock}"
        )
        out.line(f"          {_details(e.data)}")
        out.line(f"          leaf {p.leaf.hex()}  (inclusion proof: {len(p.proof)} hashes)")
    out.line(
        f"every event above is in the custody log signed at size {proof.size} "
        f"(root {proof.root.hex()}) by dock {proof.dock}"
    )
    out.line(f"verifier key {proof.verifier_key}")
    out.line(
        f"{KEY_WARNING} Save the report with 'evidock custody {item.id} --json > FILE'; "
        "anyone can check it with 'evidock verify-proof FILE'."
    )
    return EXIT_OK


def _format(out: Output, args: argparse.Namespace) -> str:
    return "json" if out.json_mode else "csv" if args.csv else "text"


def _details(data: str) -> str:
    """An event's data on one line (escaped when printed); a path the event also recorded as
    hex (not UTF-8) is shown as that exact name."""
    obj = json.loads(data)
    if not isinstance(obj, dict):
        return str(obj)
    raw = obj.get("path_hex")
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            obj["path"] = path_text(bytes.fromhex(raw))
            del obj["path_hex"]
    parts = []
    for k, v in obj.items():
        if v is None or v == [] or v == "":
            continue
        parts.append(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}")
    return " ".join(parts) or "-"


def _custody_csv(out: Output, proof: CustodyProof) -> None:
    w = csv.writer(out.stream, lineterminator="\n")
    w.writerow(
        ["seq", "time", "type", "actor", "dock", "details", "leaf", "proof", "checkpoint_size"]
    )
    for p in proof.events:
        e = p.event
        w.writerow(
            [
                e.seq,
                out.when(parse_event_time(e.time)),
                e.type,
                e.actor,
                e.dock,
                _details(e.data),
                p.leaf.hex(),
                " ".join(h.hex() for h in p.proof),
                proof.size,
            ]
        )


def cmd_verify(args: argparse.Namespace, out: Output, settings: object) -> int:
    assert isinstance(settings, Settings)
    textfile = getattr(args, "metrics_textfile", None)  # metrics (issue 7)
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
        )
        if progress is not None:
            progress.done()
        recorded, cp_size = 0, None
        if ctx is not None and report.log_intact:
            recorded = record_fixity(catalog, ctx.custody, report.fixity, actor=os_actor())
            cp_size, _ = ctx.checkpoint()
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
    ctx = open_context(settings)
    return ctx, ctx.catalog, ctx.key


def problem_lines(out: Output, problems: Sequence[Problem], *, with_item: bool = True) -> None:
    """Each problem as the custodian reads it: code, subject (with its item), expected, found."""
    for p in problems:
        item = f"item #{p.item}"
        named = not with_item or p.item is None or p.subject.startswith(item)
        where = "" if named else f"{item}: "
        out.line(f"PROBLEM [{p.code}] {where}{p.subject}")
        out.line(f"    expected: {p.expected}")
        out.line(f"    found:    {p.found}")


def verify_lines(out: Output, report: AuditReport, recorded: int, cp_size: int | None) -> None:
    c = report.checked
    problem_lines(out, report.problems)
    scope = f"item #{c.item} and the whole log" if c.item is not None else "everything"
    scope = f"case {c.case} and the whole log" if c.case is not None else scope
    rehash = (
        "not re-hashed: --quick"
        if c.quick
        else f"{c.objects_rehashed} re-hashed, {c.bytes_rehashed} bytes; "
        f"{c.derived} proxies, {c.derived_rehashed} re-hashed"
    )
    out.line(
        f"checked {scope}: log of {c.log_size} events ({c.events} read), "
        f"{c.checkpoint_rows} checkpoint rows, {c.checkpoint_files} checkpoint files, "
        f"{c.items} items, {c.objects} stored objects ({rehash})"
    )
    if c.s3_objects:
        how = (
            f"{c.s3_rehashed} originals downloaded and re-hashed"
            if c.s3_rehashed
            else ("size, checksum, version and lock from HEAD; --full downloads them")
        )
        out.line(f"S3: {c.s3_objects} objects checked ({how})")
    if report.log_intact:
        out.line(f"recorded {recorded} fixity event(s); checkpoint signed at size {cp_size}")
    else:
        out.line("recorded nothing: no event is appended to a custody log that does not verify")
    if report.ok:
        out.line("verify: OK, everything holds")
        return
    out.line(f"verify: FAILED, {len(report.problems)} problem(s); nothing was repaired")
    for hint in dict.fromkeys(p.hint for p in report.problems):
        out.line(f"hint: {hint}")


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
        print(
            f"\rre-hashing stored objects: {done}/{total}, "
            f"{done_bytes / mib:.1f}/{total_bytes / mib:.1f} MiB",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def done(self) -> None:
        print(file=sys.stderr)


def cmd_verify_proof(args: argparse.Namespace, out: Output, settings: object) -> int:
    if args.key is not None:
        try:
            parse_verifier_key(args.key)
        except NoteError as e:
            raise UsageError(
                f"--key: {e}",
                hint="Give the dock's verifier key exactly as the office publishes it.",
            ) from e
    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(
            f"cannot read {args.file}: {e.strerror}",
            hint="Give the file written by 'evidock custody ITEM --json'.",
        ) from e
    except ValueError as e:
        raise UsageError(
            f"{args.file} is not a JSON document: {e}",
            hint="Give the file written by 'evidock custody ITEM --json'.",
        ) from e
    check = check_report(doc, origin=LOG_ORIGIN, trusted_key=args.key)
    if check.key_from_report:
        print(
            f"evidock: warning: the signature was checked with the key inside the report "
            f"({for_terminal(str(check.verifier_key))}). {KEY_WARNING}",
            file=sys.stderr,
        )
    out.document(
        {
            "ok": check.ok,
            "item": check.item,
            "events": check.events,
            "checkpoint_size": check.size,
            "verifier_key": check.verifier_key,
            "key_from_report": check.key_from_report,
            "problems": [p.to_json() for p in check.problems],
            "warning": KEY_WARNING if check.key_from_report else None,
        }
    )
    for p in check.problems:
        out.line(f"PROBLEM [{p.code}] {p.subject}")
        out.line(f"    expected: {p.expected}")
        out.line(f"    found:    {p.found}")
    if check.ok:
        out.line(
            f"verify-proof: OK, the {check.events} events of item #{check.item} are in the "
            f"custody log signed at size {check.size} by {check.verifier_key}"
        )
        return EXIT_OK
    out.line(f"verify-proof: FAILED, {len(check.problems)} problem(s); do not rely on this report")
    return EXIT_FAILURE


def cmd_checkpoint(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = ctx_of(settings)
    size, taken = ctx.checkpoint()
    ctx.close()
    out.document({"size": size, "taken": taken})
    out.line(f"checkpoint of {size} events {'signed' if taken else 'already signed'}")
    return EXIT_OK


def cmd_device_add(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = ctx_of(settings)
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
        log_device(txn, ctx, dev, actor=os_actor())
        if args.officer:
            txn.assign_device(serial=dev.serial, badge=args.officer, start=now)
            log_assignment(txn, ctx, serial=dev.serial, badge=args.officer, start=now,
                           actor=os_actor())  # fmt: skip
    ctx.close()
    out.document({"serial": dev.serial, "officer": args.officer})
    out.line(
        f"device {dev.serial} registered" + (f", held by {args.officer}" if args.officer else "")
    )
    return EXIT_OK


def cmd_device_list(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = ctx_of(settings)
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
    ctx = ctx_of(settings)
    start = parse_time(args.start, ctx.settings) if args.start else ctx.clock()
    with ctx.catalog.write() as txn:
        txn.assign_device(serial=args.serial, badge=args.badge, start=start)
        log_assignment(txn, ctx, serial=args.serial, badge=args.badge, start=start,
                       actor=os_actor())  # fmt: skip
    ctx.close()
    out.document({"serial": args.serial, "officer": args.badge, "from": start.isoformat()})
    out.line(f"device {args.serial} held by {args.badge} from {out.when(start)}")
    return EXIT_OK


def cmd_officer_add(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = ctx_of(settings)
    with ctx.catalog.write() as txn:
        o = txn.add_officer(
            badge=args.badge,
            name=args.name,
            unit=args.unit,
            certificate_no=args.certificate,
            now=ctx.clock(),
        )
        log_officer(txn, ctx, o, actor=os_actor())
    ctx.close()
    out.document({"badge": o.badge, "name": o.name})
    out.line(f"officer {o.badge} ({o.name}) registered")
    return EXIT_OK


def cmd_officer_list(args: argparse.Namespace, out: Output, settings: object) -> int:
    ctx = ctx_of(settings)
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
    from ingest.cli.demo import run_demo

    assert isinstance(settings, Settings)
    return run_demo(settings, out, args)
