"""Receivers the delivery tests start: an HTTP server standing for a webhook endpoint or Slack,
an SMTP server (aiosmtpd), and the signature check of docs/deliveries.md, run as written."""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support import free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deliveries.md"


def documented_verify() -> Callable[..., bool]:
    """The `verify` function of docs/deliveries.md, executed from the page itself: the tests'
    receiver checks signatures with exactly the code users are told to copy."""
    text = DOCS.read_text()
    found = re.search(r"<!-- verify-snippet[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert found, "docs/deliveries.md has no verification snippet"
    scope: dict[str, Any] = {}
    exec(compile(found.group(1), str(DOCS), "exec"), scope)
    verify: Callable[..., bool] = scope["verify"]
    return verify


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class HttpReceiver:
    """An HTTP endpoint on 127.0.0.1 that records every POST and answers from `answers` in turn
    (then `then`), after `delay` seconds; given `hold`, requests wait until it is set (a sender
    killed while it waits for the answer)."""

    answers: list[int] = field(default_factory=list)
    then: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None
    tls: ssl.SSLContext | None = None  # https, with this server context
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                    )
                    status = receiver.answers.pop(0) if receiver.answers else receiver.then
                if receiver.hold is not None:
                    receiver.hold.wait(60)
                time.sleep(receiver.delay)
                answer = b"ok" if status < 300 else b"not now"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass  # the sender went away

            def log_message(self, format: str, *args: Any) -> None:
                pass

        lock = threading.Lock()
        self.port = free_port()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}{path}"

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class SmtpReceiver:
    """aiosmtpd on 127.0.0.1, recording every message; with a login it requires."""

    def __init__(
        self,
        username: str = "",
        password: str = "",
        refuse_rcpt: str = "",
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        self.starttls, self.implicit_tls = starttls, implicit_tls
        self.refuse_rcpt = refuse_rcpt  # an SMTP reply to every RCPT, e.g. "550 5.1.1 no such user"
        self.messages: list[tuple[str, list[str], Message]] = []
        self.logins: list[str] = []
        self.port = free_port()
        self.username, self.password = username, password
        self._controller: Any = None

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
                if receiver.refuse_rcpt:
                    return receiver.refuse_rcpt
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.messages.append(
                    (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
                )
                return "250 Message accepted for delivery"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            if isinstance(data, LoginPassword):
                ok = data.login.decode() == self.username and data.password.decode() == self.password
                if ok:
                    receiver.logins.append(data.login.decode())
                return AuthResult(success=ok)
            return AuthResult(success=False)

        options: dict[str, Any] = {}
        if self.username:
            # aiosmtpd does not count a connection TLS from its start as TLS for AUTH: it is, so
            # the requirement is only asked of STARTTLS.
            tls = self.starttls is not None
            options = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": tls}
        if self.starttls is not None:
            options.update(tls_context=self.starttls, require_starttls=True)
        if self.implicit_tls is not None:
            options.update(ssl_context=self.implicit_tls)
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
