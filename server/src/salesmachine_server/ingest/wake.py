"""Waking the projector when the journal grows, and keeping one projector per journal.

The projector of a journal binds a Unix datagram socket in Linux's abstract namespace, named
from the journal's absolute path; a request worker that appended sends it an empty datagram.
The projector then starts at once instead of at its next poll. A small group then waits a
moment for more (project/projector.py `_gather`) unless a read waits for it: such a read sends
`HURRY`, and the projector applies what it holds at once, which is what keeps a read right
after a write from waiting. A lost datagram costs one poll interval, nothing more.

The address is also the lock that makes one projector per journal: binding it is exclusive,
and the kernel releases it when its process dies, however it dies. Two servers started on
one SQLite file share its journal, and only one of their projectors applies it at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
from pathlib import Path

HURRY = b"h"  # a read waits for the journal to be applied


def address(journal_path: Path) -> bytes:
    digest = hashlib.sha256(str(journal_path.resolve()).encode()).hexdigest()[:32]
    return b"\0salesmachine-journal-" + digest.encode()


class Wake:
    """The sending side, one per process that appends."""

    def __init__(self, journal_path: Path) -> None:
        self.address = address(journal_path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)

    def projector(self) -> None:
        """Tell the projector the journal grew."""
        self._send(b"")

    def hurry(self) -> None:
        """Ask the projector to apply what it holds now: a read waits for it."""
        self._send(HURRY)

    def close(self) -> None:
        """Release the socket (a process that hurries once, then goes on: the test suite's reader)."""
        self._socket.close()

    def _send(self, datagram: bytes) -> None:
        # No projector listening (restarting), or its queue full: it polls anyway.
        with contextlib.suppress(OSError):
            self._socket.sendto(datagram, self.address)


def claim(journal_path: Path) -> socket.socket | None:
    """The projector's socket, bound: this process is now the journal's projector. None when
    another process holds it."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        listener.bind(address(journal_path))
    except OSError:
        listener.close()
        return None
    listener.setblocking(False)
    return listener
