"""Counts every HTTP request by route template and status: `salesmachine_requests_total`.

Labelled by the route's template (`/v1/contacts/{uid}`), never by the raw path, so that the
number of series stays bounded whatever paths clients (or scanners) send; a path no route
matches is counted as `unmatched`. A pure ASGI middleware, because it must see the status of
every answer, including those written by exception handlers further in, without buffering
bodies (exports stream).
"""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter(
    "salesmachine_requests_total", "HTTP requests answered, by route template and status", ["path", "status"]
)

UNMATCHED = "unmatched"


class RequestMetrics:
    """Outermost of the app's middleware: it sees the final status of every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except BaseException:
            # No answer started: the server error handler outside us answers 500.
            if status == 0:
                status = 500
            raise
        finally:
            # A client that went away before any answer: counted with status 0, not lost.
            count_request(route_template(scope), status)


def count_request(template: str, status: int) -> None:
    """One request answered with `status` by the route of `template` (0: none sent)."""
    _counter(template, status).inc()


@functools.lru_cache(maxsize=1024)
def _counter(template: str, status: int) -> Any:
    """The labelled child of REQUESTS: looking it up through `labels` on every request cost
    more than the rest of this middleware. Bounded like the series themselves."""
    return REQUESTS.labels(template, str(status))


def route_template(scope: Scope) -> str:
    """The template of the route that took the request (the router leaves it in the scope)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED
