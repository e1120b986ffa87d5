"""``evidock witness init|serve|submit`` (issue 15): a witness of other offices' custody logs,
and a dock's submission of its pending checkpoints.

The witness runs on another host with its own state directory (``--state``), never the
dock's data directory: it reads no configuration file and no catalog.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from i18n import _
from ingest.cli.common import examples, open_dock
from ingest.config import Settings
from ingest.errors import EXIT_FAILURE, EXIT_OK, UsageError
from ingest.output import Output
from verify.audit.witnesses import WitnessPolicy
from verify.log.note import VerifierKey
from verify.witness.server import WitnessServer
from verify.witness.state import (
    WitnessStateError,
    init_state,
    load_key,
    load_logs,
    parse_log_flag,
)

logger = logging.getLogger(__name__)


def add_parsers(sub: Any) -> None:
    w = sub.add_parser(
        "witness",
        help=_("witness of custody logs (C2SP tlog-witness) on another host, and submissions"),
        epilog=examples(
            "evidock witness init --state /var/lib/evidock-witness --name legal.example/w1",
            "evidock witness serve --state /var/lib/evidock-witness --listen 0.0.0.0:7380",
        ),
    ).add_subparsers(dest="witness_command", required=True)
    s = w.add_parser(
        "init",
        help=_("make the witness's state directory and key; print its key"),
        epilog=examples(
            "evidock witness init --state /var/lib/evidock-witness --name legal.example/w1"
        ),
    )
    s.add_argument("--state", type=Path, required=True, metavar="DIR")
    s.add_argument("--name", required=True, help=_("witness name, e.g. legal.example.gov/w1"))
    s.set_defaults(func=cmd_init)
    s = w.add_parser(
        "serve",
        help=_("answer add-checkpoint requests until SIGTERM"),
        epilog=examples(
            "evidock witness serve --state /var/lib/evidock-witness --listen 0.0.0.0:7380 "
            "--log evidock/custody-log=dock-01+1a2b3c4d+AQ...",
        ),
    )
    s.add_argument("--state", type=Path, required=True, metavar="DIR")
    s.add_argument("--listen", default="127.0.0.1:7380", metavar="HOST:PORT")
    s.add_argument("--log", action="append", default=[], metavar="ORIGIN=VKEY",
                   help=_("a log it witnesses and a key that signs it (repeatable; also "
                          "[logs] in DIR/witness.toml)"))  # fmt: skip
    s.set_defaults(func=cmd_serve, daemon=True)  # logs INFO by default (the journal)
    s = w.add_parser(
        "submit",
        help=_("send pending checkpoints to the [trust] witnesses now"),
        epilog=examples("evidock witness submit", "evidock witness submit --json"),
    )
    s.set_defaults(func=cmd_submit)


def witness_policy(settings: Settings) -> WitnessPolicy | None:
    """What ``evidock verify`` demands of checkpoints under [trust]; None without witnesses
    or TSA."""
    t = settings.trust
    if not t.witnesses and not t.witness_quorum and t.tsa_chain is None:
        return None
    retired = tuple((w.key.name, w.retired_at) for w in t.witnesses if w.retired_at is not None)
    return WitnessPolicy(keys=tuple(w.key for w in t.witnesses), quorum=t.witness_quorum,
                         retired=retired,
                         grace=timedelta(seconds=t.witness_grace_seconds),
                         tsa=t.tsa_chain)  # fmt: skip


def cmd_init(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    try:
        key, created = init_state(args.state, args.name)
    except (WitnessStateError, ValueError) as e:
        raise UsageError(
            _("witness init: {error}").format(error=e), hint=getattr(e, "hint", None)
        ) from e
    if out.json_mode:
        out.document({"name": key.name, "verifier_key": key.vkey, "created": created})
    else:
        done = (
            _("witness {name} created in {state}")
            if created
            else _("witness {name} already there in {state}")
        )
        out.line(done.format(name=key.name, state=args.state))
        out.line(
            _("verifier key (pin it in the docks' [trust] witnesses): {key}").format(key=key.vkey)
        )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    try:
        name, seed = load_key(args.state)
        logs: dict[str, list[VerifierKey]] = load_logs(args.state)
        for text in args.log:
            origin, key = parse_log_flag(text)
            logs.setdefault(origin, []).append(key)
    except WitnessStateError as e:
        raise UsageError(_("witness serve: {error}").format(error=e), hint=e.hint) from e
    if not logs:
        raise UsageError(_("witness serve: no log to witness"),
                         hint=_("Give --log ORIGIN=VKEY (the dock's key as 'evidock init' prints "
                                "it), or list them under [logs] in witness.toml."))  # fmt: skip
    host, _colon, port = args.listen.rpartition(":")
    if not port.isdigit():
        raise UsageError(
            _("--listen {listen!r} is not HOST:PORT").format(listen=args.listen),
            hint=_("e.g. 0.0.0.0:7380"),
        )
    server = WitnessServer((host or "127.0.0.1", int(port)), state=args.state, name=name,
                           seed=seed, logs=logs)  # fmt: skip
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=server.serve_forever, name="witness-http")
    thread.start()
    try:
        # the tests read this line to find the port
        host_shown = str(server.server_address[0])
        out.line(
            _("witness {name} listening on {address}").format(
                name=name, address=f"{host_shown}:{server.server_port}"
            )
        )
        stop.wait()
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK


def cmd_submit(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    ctx = open_dock(settings)
    try:
        if not ctx.settings.trust.witnesses:
            raise UsageError(
                _("no witness configured"),
                # the braces are TOML, not values: no .format on this one
                hint=_("List them in [trust] witnesses = [{url = ..., key = ...}]."),
            )
        done = ctx.submit_to_witnesses()
    finally:
        ctx.close()
    assert done is not None
    if out.json_mode:
        out.document({"cosigned": done.cosigned, "pending": done.pending,
                      "refused": [r.witness for r in done.refused],
                      "unreachable": list(done.unreachable)})  # fmt: skip
    else:
        out.line(
            _("cosigned {cosigned}, pending {pending}").format(
                cosigned=done.cosigned, pending=done.pending
            )
        )
        for r in done.refused:
            out.line(
                _("REFUSED by {witness} at size {size}: {detail}").format(
                    witness=r.witness, size=r.size, detail=r.detail
                )
            )
    return EXIT_FAILURE if done.refused else EXIT_OK
