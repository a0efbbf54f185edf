"""Reading a write's body: bounded in size, and in what strangers' bodies may hold at once.

The credentials are checked before the body is read wherever the transport allows (http.py).
A legacy form without an Authorization header may carry its `api_token` inside the body, so
that body must be read before its sender is known: at most STRANGER_BODIES such bodies over
LARGE_BODY_BYTES are read and opened at once, others wait for their turn (uvicorn stops
reading a waiting body after 64 KiB, so waiting holds next to nothing). Large bodies are
decoded on a worker thread, so that the event loop keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from anyio import to_thread
from starlette.requests import Request

from salesmachine_server.errors import ApiError
from salesmachine_server.serving.state import app_state

LARGE_BODY_BYTES = 64 * 1024
STRANGER_BODIES = 4
STRANGER_WAIT_SECONDS = 10.0

T = TypeVar("T")
Admit = Callable[[], Awaitable[None]]


async def read_body(request: Request, limit: int, admit: Admit | None = None) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed the limit. `admit` is
    awaited before reading on once the body is known to be over LARGE_BODY_BYTES."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise too_large(limit)
        if admit is not None and int(declared) > LARGE_BODY_BYTES:
            await admit()
            admit = None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        if admit is not None and size > LARGE_BODY_BYTES:
            await admit()
            admit = None
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is over the limit of {limit} bytes", field="body", rule="max_size")


class StrangerBodies:
    """Turns for reading large bodies whose sender is not yet known."""

    def __init__(self, turns: int = STRANGER_BODIES, wait_seconds: float = STRANGER_WAIT_SECONDS) -> None:
        self._turns = asyncio.Semaphore(turns)
        self.wait_seconds = wait_seconds

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[Admit]:
        """A context for reading and opening one body; the function it gives takes a turn
        (503 with Retry-After when none comes within `wait_seconds`), held to the end."""
        held = False

        async def admit() -> None:
            nonlocal held
            try:
                await asyncio.wait_for(self._turns.acquire(), self.wait_seconds)
            except TimeoutError:
                raise ApiError(
                    503,
                    "too many large bodies without credentials are being read; retry later",
                    headers={"Retry-After": "1"},
                ) from None
            held = True

        try:
            yield admit
        finally:
            if held:
                self._turns.release()


def stranger_bodies(request: Request) -> StrangerBodies:
    """The application's turns (made by the lifespan, app.py)."""
    return app_state(request).stranger_bodies


async def off_the_loop_if_large(size: int, work: Callable[..., T], *args: Any) -> T:
    """`work(*args)`, on a worker thread when it reads more than LARGE_BODY_BYTES. Pure-Python
    parsing there yields the interpreter to the event loop every few milliseconds; a single
    C call (orjson) still holds it to its end, which for the largest body is tens of ms."""
    if size <= LARGE_BODY_BYTES:
        return work(*args)
    return await to_thread.run_sync(work, *args)
