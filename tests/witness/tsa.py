"""A local RFC 3161 TSA for the tests: ``openssl ts -reply`` behind a few lines of HTTP."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CONFIG = """[tsa]
default_tsa = tsa_config
[tsa_config]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
certs = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256
accuracy = secs:1
ordering = yes
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class Tsa:
    url: str
    folder: Path  # ca.pem (root), tsa.pem (the TSA), chain.pem (TSA first, root last)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_authority(folder: Path) -> None:
    """A root CA and a TSA certificate (extendedKeyUsage critical timeStamping) under it."""
    folder.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
             "-subj", "/CN=evidock test root", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)  # fmt: skip
    _openssl("req", *ec, "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=evidock test TSA",
             cwd=folder)  # fmt: skip
    (folder / "ext.cnf").write_text("basicConstraints=critical,CA:FALSE\n"
                                    "keyUsage=critical,digitalSignature\n"
                                    "extendedKeyUsage=critical,timeStamping\n")  # fmt: skip
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "tsa.pem", "-days", "30", "-extfile", "ext.cnf",
             cwd=folder)  # fmt: skip
    (folder / "chain.pem").write_bytes((folder / "tsa.pem").read_bytes()
                                       + (folder / "ca.pem").read_bytes())  # fmt: skip
    (folder / "serial").write_text("01\n")
    (folder / "tsa.cnf").write_text(CONFIG.format(dir=folder))


class _Handler(BaseHTTPRequestHandler):
    server: _TsaServer

    def do_POST(self) -> None:
        query = self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock, tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "q.tsq").write_bytes(query)
            _openssl("ts", "-reply", "-config", str(self.server.folder / "tsa.cnf"),
                     "-queryfile", "q.tsq", "-out", "r.tsr", cwd=Path(tmp))  # fmt: skip
            reply = (Path(tmp) / "r.tsr").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _TsaServer(ThreadingHTTPServer):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


@contextmanager
def running_tsa(folder: Path) -> Iterator[Tsa]:
    make_authority(folder)
    server = _TsaServer(folder)
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield Tsa(url=f"http://127.0.0.1:{server.server_port}/tsa", folder=folder)
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
