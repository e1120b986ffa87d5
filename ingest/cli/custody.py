"""``evidock custody``, ``evidock verify-proof`` and ``evidock checkpoint``: one item's chain of
custody with proofs anyone can check offline, and the signed checkpoints they rest on."""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import Any

from i18n import N_, _, n_
from ingest.access.guard import check_item
from ingest.access.roles import Action
from ingest.cli.actor import acting, refused
from ingest.cli.common import examples, open_dock, problem_lines
from ingest.cli.evidence import fixity_line
from ingest.config import Settings
from ingest.context import LOG_ORIGIN
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.output import Output, for_terminal, item_json, path_text
from storage.catalog.fixity import failed_items
from verify.log.events import EventType
from verify.log.events import parse_time as parse_event_time
from verify.log.note import NoteError, parse_verifier_key
from verify.proofs import (
    REPORT_FORMAT,
    CustodyProof,
    CustodyProofError,
    ReportCheck,
    check_report,
    covering_checkpoint,
    prove_item,
)
from verify.tsa.rfc3161 import TimestampError, TsaChain, load_chain
from verify.witness.cosignature import CosignerKey, claimed_by, parse_cosigner_key

WITNESS_KEY_WARNING = N_(
    "Compare them with the keys the witnesses' operators publish, or give them with --witness-key."
)
KEY_WARNING = N_(
    "Compare the verifier key with the key the office publishes for this dock: a key taken "
    "from the report only shows that the report is consistent with itself."
)
"""In the report's JSON as it is (English, like its keys); shown with ``_()``."""


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "custody",
        help=_("chain-of-custody report of one item, with proofs that can be checked offline"),
        description=_(
            "Every custody event of the item with its inclusion proof against a "
            "signed checkpoint. Reading the report is itself logged (a 'viewed' event, Art. 29)."
        ),
        epilog=examples(
            "evidock custody 12",
            "evidock custody 12 --json > item-12.json   # then: evidock verify-proof item-12.json",
            "evidock custody 12 --csv > item-12.csv",
        ),
    )
    s.add_argument("item", type=int)
    s.add_argument("--csv", action="store_true", help=_("one CSV row per event on stdout"))
    s.set_defaults(func=cmd_custody)

    s = sub.add_parser(
        "verify-proof",
        help=_("check a custody report (evidock custody ITEM --json) offline"),
        epilog=examples(
            "evidock verify-proof item-12.json --key 'dock-01+1a2b3c4d+AbCd...'",
            "evidock verify-proof item-12.json --json",
            "evidock verify-proof item-12.json --key 'dock-01+1a2b3c4d+AbCd...' "
            "--witness-key 'legal.example.gov/w1+5e6f7a8b+BA...' --witness-quorum 1 "
            "--tsa-cert tsa-chain.pem",
        ),
    )
    s.add_argument("file", type=Path, help=_("the JSON report"))
    s.add_argument(
        "--key",
        metavar="VERIFIER_KEY",
        help=_("the dock's verifier key as the office publishes it"),
    )
    s.add_argument(
        "--witness-key",
        metavar="VKEY",
        action="append",
        default=[],
        help=_(
            "a witness's key as its operator publishes it (repeatable; without it, the keys "
            "named in the report are used)"
        ),
    )
    s.add_argument(
        "--witness-quorum",
        metavar="N",
        type=int,
        default=0,
        help=_("at least N witnesses must have cosigned the checkpoint (default 0)"),
    )
    s.add_argument(
        "--tsa-cert",
        metavar="PEM",
        type=Path,
        help=_(
            "the TSA's certificate chain (TSA first, root last): the report must carry a "
            "timestamp token signed by it"
        ),
    )
    s.set_defaults(func=cmd_verify_proof)

    s = sub.add_parser(
        "checkpoint",
        help=_("sign and publish a checkpoint of the custody log now"),
        epilog=examples("evidock checkpoint", "evidock checkpoint --json"),
    )
    s.set_defaults(func=cmd_checkpoint)


