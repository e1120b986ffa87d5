"""systemd's sd_notify protocol: datagrams on $NOTIFY_SOCKET (READY, STATUS, WATCHDOG, STOPPING).

A no-op when the socket is not set (not started by systemd).
"""

from __future__ import annotations

import logging
import socket

logger = logging.getLogger(__name__)


class Notifier:
    def __init__(self, socket_path: str | None) -> None:
        self.path = socket_path
        self._sock: socket.socket | None = None
        if socket_path:
            # never block the daemon on a notify socket nobody reads (a full queue drops the
            # datagram; systemd reads its socket, and STATUS is sent again soon anyway)
            self._sock = socket.socket(
                socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
            )

    def send(self, **fields: str) -> bool:
        """Send e.g. ``send(READY="1", STATUS="...")``; False if it could not be sent."""
        if self._sock is None or self.path is None:
            return False
        text = "\n".join(f"{k}={v.replace(chr(10), ' ')}" for k, v in fields.items())
        addr = "\0" + self.path[1:] if self.path.startswith("@") else self.path
        try:
            self._sock.sendto(text.encode("utf-8"), addr)
        except BlockingIOError:
            logger.debug("sd_notify queue full socket=%s: message dropped", self.path)
            return False
        except OSError as e:
            logger.warning("sd_notify failed socket=%s error=%s", self.path, e)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
