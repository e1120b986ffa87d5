"""The dock's side of the wire: POST add-checkpoint to one witness (stdlib ``urllib``)."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from verify.witness.protocol import SIZE_TYPE


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A witness's answer; ``status`` 0 means it could not be reached (``body`` says why)."""

    status: int
    body: str
    content_type: str = ""

    @property
    def is_size(self) -> bool:
        return self.status == 409 and self.content_type.split(";")[0].strip() == SIZE_TYPE


Post = Callable[[str, bytes], Reply]


def add_checkpoint_url(url: str) -> str:
    return (
        url if url.rstrip("/").endswith("/add-checkpoint") else url.rstrip("/") + "/add-checkpoint"
    )


def post(url: str, body: bytes, *, timeout: float = 10.0) -> Reply:
    """POST ``body`` to the witness at ``url``; never raises for network trouble."""
    if not url.startswith(("http://", "https://")):
        return Reply(status=0, body=f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (http and https only, checked above)
        add_checkpoint_url(url), data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Reply(
                status=response.status,
                body=response.read(65536).decode("utf-8", "replace"),
                content_type=response.headers.get("Content-Type", ""),
            )
    except urllib.error.HTTPError as e:
        return Reply(
            status=e.code,
            body=e.read(65536).decode("utf-8", "replace"),
            content_type=e.headers.get("Content-Type", ""),
        )
    except (urllib.error.URLError, OSError, ValueError) as e:
        return Reply(status=0, body=str(getattr(e, "reason", e)))
