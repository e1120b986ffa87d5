"""The console's production WSGI server: cheroot (imported here only), HTTPS itself when
[console] tls_cert and tls_key are set, else plain HTTP for a reverse proxy on the same host.

``ConsoleServer`` binds at construction (port 0 picks a free port, as tests do), serves on a
thread it owns, and ``stop()`` joins it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from cheroot.ssl.builtin import BuiltinSSLAdapter
from cheroot.wsgi import Server

from i18n import _
from ingest.errors import UsageError

logger = logging.getLogger(__name__)


class ConsoleServer:
    def __init__(
        self,
        app: Any,
        *,
        host: str,
        port: int,
        threads: int = 8,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self.server = Server((host, port), app, numthreads=threads, server_name="evidock",
                             timeout=30)  # fmt: skip
        if tls_cert is not None and tls_key is not None:
            for p in (tls_cert, tls_key):
                if not p.is_file():
                    raise UsageError(
                        _("[console] TLS file {path} does not exist").format(path=p),
                        hint=_("Give the PEM certificate chain and its key, readable by the "
                               "evidock user, or leave both out."),
                    )  # fmt: skip
            self.server.ssl_adapter = BuiltinSSLAdapter(str(tls_cert), str(tls_key))
        self.tls = self.server.ssl_adapter is not None
        try:
            self.server.prepare()
        except OSError as e:
            raise UsageError(
                _("the console cannot listen on {host}:{port}: {reason}").format(
                    host=host, port=port, reason=e.strerror or e
                ),
                hint=_("Choose another --port or stop what uses it."),
            ) from e
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        bound = self.server.bind_addr
        assert isinstance(bound, tuple)
        return str(bound[0]), int(bound[1])

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{shown}:{port}/"

    def start(self) -> None:
        self._thread = threading.Thread(target=self.server.serve, name="console-http")
        self._thread.start()
        logger.info("console listening url=%s", self.url)

    def stop(self) -> None:
        self.server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
