"""``evidock console``: the evidence console's web server (issue 16), until SIGTERM.

It serves the pages of ``ingest.console`` with cheroot: HTTPS with [console] tls_cert/tls_key,
else HTTP on localhost behind a reverse proxy (README). ``--totp-enrol USER`` gives a person a
TOTP secret (a ``second_factor_changed`` event naming who ran it) and prints its otpauth URI,
once, instead of serving.

The web application and its server (Flask, Werkzeug, Jinja, cheroot) are imported when the
console starts, not with this module: every ``evidock`` command builds its parser from this
module, and none of the others needs them."""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType
from typing import Any

from i18n import _
from ingest.cli.actor import acting
from ingest.cli.common import examples
from ingest.config import Settings
from ingest.console.auth import enrol_totp
from ingest.context import open_context
from ingest.errors import EXIT_OK, UsageError
from ingest.metrics.prometheus import ConsoleMetrics, Served, serve
from ingest.output import Output
from storage.catalog import people


def add_parsers(sub: Any) -> None:
    s = sub.add_parser(
        "console",
        help=_("the evidence console: a web application for custodians, reviewers and auditors"),
        epilog=examples(
            "evidock console",
            "evidock console --listen 0.0.0.0 --port 8443",
            "evidock console --totp-enrol zhang.wei",
        ),
    )
    s.add_argument("--listen", metavar="ADDR", help=_("address to listen on ([console] listen)"))
    s.add_argument("--port", type=int, metavar="N", help=_("port ([console] port; 0: any free)"))
    s.add_argument(
        "--totp-enrol",
        metavar="USER",
        help=_("give USER a new TOTP secret, print its otpauth URI, and exit"),
    )
    s.set_defaults(func=cmd_console)


def cmd_console(args: argparse.Namespace, out: Output, settings: Settings) -> int:
    conf = settings.console
    ctx = open_context(settings, create_schema=True)
    try:
        if args.totp_enrol:
            return _enrol(ctx, args.totp_enrol, out)
        from ingest.console.app import create_app  # here, not at the top: the module doc
        from ingest.console.server import ConsoleServer

        metrics = ConsoleMetrics()
        app = create_app(ctx, metrics=metrics)
        server = ConsoleServer(
            app,
            host=args.listen or conf.listen,
            port=conf.port if args.port is None else args.port,
            threads=conf.threads,
            tls_cert=conf.tls_cert,
            tls_key=conf.tls_key,
        )
        endpoint: Served | None = None
        if conf.metrics_address not in ("", "off"):
            endpoint = serve(conf.metrics_address, metrics.registry)
        stop = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        server.start()
        try:
            # tests read it: the URL is the last word
            out.line(_("evidock console listening on {url}").format(url=server.url))
            stop.wait()
        finally:
            server.stop()
            if endpoint is not None:
                endpoint.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        ctx.close()
    return EXIT_OK


def _enrol(ctx: Any, username: str, out: Output) -> int:
    with ctx.catalog.read() as txn:
        person = people.person_by_username(txn, username)
    if person is None:
        raise UsageError(
            _("no person {username!r}").format(username=username),
            hint=_("List them: evidock person list"),
        )
    actor = acting(ctx)[0]
    uri = enrol_totp(ctx, person, actor=actor)
    out.line(
        _("TOTP enrolled for {username}; add this to the authenticator app (shown once):").format(
            username=username
        )
    )
    out.line(uri)
    out.document({"person": username, "otpauth": uri})
    return EXIT_OK
