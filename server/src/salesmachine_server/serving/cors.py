"""CORS for the write paths, so the browser library can post from any site (docs/wire.md).

Writes are authorised by the public token, not by cookies, so any origin may send them:
`Access-Control-Allow-Origin: *` on every answer of a write path, and preflights answered
here without reaching the application.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFLIGHT_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Max-Age": "86400",
}

CORS_ANSWER_HEADERS = (
    (b"access-control-allow-origin", b"*"),
    # A page may read how long a 429 or 503 asks it to wait (CORS hides it otherwise).
    (b"access-control-expose-headers", b"Retry-After"),
)


class WriteCors:
    def __init__(self, app: ASGIApp, paths: set[str]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            requested = Headers(scope=scope).get("access-control-request-headers", "authorization, content-type")
            headers = PREFLIGHT_HEADERS | {"Access-Control-Allow-Headers": requested}
            await Response(status_code=204, headers=headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Appended as raw pairs: no answer of the app sets these two itself.
                message["headers"] = [*message.get("headers", ()), *CORS_ANSWER_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_cors)
