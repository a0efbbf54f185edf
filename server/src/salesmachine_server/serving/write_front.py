"""The write paths' own way in: the requests that are nearly all of the traffic, taken before
the general stack.

Every other request goes through the app's middleware (request metrics, fault answers, CORS,
read your writes), Starlette's exception middleware and its router: ten layers of calls, each
wrapping `send`, which cost a single-event write more than its own validation (measured in
process: 76 µs of the event loop's time per request, a fifth of it in those layers). A write
needs none of them but what they do for it, so `WriteFront`, the outermost of the app's
middleware, takes the write paths' own methods itself and does exactly that, once: it calls the
route's endpoint, answers an exception through the app's own handlers (anything else, or a
handler failing, is logged and answered 500, as serving/server_faults.py does), adds the CORS
headers of serving/cors.py, and counts the request by route and status as
serving/request_metrics.py does. Everything else, preflights included, takes the stack as before.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from salesmachine_server.serving.cors import CORS_ANSWER_HEADERS
from salesmachine_server.serving.request_metrics import count_request
from salesmachine_server.serving.server_faults import fault_response

log = logging.getLogger("salesmachine")

Handler = Callable[[Request, Exception], Awaitable[Response]]


class WriteRoutes:
    """The write paths' routes and what answers them: the endpoint, then the app's handler of
    an exception it raised. Taken by `WriteFront` from the ASGI stack, and by the HTTP
    protocol itself (serving/http_protocol.py `WriteCycle`) before any ASGI."""

    def __init__(self, routes: Iterable[Route], handlers: Mapping[Any, Handler]) -> None:
        # Only coroutine endpoints: a plain function would need the router's thread pool.
        self.routes = {route.path: route for route in routes if inspect.iscoroutinefunction(route.endpoint)}
        self.handlers = {kind: handler for kind, handler in handlers.items() if isinstance(kind, type)}

    def route_for(self, path: str, method: str) -> Route | None:
        route = self.routes.get(path)
        if route is None or route.methods is None or method not in route.methods:
            return None
        return route

    async def respond(self, request: Request, route: Route) -> Response:
        """The route's answer: its endpoint's, or the app's handler's of what it raised."""
        try:
            response: Response = await route.endpoint(request)
            return response
        except Exception as exc:
            return await self._answer(request, exc)

    async def _answer(self, request: Request, exc: Exception) -> Response:
        """The app's handler of the exception's nearest class; a fault logged and a 500 if
        none takes it or the handler itself fails."""
        handler = next((self.handlers[kind] for kind in type(exc).__mro__ if kind in self.handlers), None)
        try:
            if handler is not None:
                return await handler(request, exc)
        except Exception as failure:
            exc = failure
        log.error("server fault: %r", exc, exc_info=exc)
        return fault_response().response()


def enter_route(scope: Scope, route: Route) -> None:
    """What the router leaves in the scope, for whatever reads it (the metrics' template)."""
    scope["route"], scope["endpoint"], scope["path_params"] = route, route.endpoint, {}


class WriteFront:
    def __init__(self, app: ASGIApp, routes: WriteRoutes) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.route_for(scope["path"], scope["method"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        enter_route(scope, route)
        status = 0
        try:
            response = await self.routes.respond(Request(scope, receive), route)
            status = response.status_code
            await _send_with_cors(response, scope, receive, send)
        except BaseException:
            if status == 0:
                status = 500  # Starlette's ServerErrorMiddleware, outside, answers it
            raise
        finally:
            count_request(route.path, status)


async def _send_with_cors(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    headers = [*response.raw_headers, *CORS_ANSWER_HEADERS]
    if type(response) is Response and response.background is None:  # what every write answers
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
        return

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = headers
        await send(message)

    await response(scope, receive, send_with_headers)
