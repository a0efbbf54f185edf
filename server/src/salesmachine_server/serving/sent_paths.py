"""Paths as the client sent them, percent-encoded, and routes matched on them: a path parameter
is one segment of the path as sent, whatever it decodes to ("/" included).

ASGI servers give the application the path twice: decoded (scope["path"], where "%2F" is
already "/") and as received (scope["raw_path"]). Starlette routes on the decoded one, so
/v1/contacts/acme%2Feu reaches its router as /v1/contacts/acme/eu, one segment too many, and
/v1/contacts/x%2Fevents as the timeline of "x". An EncodedRoute matches its template against
the path as sent instead, where a slash the client encoded cannot end a segment, then
percent-decodes each parameter.

A parameter whose bytes are not UTF-8 once decoded is kept with those bytes as surrogates
(Python's "surrogateescape"), for the endpoint to refuse by name (api.context.path_uid).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote_to_bytes

from starlette.routing import Match, Route
from starlette.types import Scope

# What a path as sent may hold unencoded: RFC 3986's pchar (with "%" to keep escapes as they
# are) and "/". Anything else a client put there raw (a space, a byte above 127) is encoded,
# which decodes to the same bytes.
_SENT = "/%!$&'()*+,;=:@"


def sent_path(scope: Scope) -> str:
    """The request's path (root_path included) as the client sent it, without the query:
    ASCII, percent-encoded. A server that gives no raw_path (it is optional in ASGI) leaves
    only the decoded path, re-encoded here: a slash in a parameter cannot be told from one
    between segments then."""
    raw = scope.get("raw_path")
    if raw is None:
        return quote(scope["path"], safe="/")
    return quote(raw.split(b"?", 1)[0], safe=_SENT)


def sent_route_path(scope: Scope) -> str:
    """sent_path without the root_path the application is mounted under."""
    path = sent_path(scope)
    root = quote(scope.get("root_path", ""), safe=_SENT)
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


def decoded(segment: str) -> str:
    """A percent-encoded segment as the string it names; bytes that are not UTF-8 become
    surrogates (see the module's note)."""
    return unquote_to_bytes(segment).decode("utf-8", "surrogateescape")


class EncodedRoute(Route):
    """A Route whose template is matched against the path as sent, its parameters then
    decoded: `/v1/contacts/{uid}` takes /v1/contacts/a%2Fb with uid "a/b", and
    `/v1/contacts/{uid}/events` does not take it."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        found = self.path_regex.match(sent_route_path(scope))
        if found is None:
            return Match.NONE, {}
        path_params: dict[str, Any] = dict(scope.get("path_params", {}))
        for key, value in found.groupdict().items():
            path_params[key] = self.param_convertors[key].convert(decoded(value))
        child_scope = {"endpoint": self.endpoint, "path_params": path_params}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child_scope
        return Match.FULL, child_scope
