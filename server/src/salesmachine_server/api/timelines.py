"""GET /v1/events, /v1/contacts/{uid}/events, /v1/accounts/{uid}/events: newest first.

Query: `event` (a name; repeat it for several), `kind` (event or pageview), `from` and `to`
(times, `to` excluded), `limit` (1 to 1000, default 50), `cursor` (from `next_cursor`).
An account's timeline is the events attributed to it (docs/wire.md: an event's account_uid, or its
contact's only account).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import shapes
from salesmachine_server.api.context import path_uid, read_context
from salesmachine_server.api.list_queries import refused
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain.list_query import FieldType, QueryError, decode_cursor, parse_limit
from salesmachine_server.domain.messages import Invalid, parse_time
from salesmachine_server.errors import ApiError
from salesmachine_server.store.read.profiles import account_row, contact_id_for
from salesmachine_server.store.read.timelines import EventQuery, events_page

KNOWN = {"event", "kind", "from", "to", "limit", "cursor"}


def event_query(request: Request) -> EventQuery:
    params = request.query_params
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise ApiError(
            400,
            f"unknown query parameter {unknown[0]!r}; timelines take {', '.join(sorted(KNOWN))}",
            field=unknown[0],
            rule="known",
        )
    if any("\x00" in value for _, value in params.multi_items()):  # PostgreSQL refuses NUL in a query
        raise ApiError(400, "the query must not contain the NUL character (%00)", field="query", rule="no_nul")
    kind = params.get("kind")
    if kind not in (None, "event", "pageview"):
        raise ApiError(400, "kind must be event or pageview", field="kind", rule="one_of")
    try:
        limit = parse_limit(params.get("limit", "50"))
    except QueryError as exc:
        raise refused(exc) from None
    return EventQuery(
        names=tuple(params.getlist("event")),
        kind=kind,
        since=_time(params.get("from"), "from"),
        until=_time(params.get("to"), "to"),
        limit=limit,
        after=_after(params.get("cursor")),
    )


def _after(cursor: str | None) -> tuple[Any, int] | None:
    try:
        return decode_cursor(cursor, FieldType.DATETIME) if cursor else None
    except QueryError as exc:
        raise refused(exc) from None


def _time(value: str | None, name: str):  # type: ignore[no-untyped-def]
    try:
        return parse_time(value, name)
    except Invalid as exc:
        raise ApiError(400, exc.error.message, field=name, rule="datetime") from None


def _answer(rows, cursor) -> Response:  # type: ignore[no-untyped-def]
    return model_answer(shapes.event_page(rows, cursor))


async def project_events(request: Request) -> Response:
    context = await read_context(request)
    query = event_query(request)
    return _answer(*await context.run(lambda conn: events_page(conn, context.project.id, query)))


async def contact_events(request: Request) -> Response:
    context = await read_context(request)
    query = event_query(request)
    uid = path_uid(request, "uid")

    def run(conn):  # type: ignore[no-untyped-def]
        contact_id = contact_id_for(conn, context.project.id, uid)
        if contact_id is None:
            return None
        return events_page(conn, context.project.id, query, contact_id=contact_id)

    page = await context.run(run)
    if page is None:
        raise ApiError(404, f"no contact has the uid {uid!r}", field="uid", rule="exists")
    return _answer(*page)


async def account_events(request: Request) -> Response:
    context = await read_context(request)
    query = event_query(request)
    uid = path_uid(request, "uid")

    def run(conn):  # type: ignore[no-untyped-def]
        row = account_row(conn, context.project.id, uid)
        if row is None:
            return None
        return events_page(conn, context.project.id, query, account_id=row.id)

    page = await context.run(run)
    if page is None:
        raise ApiError(404, f"no account has the uid {uid!r}", field="uid", rule="exists")
    return _answer(*page)
