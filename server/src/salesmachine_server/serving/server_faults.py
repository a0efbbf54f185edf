"""The last word on an exception no handler took: a logged 500 that leaves the connection usable.

Starlette's ServerErrorMiddleware answers such an exception with the app's 500 handler and then
re-raises it, so that the server logs it; uvicorn, seeing an exception after the answer was
sent, closes the connection without having said `Connection: close`. A keep-alive client then
sends its next request into a closed socket and gets a reset: one fault of ours failed the next
requests too. Here the exception is logged with its traceback, answered 500 and *not* re-raised,
so the connection carries on. Only an exception after the answer started is re-raised: half an
answer can only be ended by closing the connection, which is what uvicorn then does.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesmachine_server.errors import ApiError

log = logging.getLogger("salesmachine")

FAULT_MESSAGE = "the server failed to handle this request; it has been logged"


def fault_response() -> ApiError:
    return ApiError(500, FAULT_MESSAGE)


class AnswerServerFaults:
    """Middleware just inside RequestMetrics: it sees every exception the handlers let through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:
            if started:
                raise
            log.error("server fault: %r", exc, exc_info=exc)
            await fault_response().response()(scope, receive, send)
