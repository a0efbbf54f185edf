"""Read your writes: a read answers once the projector has applied every write this server
acknowledged before the read started, or after `read_wait_seconds`, saying so.

A write is acknowledged once it is in the journal (ingest/journal.py); the projector applies it
to the store a moment later (project/projector.py). A client that writes and then reads must
still see its write: so every request that is not a write (the read API, the dashboard, the
data rights calls, which must not erase before a write acknowledged earlier lands) first notes
the journal's last appended seq, then waits until the projected seq reaches it, asking the
projector to hurry (a small group otherwise waits a moment for more). Usually that is at once,
or a few milliseconds. When the projector is behind by more than the setting's time
(the store down, a backlog), the request goes on and its answer carries
`Salesmachine-Read-Stale`, naming how many journal entries acknowledged before it were not yet
applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesmachine_server.serving.state import STATE_NAME, AppState

if TYPE_CHECKING:
    from salesmachine_server.ingest.journal import Journal

STALE_HEADER = b"salesmachine-read-stale"
_FIRST_POLL_SECONDS = 0.001
_MAX_POLL_SECONDS = 0.02


async def wait_for_projection(journal: Journal, seconds: float, hurry: Callable[[], None]) -> int:
    """Wait until what the journal holds now is applied, at most `seconds`; the entries still
    not applied then (0: caught up). `hurry` asks the projector not to wait for more writes
    (ingest/wake.py); asked again at each poll, so that a lost datagram costs one poll."""
    target, projected = journal.positions()
    if projected >= target:
        return 0
    deadline = time.monotonic() + seconds
    delay = _FIRST_POLL_SECONDS
    while True:
        hurry()
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_POLL_SECONDS)
        projected = journal.projected()
        if projected >= target:
            return 0
        if time.monotonic() >= deadline:
            return target - projected


class ReadYourWrites:
    """ASGI middleware: every HTTP request but those on `skip` paths (writes, probes, static
    files) waits for the projection first."""

    def __init__(self, app: ASGIApp, skip: set[str], skip_prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.skip = skip
        self.skip_prefixes = skip_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in self.skip or path.startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        state: AppState = getattr(scope["app"].state, STATE_NAME)
        behind = await wait_for_projection(
            state.journal, state.settings.read_wait_seconds, state.journal_append.wake.hurry
        )
        if not behind:
            await self.app(scope, receive, send)
            return
        note = (
            f"{behind} journal entries acknowledged before this read were not applied after "
            f"{state.settings.read_wait_seconds:g} s"
        ).encode()

        async def send_noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (STALE_HEADER, note)]}
            await send(message)

        await self.app(scope, receive, send_noting)