def cmd_custody(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    if args.csv and out.json_mode:
        raise UsageError(
            _("--csv and --json exclude each other"), hint=_("Choose one output format.")
        )
    ctx = open_dock(settings)
    try:
        actor, person = acting(ctx)
        with ctx.catalog.write() as txn:  # a refusal is recorded (access_denied) before it is told
            decision = check_item(txn, ctx, person, Action.VIEW_ITEM, txn.item(args.item).id)
        if not decision.allowed:
            raise refused(decision, _("item #{item}").format(item=args.item))
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
            raise CustodyProofError(
                _("no checkpoint of this dock covers event #{seq}").format(seq=last)
            )
        with ctx.catalog.read() as txn:
            proof = prove_item(
                txn,
                item.id,
                checkpoint=cp,
                verifier_key=ctx.key.verifier,
                origin=LOG_ORIGIN,
                witness_keys=tuple(w.key for w in settings.trust.witnesses),
            )
        with ctx.catalog.write() as txn:  # Art. 29: every access to a record is logged
            ctx.custody.append(
                txn,
                type=EventType.VIEWED,
                actor=actor,
                item=item.id,
                data={
                    "what": "custody report",
                    "format": _format(out, args),
                    **(
                        {"person": person.username, "roles": sorted(person.roles)}
                        if person is not None
                        else {}
                    ),
                },
            )
    finally:
        ctx.close()
    failing = item.id in failed_items(events)  # issue 18: its last fixity check failed
    doc = {
        "format": REPORT_FORMAT,
        "item": item_json(item, fixity_failed=failing),
        **proof.to_json(),
    }
    for e, p in zip(doc["events"], proof.events, strict=True):
        e["time_local"] = out.when(parse_event_time(p.event.time))
    doc["warning"] = KEY_WARNING
    out.document(doc)
    if args.csv:
        _custody_csv(out, proof)
        return EXIT_OK
    out.line(
        _("custody of item #{item}  sha256 {sha256}  {size} bytes").format(
            item=item.id, sha256=item.sha256, size=item.size
        )
    )
    out.line(
        _("from {device}:{path}").format(
            device=item.device_serial, path=path_text(item.original_path)
        )
    )
    if failing:
        out.line(fixity_line([item.id]))
    for p in proof.events:
        e = p.event
        out.line(
            f"  #{e.seq:<6} {out.when(parse_event_time(e.time))}  {e.type:<18} {e.actor:<16} "
            + _("dock {dock}").format(dock=e.dock)
        )
        out.line(f"          {_details(e.data)}")
        out.line(
            "          "
            + _("leaf {leaf}  (inclusion proof: {n} hashes)").format(
                leaf=p.leaf.hex(), n=len(p.proof)
            )
        )
    out.line(
        _(
            "every event above is in the custody log signed at size {size} (root {root}) by "
            "dock {dock}"
        ).format(size=proof.size, root=proof.root.hex(), dock=proof.dock)
    )
    out.line(_("verifier key {key}").format(key=proof.verifier_key))
    trust = proof.trust
    witnesses = sorted(claim[0] for line in trust.cosignatures if (claim := claimed_by(line)))
    timestamp = (
        _("timestamped by the TSA at {at}").format(at=out.when(trust.timestamp_time))
        if trust.timestamp_time is not None
        else _("no RFC 3161 timestamp")
    )
    out.line(_cosigned(witnesses, timestamp))
    out.line(
        _(KEY_WARNING)
        + " "
        + _(
            "Save the report with 'evidock custody {item} --json > FILE'; anyone can check it "
            "with 'evidock verify-proof FILE'."
        ).format(item=item.id)
    )
    return EXIT_OK


def _cosigned(names: list[str], timestamp: str) -> str:
    """Which witnesses cosigned the checkpoint, and how it was timestamped."""
    return n_(
        "cosigned by {n} witness: {names}; {timestamp}",
        "cosigned by {n} witnesses: {names}; {timestamp}",
        len(names),
    ).format(n=len(names), names=", ".join(names) or _("none"), timestamp=timestamp)


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


def cmd_verify_proof(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    if args.key is not None:
        try:
            parse_verifier_key(args.key)
        except NoteError as e:
            raise UsageError(
                _("--key: {error}").format(error=e),
                hint=_("Give the dock's verifier key exactly as the office publishes it."),
            ) from e
    try:
        doc = json.loads(args.file.read_text(encoding="utf-8"))
    except OSError as e:
        raise UsageError(
            _("cannot read {file}: {error}").format(file=args.file, error=e.strerror),
            hint=_("Give the file written by 'evidock custody ITEM --json'."),
        ) from e
    except ValueError as e:
        raise UsageError(
            _("{file} is not a JSON document: {error}").format(file=args.file, error=e),
            hint=_("Give the file written by 'evidock custody ITEM --json'."),
        ) from e
    witness_keys, tsa = _witness_args(args)
    check = check_report(doc, origin=LOG_ORIGIN, trusted_key=args.key, witness_keys=witness_keys,
                         witness_quorum=args.witness_quorum, tsa=tsa)  # fmt: skip
    if check.key_from_report:
        print(
            _(
                "evidock: warning: the signature was checked with the key inside the report "
                "({key}). {warning}"
            ).format(key=for_terminal(str(check.verifier_key)), warning=_(KEY_WARNING)),
            file=sys.stderr,
        )
    if check.witness_keys_from_report:
        print(
            _(
                "evidock: warning: the cosignatures of {witnesses} were checked with the "
                "witness keys as given by the report. {warning}"
            ).format(
                witnesses=for_terminal(", ".join(check.witness_keys_from_report)),
                warning=_(WITNESS_KEY_WARNING),
            ),
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
            "cosigned_by": list(check.cosigned_by),
            "witness_keys_from_report": list(check.witness_keys_from_report),
            "timestamp": None if check.timestamp is None else check.timestamp.isoformat(),
            "timestamp_chain_checked": check.timestamp_chain_checked,
        }
    )
    problem_lines(out, check.problems, with_item=False)
    if check.ok:
        out.line(
            _(
                "verify-proof: OK, the {events} events of item #{item} are in the custody log "
                "signed at size {size} by {key}"
            ).format(events=check.events, item=check.item, size=check.size, key=check.verifier_key)
        )
        out.line(_trust_line(out, check))
        return EXIT_OK
    n = len(check.problems)
    out.line(
        n_(
            "verify-proof: FAILED, {n} problem; do not rely on this report",
            "verify-proof: FAILED, {n} problems; do not rely on this report",
            n,
        ).format(n=n)
    )
    return EXIT_FAILURE


def _witness_args(args: argparse.Namespace) -> tuple[tuple[CosignerKey, ...], TsaChain | None]:
    keys = []
    for text in args.witness_key:
        try:
            keys.append(parse_cosigner_key(text))
        except NoteError as e:
            raise UsageError(
                _("--witness-key: {error}").format(error=e),
                hint=_(
                    "Give the witness's key exactly as its operator publishes it "
                    "('evidock witness init' prints it)."
                ),
            ) from e
    if args.witness_quorum < 0:
        raise UsageError(
            _("--witness-quorum must be 0 or more"), hint=_("Give a number of witnesses.")
        )
    if args.tsa_cert is None:
        return tuple(keys), None
    hint = _("Give the PEM file of the TSA's chain as the TSA publishes it: its certificate first.")
    try:
        return tuple(keys), load_chain(args.tsa_cert.read_bytes())
    except OSError as e:
        raise UsageError(
            _("cannot read {file}: {error}").format(file=args.tsa_cert, error=e.strerror),
            hint=hint,
        ) from e
    except TimestampError as e:
        raise UsageError(
            _("--tsa-cert {file}: {error}").format(file=args.tsa_cert, error=e), hint=hint
        ) from e


def _trust_line(out: Output, check: ReportCheck) -> str:
    names = [
        _("{witness} (key as given by the report)").format(witness=n)
        if n in check.witness_keys_from_report
        else n
        for n in check.cosigned_by
    ]
    if check.timestamp is None:
        when = _("no timestamp token")
    elif check.timestamp_chain_checked:
        when = _("timestamped at {at} (TSA chain checked)").format(at=out.when(check.timestamp))
    else:
        when = _("timestamped at {at} (TSA signature not checked: give --tsa-cert)").format(
            at=out.when(check.timestamp)
        )
    return _cosigned(names, when)


def cmd_checkpoint(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        size, taken = ctx.checkpoint()
    finally:
        ctx.close()
    out.document({"size": size, "taken": taken})
    signed = (
        _("checkpoint of {size} events signed")
        if taken
        else _("checkpoint of {size} events already signed")
    )
    out.line(signed.format(size=size))
    return EXIT_OK
