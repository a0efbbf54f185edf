"""A write path's POST answered by the HTTP protocol itself, below ASGI.

uvicorn hands each request to the application as ASGI: a scope, `receive` and `send`, through
Starlette's outermost middleware (ServerErrorMiddleware) to ours (`WriteFront`), and builds the
answer's head from `send`'s messages, checking every header against two expressions. On 2
cores, uvicorn with a bare ASGI function answering 201 cost about 50 µs of CPU a request, and
the same answer from a protocol of its own on httptools 12 (wrk, 64 connections).

`WriteCycle` is uvicorn's request cycle for the write paths' POST (nearly every request):
everything uvicorn does for a connection (keep-alive, pipelined requests, flow control, a
client gone) stays its own, but the cycle calls the route's endpoint itself, as `WriteFront`
does (`WriteRoutes.respond`: the endpoint, the app's handlers for what it raises, CORS
headers, the request counted by route and status), and writes an answer whose body is at hand,
head and body, in one write. What else an endpoint may answer (a stream) goes through the ASGI
`send` as before. serving/http_protocol.py starts it.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from salesmachine_server.serving.cors import CORS_ANSWER_HEADERS
from salesmachine_server.serving.request_metrics import count_request
from salesmachine_server.serving.write_front import WriteRoutes, enter_route

log = logging.getLogger("salesmachine")


class WriteCycle(RequestResponseCycle):
    routes: WriteRoutes
    route: Route

    async def run_asgi(self, app: Any) -> None:
        scope: Any = self.scope
        scope["app"] = app  # what Starlette sets, and app_state reads
        enter_route(scope, self.route)
        receive: Any = self.receive  # uvicorn's typed events are the ASGI messages Starlette reads
        status = 0
        try:
            response = await self.routes.respond(Request(scope, receive), self.route)
            status = response.status_code
            if not self._answer_at_once(response):
                await response(scope, receive, self._send_with_cors)
        except BaseException as exc:  # as uvicorn's own cycle: logged, and a 500 if nothing was sent
            status = status or 500
            log.error("Exception in the write path", exc_info=exc)
            if not self.response_started:
                await self.send_500_response()
            else:
                self.transport.close()
        finally:
            count_request(self.route.path, status)
            self.on_response = lambda: None

    def _answer_at_once(self, response: Response) -> bool:
        """Write an answer whose body is at hand, head and body in one write, as `send` would
        write them; False for any other (a stream, a background task, writes paused)."""
        if type(response) is not Response or response.background is not None:
            return False
        if self.disconnected or self.response_started or self.flow.write_paused:
            return False
        status = response.status_code
        if self.access_log:
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(self.scope),
                self.scope["method"],
                get_path_with_query_string(self.scope),
                self.scope["http_version"],
                status,
            )
        # Our own headers (the response's, which give its length, and CORS's): none to check.
        head = [STATUS_LINE[status]]
        for name, value in (*self.default_headers, *response.raw_headers, *CORS_ANSWER_HEADERS):
            head += (name, b": ", value, b"\r\n")
        if not self.keep_alive:
            head.append(b"connection: close\r\n")
        head += (b"\r\n", bytes(response.body))
        self.response_started = self.response_complete = True
        self.waiting_for_100_continue = False
        self.transport.write(b"".join(head))
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()
        return True

    async def _send_with_cors(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *CORS_ANSWER_HEADERS]
        await self.send(message)  # type: ignore[arg-type]
