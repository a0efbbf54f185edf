"""Errors that become HTTP answers, in the one shape every client can read.

docs/wire.md: every error carries `error` (read by the Ruby client), `code` and `message` (read by
the Python client). We add `field` and `rule` when the error is about one field, so that a
developer sees at once what to change.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

# HTTP status -> the `code` clients see.
CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
    431: "request_header_fields_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An answer other than success; raised anywhere on the request path."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        rule: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.rule = rule
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {
            "error": self.message,
            "code": CODES.get(self.status, "error"),
            "message": self.message,
        }
        if self.field is not None:
            body["field"] = self.field
        if self.rule is not None:
            body["rule"] = self.rule
        return body

    def response(self) -> Response:
        return Response(
            orjson.dumps(self.body()),
            status_code=self.status,
            media_type="application/json",
            headers=self.headers,
        )


class StoreUnavailable(Exception):
    """The database cannot be reached: clients should retry later (503)."""
