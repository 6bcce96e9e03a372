"""Wake the delivery worker as soon as a message is queued, instead of at its next poll.

The delivery worker runs in its own process (production) or thread
(development) and otherwise looks for due messages every
``delivery.poll_seconds``, so a message queued on an idle node waited up to
that long before it was sent. The worker listens on a Linux abstract Unix
datagram socket named after its data directory; whoever queues a message
sends it one empty datagram after the commit. It is only a hint: the worker
still polls (backoff retries, other hosts' workers on PostgreSQL), a lost or
unsent ring only costs the poll interval, and a stray datagram only costs
one extra claim round. Where abstract sockets do not exist, nothing rings
and the worker polls as before.
"""

from __future__ import annotations

import hashlib
import os
import select
import socket
import threading
from pathlib import Path

__all__ = ["Doorbell", "ring"]

_sender: socket.socket | None = None
_sender_pid = 0
_sender_lock = threading.Lock()


def address(data_dir: Path) -> str:
    """The abstract socket name of the worker for ``data_dir`` (one per node data directory)."""
    digest = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:24]
    return f"\0gcc-link-delivery-{digest}"


def ring(data_dir: Path) -> None:
    """Tell the delivery worker of ``data_dir`` that a message is due (never blocks, never raises)."""
    global _sender, _sender_pid
    try:
        with _sender_lock:
            if _sender is None or _sender_pid != os.getpid():  # a forked worker opens its own
                _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                _sender.setblocking(False)
                _sender_pid = os.getpid()
            sock = _sender
        sock.sendto(b"", address(data_dir))
    except (OSError, AttributeError):
        pass  # no worker listening, its queue full, or no AF_UNIX: it polls anyway


class Doorbell:
    """The worker's end: ``wait(timeout)`` returns at a ring or after ``timeout`` seconds."""

    def __init__(self, data_dir: Path) -> None:
        self._sock: socket.socket | None = None
        try:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(address(data_dir))
            self._sock = sock
        except (OSError, AttributeError):
            self._sock = None  # another worker of this node holds it (PostgreSQL), or no abstract sockets

    @property
    def listening(self) -> bool:
        return self._sock is not None

    def wait(self, timeout: float) -> bool:
        """Sleep until rung or ``timeout``; True if rung. Pending rings are drained (one round serves all)."""
        if self._sock is None:
            threading.Event().wait(timeout)
            return False
        ready, _, _ = select.select([self._sock], [], [], timeout)
        if not ready:
            return False
        try:
            while True:
                self._sock.recv(16)
        except BlockingIOError:
            pass
        except OSError:
            pass
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
