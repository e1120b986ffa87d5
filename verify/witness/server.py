"""``evidock witness serve``: the thin HTTP adapter over ``verify.witness.protocol``.

``POST /add-checkpoint`` (C2SP tlog-witness) and ``GET /latest?origin=ORIGIN``: the newest
checkpoint cosigned for a log, to show beside an alarm. One lock serialises deciding and
storing, so two requests can never roll the stored checkpoint back (the spec's race).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from verify.log.note import VerifierKey
from verify.witness.protocol import Answer, Latest, Witness, decide, parse_request
from verify.witness.state import keep_latest, load_latest

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024


class WitnessServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        state: Path,
        name: str,
        seed: bytes,
        logs: Mapping[str, Sequence[VerifierKey]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.witness = Witness(name=name, seed=seed, logs=logs)
        self.clock = clock
        self.lock = threading.Lock()
        self.latest: dict[str, Latest] = load_latest(state)
        super().__init__(address, _Handler)

    def add_checkpoint(self, body: bytes) -> Answer:
        request = parse_request(body)
        if isinstance(request, Answer):
            return request
        with self.lock:
            answer = decide(request, self.witness, self.latest, int(self.clock()))
            if answer.keep is not None:
                keep_latest(self.state, answer.keep)  # durable before the answer goes out
                self.latest[answer.keep.origin] = answer.keep
        if answer.keep is not None:
            logger.info("cosigned origin=%s size=%d", answer.keep.origin, answer.keep.size)
        elif answer.status == 409:
            logger.warning("refused: old size does not match ours size=%s", answer.body.strip())
        else:
            logger.warning("refused status=%d reason=%s", answer.status, answer.body.strip())
        return answer


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1] != "add-checkpoint":
            self._send(Answer(status=404, body="only POST /add-checkpoint is served\n"))
            return
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isdigit() else 0
        if not 0 < length <= MAX_BODY:
            self._send(Answer(status=400, body=f"a body of 1 to {MAX_BODY} bytes is needed\n"))
            return
        self._send(self.server.add_checkpoint(self.rfile.read(length)))

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        origin = parse_qs(url.query).get("origin", [""])[0]
        with self.server.lock:
            latest = self.server.latest.get(origin)
        if url.path.rstrip("/").endswith("/latest") and latest is not None:
            self._send(Answer(status=200, body=latest.note))
        else:
            self._send(Answer(status=404, body="GET /latest?origin=ORIGIN of a cosigned log\n"))

    def _send(self, answer: Answer) -> None:
        data = answer.body.encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
