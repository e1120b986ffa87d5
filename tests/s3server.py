"""A real S3-compatible server for the tests: moto's ``ThreadedMotoServer`` in a child process.

Why a child process rather than a thread of the test process:

- ``stop()`` must look like an outage. ``ThreadedMotoServer.stop()`` ends the serve loop but
  leaves the listening socket open, so a client connects and then hangs until its read
  timeout. The child closes the socket too: clients get "connection refused", as from a
  stopped server. ``start()`` listens again on the same port (werkzeug sets SO_REUSEADDR;
  a bind still refused is retried for a few seconds), and every bucket and object is still
  there, because moto keeps its state in module globals of the (same) child process.
- Authentication: moto reads ``INITIAL_NO_AUTH_ACTION_COUNT`` from the environment once, at
  import (``moto/settings.py``), and compares it with a process-wide request counter at
  request time (``moto/core/authorization.py``). It can be flipped at run time through
  ``POST /moto-api/reset-auth``, but that would change the behaviour of a server other tests
  share. So an authenticating server is its own process started with the variable at 0
  (``S3Server(auth=True)``); it gets an IAM user with full S3 rights whose keys are the
  server's credentials, and any other key is refused as real S3 would refuse it.
- The test process stays clean: werkzeug serves every request on a new thread (the autouse
  ``no_leaked_threads`` guard would see them), and moto's imports, warnings and in-memory
  objects stay in the child. Only the child's stdin/stdout pipe connects them; when the test
  process dies, stdin closes and the child exits.

Tests never import boto3: buckets are made by the child through moto's own backend, and
everything else goes through ``S3Store.client``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from storage.blobs.s3config import MIB, S3Config

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
# Variables of the standard AWS chain that must not leak in from the machine running the tests.
AWS_UNSET = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
# The host's own AWS setup, as it was before any fixture pointed the chain at a test server:
# the optional tests against a real bucket (EVIDOCK_TEST_S3_BUCKET) put it back.
HOST_ENV = {
    k: v for k, v in os.environ.items() if k.startswith("AWS_") or k in ("NO_PROXY", "no_proxy")
}
_LOCAL = "127.0.0.1,localhost"


def use_host_aws_env(setenv: Any, delenv: Any) -> None:
    """Give this process's credential chain back the host's own AWS setup (pass
    monkeypatch's methods): for the tests against a real bucket."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("NO_PROXY", "no_proxy"):
            delenv(name)
    for name, value in HOST_ENV.items():
        setenv(name, value)


class S3Server:
    """One moto S3 server in a child process, on 127.0.0.1 and a free port.

    ``endpoint`` is its URL; ``env`` the variables a process needs to reach it through the
    standard credential chain (set them with ``apply_env`` in this process, or pass them to a
    child: ``subprocess.Popen(..., env={**os.environ, **server.env})``).
    """

    def __init__(self, *, auth: bool = False, log: Path | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in AWS_UNSET}
        if auth:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
        self._log = log.open("ab") if log is not None else None
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.s3server", *(["--auth"] if auth else [])],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log if self._log is not None else subprocess.DEVNULL,
        )
        self._buf = b""
        words = self._reply("ready", timeout=60.0)
        self.port = int(words[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.access_key, self.secret_key = words[2], words[3]
        self.running = True

    @property
    def env(self) -> dict[str, str]:
        """Credentials, region and isolation from the host's AWS setup, as env variables."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": ",".join(filter(None, (HOST_ENV.get("NO_PROXY"), _LOCAL))),
            "no_proxy": ",".join(filter(None, (HOST_ENV.get("no_proxy"), _LOCAL))),
        }

    def apply_env(self, setenv: Any, delenv: Any) -> None:
        """Point this process's credential chain at the server (pass monkeypatch's methods)."""
        for name in AWS_UNSET:
            delenv(name, raising=False)
        for name, value in self.env.items():
            setenv(name, value)

    def config(self, bucket: str, **overrides: Any) -> S3Config:
        """An [s3] configuration for ``bucket`` on this server (small parts, short timeouts)."""
        fields: dict[str, Any] = {
            "bucket": bucket,
            "endpoint_url": self.endpoint,
            "region": REGION,
            "addressing_style": "path",
            "multipart_threshold": 8 * MIB,
            "part_size": 5 * MIB,
            "connect_timeout_s": 2.0,
            "read_timeout_s": 10.0,
            "max_attempts": 1,
        }
        fields.update(overrides)
        return S3Config(**fields)

    def make_bucket(self, name: str, *, object_lock: bool) -> None:
        """Create a bucket (with versioning and Object Lock enabled when asked)."""
        self._reply("bucket", f"bucket {name} {int(object_lock)}")

    def stop(self) -> None:
        """Stop serving: the port refuses connections until ``start()``; state is kept."""
        self._reply("stopped", "stop")
        self.running = False

    def start(self) -> None:
        """Serve again on the same port, with every bucket and object as before."""
        self._reply("ready", "start")
        self.running = True

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        if self._log is not None:
            self._log.close()

    def _reply(self, expect: str, command: str | None = None, timeout: float = 30.0) -> list[str]:
        """Send one command line; wait for the child's answer line, which starts ``expect``."""
        stdin, stdout = self._proc.stdin, self._proc.stdout
        assert stdin is not None and stdout is not None
        if command is not None:
            stdin.write(command.encode() + b"\n")
            stdin.flush()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([stdout], [], [], max(left, 0))
            chunk = os.read(stdout.fileno(), 4096) if ready else b""
            if not chunk:
                self._proc.kill()
                log = f"; see {self._log.name}" if self._log is not None else ""
                raise RuntimeError(f"moto server did not answer {command or 'start-up'!r}{log}")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        words = line.decode().split()
        if not words or words[0] != expect:
            raise RuntimeError(f"moto server answered {line!r} to {command!r}")
        return words


# -- the child process ----------------------------------------------------------------------


def _serve(auth: bool, stdin: IO[str], stdout: IO[str]) -> None:
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends
    from moto.server import ThreadedMotoServer

    class Server(ThreadedMotoServer):
        error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                super()._server_entry()
            except BaseException as exc:  # noqa: BLE001 - reported by start()
                self.error = exc
                self._server_ready_event.set()

        def stop(self) -> None:
            super().stop()
            if self._server is not None:
                self._server.server_close()  # moto leaves the listening socket open

    def listen(port: int) -> Server:
        deadline = time.monotonic() + 10
        while True:
            server = Server(ip_address="127.0.0.1", port=port, verbose=False)
            server.start()
            if server.error is None:
                return server
            if time.monotonic() > deadline:
                raise server.error
            time.sleep(0.1)  # the port is still held (closing connection): try again

    access, secret = "evidock-test", "evidock-test-secret"
    if auth:
        iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
        iam.create_user(REGION, "evidock")
        allow = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
        iam.put_user_policy(
            "evidock", "s3", json.dumps({"Version": "2012-10-17", "Statement": [allow]})
        )
        key = iam.create_access_key("evidock")
        access, secret = key.access_key_id, key.secret_access_key
    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]

    server = listen(0)
    port = server.get_host_and_port()[1]
    print("ready", port, access, secret, file=stdout, flush=True)
    for line in stdin:
        words = line.split()
        if words == ["stop"]:
            server.stop()
            print("stopped", file=stdout, flush=True)
        elif words == ["start"]:
            server = listen(port)
            print("ready", port, file=stdout, flush=True)
        elif len(words) == 3 and words[0] == "bucket":
            try:
                s3.create_bucket(words[1], REGION)
                if words[2] == "1":  # as CreateBucket with x-amz-bucket-object-lock-enabled
                    s3.put_bucket_versioning(words[1], "Enabled")
                    s3.put_object_lock_configuration(words[1], lock_enabled=True)
            except Exception as exc:  # noqa: BLE001 - answered to the parent
                print("error", type(exc).__name__, exc, file=stdout, flush=True)
            else:
                print("bucket", words[1], file=stdout, flush=True)
        else:
            print("error unknown command", line.strip(), file=stdout, flush=True)
    server.stop()


if __name__ == "__main__":
    _serve("--auth" in sys.argv[1:], sys.stdin, sys.stdout)
