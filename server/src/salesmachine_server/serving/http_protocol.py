"""uvicorn's HTTP/1.1 protocol with a bound on the request head: its size and its time.

uvicorn's fast parser (httptools) buffers a request line and headers of any size: a 200 MB
header costs 200 MB of memory and seconds of CPU before the application sees anything, and
a client that sends one header byte a second holds its connection forever (uvicorn's
keep-alive timeout only runs between requests). Here a head over `max_head_bytes` is answered
431 and the connection closed, and one not complete `head_timeout` seconds after it started
(or after the connection opened) is answered 408 and closed. The body is not concerned: its
size is the write endpoints' limit (413).

A response sent before the request's body has fully arrived (a 413 over the limit, a 401 for
credentials checked first) is followed, on a connection that closes, by reading and discarding
the rest of that body (up to `drain_bytes`, for up to `drain_seconds`) before closing: closing
with unread data sends a reset, and a client that writes its whole body before reading
(urllib, requests) would see "connection reset" instead of the answer.

With the h11 parser (`SALESMACHINE_HTTP=h11`) uvicorn's own `h11_max_incomplete_event_size`
(cli.py passes it) bounds a head that arrives in pieces; one that arrives in a single read
(up to 256 KiB) passes, and there is no time bound for that parser.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
from starlette.routing import Route

from salesmachine_server.errors import ApiError

try:
    import httptools
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from salesmachine_server.serving.write_cycle import WriteCycle
    from salesmachine_server.serving.write_front import WriteRoutes
except ImportError:  # httptools is not installed: uvicorn uses h11
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def protocol_for(http: str, max_head_bytes: int, head_timeout: float) -> Any:
    """What to give uvicorn as `http`: the bounded httptools protocol for "auto" and
    "httptools" (when installed), else the setting as uvicorn reads it."""
    if http not in ("auto", "httptools") or HttpToolsProtocol is None:
        return http
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout},
    )


def _answer(status: int, reason: bytes, message: str) -> bytes:
    body = orjson.dumps(ApiError(status, message).body())
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, reason, len(body))
    ) + body


class CycleTransport:
    """The transport as one request's cycle sees it: closing waits for the rest of the body,
    and a response's head goes out with its body.

    uvicorn writes a response's head and its body in two writes, each a send(2) on the socket:
    the head is held here until the body's write, in the same step of the loop for every
    response with its body at hand (a write's answer), and sent with it in one. A body that
    comes later (a file, a stream) finds the head sent already at the end of that step.
    (A `WriteCycle` writes its answers whole: `hold_head` False.)"""

    def __init__(self, transport: asyncio.Transport, protocol: Any, hold_head: bool = True) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closing = False
        self._head: bytes | None = None
        self._wrote = not hold_head

    def write(self, data: bytes) -> None:
        if not self._wrote:
            self._wrote = True
            self._head = data
            self._protocol.loop.call_soon(self._send_head)
            return
        if self._head is not None:
            data, self._head = self._head + data, None
        self._transport.write(data)

    def _send_head(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._send_head()
        self._closing = True
        self._protocol.close_after_body()

    def is_closing(self) -> bool:
        return self._closing or self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


if HttpToolsProtocol is not None:

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        max_head_bytes = 64 * 1024
        head_timeout = 30.0
        drain_bytes = 64 * 1024 * 1024
        drain_seconds = 5.0

        # A request head is being read from the moment the connection opens and again after
        # each request's body, until the parser says the head is complete.
        _in_head = True
        _received = 0  # bytes read while in the head: what the parser may be buffering
        _head_size = 0  # the exact size of the head parsed so far
        _head_timer: asyncio.TimerHandle | None = None
        _refused = False
        _draining = False  # the answer is sent; the rest of the body is read and discarded
        _drained = 0
        _drain_timer: asyncio.TimerHandle | None = None
        _write_routes: WriteRoutes | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # The app's write routes (app.py), looked up once a connection: Starlette's State
            # is a Python __getattr__.
            self._write_routes = getattr(getattr(self.app, "state", None), "write_routes", None)
            self._start_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_head_timer()
            self._stop_draining()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._draining:
                self._drained += len(data)
                if self._drained > self.drain_bytes:
                    self._close_now()
                    return
            elif self._in_head:
                if self._head_timer is None:
                    self._start_head()
                self._received += len(data)
            super().data_received(data)
            # A head still incomplete after this read: refused once what was read exceeds the
            # limit. A read is at most 256 KiB, which bounds what a head costs beyond it.
            if self._in_head and self._received > self.max_head_bytes:
                self._refuse(431, b"Request Header Fields Too Large", self._too_large())

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head_size = 0

        def on_url(self, url: bytes) -> None:
            self._head_size += len(url)
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_size += len(name) + len(value) + 4
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._in_head = False
            self._stop_head_timer()
            # A head that arrived complete in one read is measured exactly here.
            if self._head_size > self.max_head_bytes:
                self._refuse(431, b"Request Header Fields Too Large", self._too_large())
                return
            if self._refused:  # a request after a drained body: not for this connection
                return
            found = self._write_route()
            if found is None:
                super().on_headers_complete()
            else:
                self._start_write(*found)
            if self.cycle is not None:
                # Any attribute the cycle asks of a transport is forwarded (__getattr__).
                hold_head = not isinstance(self.cycle, WriteCycle)
                self.cycle.transport = cast(asyncio.Transport, CycleTransport(self.transport, self, hold_head))

        def _write_route(self) -> tuple[WriteRoutes, Route, Any] | None:
            """The write routes, the route and the parsed URL of a POST to a write path sent
            as is (HTTP/1.1, its path not escaped, no upgrade), when the app has write routes
            (app.py); else None: uvicorn's way."""
            routes = self._write_routes
            parser = self.parser
            if routes is None or self.limit_concurrency is not None or parser.get_method() != b"POST":
                return None
            if parser.get_http_version() != "1.1" or parser.should_upgrade():
                return None
            url = httptools.parse_url(self.url)
            if b"%" in url.path:
                return None
            route = routes.route_for(self.root_path + url.path.decode("ascii"), "POST")
            return None if route is None else (routes, route, url)

        def _start_write(self, routes: WriteRoutes, route: Route, url: Any) -> None:
            """uvicorn's `on_headers_complete` for a write route: the scope completed as it
            completes it, and a `WriteCycle` started (or queued behind the request before it)."""
            scope: Any = self.scope
            scope["method"] = "POST"
            scope["path"] = self.root_path + url.path.decode("ascii")
            scope["raw_path"] = self.root_path.encode("ascii") + url.path
            scope["query_string"] = url.query or b""
            existing = self.cycle
            self.cycle = cycle = WriteCycle(
                scope=self.scope,
                transport=self.transport,
                flow=self.flow,
                logger=self.logger,
                access_logger=self.access_logger,
                access_log=self.access_log,
                default_headers=self.server_state.default_headers,
                message_event=asyncio.Event(),
                expect_100_continue=self.expect_100_continue,
                keep_alive=self.parser.should_keep_alive(),
                on_response=self.on_response_complete,
            )
            cycle.routes = routes
            cycle.route = route
            if existing is None or existing.response_complete:
                self._start_asgi_task(cycle, self.app)
            else:  # pipelined: its turn comes when the one before it is answered
                self.flow.pause_reading()
                self.pipeline.appendleft((cycle, self.app))

        def on_body(self, body: bytes) -> None:
            if not self._refused:
                super().on_body(body)

        def on_message_complete(self) -> None:
            if self._refused:
                return
            if self._draining:  # the whole body is in: the client reads the answer now
                self._close_now()
                return
            super().on_message_complete()
            # What follows is the next request's head; its clock starts with its first byte
            # (uvicorn's keep-alive timeout covers the idle time before it).
            self._in_head = True
            self._received = 0

        def close_after_body(self) -> None:
            """Close now, or once the body being received has arrived (bounded)."""
            cycle = self.cycle
            receiving = not self._in_head and cycle is not None and not cycle.waiting_for_100_continue
            if not receiving or self._refused or self.transport.is_closing():
                self._close_now()
                return
            self._draining = True
            self._drained = 0
            self.flow.resume_reading()
            self._drain_timer = self.loop.call_later(self.drain_seconds, self._close_now)

        def _close_now(self) -> None:
            self._refused = True  # nothing more is parsed from this connection
            self._stop_draining()
            if not self.transport.is_closing():
                self.transport.close()

        def _stop_draining(self) -> None:
            if self._drain_timer is not None:
                self._drain_timer.cancel()
                self._drain_timer = None

        def _too_large(self) -> str:
            return f"the request line and headers are over the limit of {self.max_head_bytes} bytes"

        def _start_head(self) -> None:
            self._in_head = True
            self._received = 0
            self._stop_head_timer()
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

        def _stop_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self._in_head and not self._refused:
                self._refuse(
                    408,
                    b"Request Timeout",
                    f"the request line and headers did not arrive within {self.head_timeout:g} s",
                )

        def _refuse(self, status: int, reason: bytes, message: str) -> None:
            """Answer and close; nothing more is read from this connection."""
            self._refused = True
            self._stop_head_timer()
            if self.transport.is_closing():
                return
            # Only when no earlier response on this connection is still being written.
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(_answer(status, reason, message))
            self.transport.close()
