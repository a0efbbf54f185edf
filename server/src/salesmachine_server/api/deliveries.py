"""GET /v1/deliveries: the delivery log, newest first (token and secret, as the read API).

Query: `status` (pending, delivered or failed), `channel` (webhook, slack or email),
`playbook_id`, `limit` (1 to 1000, default 50), `cursor` (from `next_cursor`). Each delivery
comes with every attempt: what was sent, the answer, the error. Secrets are never in it
(deliver/shown.py; attempts are recorded without them).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import delivery_models
from salesmachine_server.api.context import read_context
from salesmachine_server.api.list_queries import refused
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain.list_query import FieldType, QueryError, decode_cursor, encode_cursor, parse_limit
from salesmachine_server.errors import ApiError
from salesmachine_server.serving.state import app_state
from salesmachine_server.store.read.deliveries import DeliveryQuery, deliveries_page
from salesmachine_server.store.records.deliveries import CHANNELS, STATUSES
from salesmachine_server.store.records.projects import utcnow

KNOWN = ("status", "channel", "playbook_id", "limit", "cursor")


def delivery_query(request: Request) -> DeliveryQuery:
    params = request.query_params
    unknown = sorted(set(params) - set(KNOWN))
    if unknown:
        raise ApiError(
            400,
            f"unknown query parameter {unknown[0]!r}; the delivery log takes {', '.join(KNOWN)}",
            field=unknown[0],
            rule="known",
        )
    status = params.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(400, f"status must be one of {', '.join(STATUSES)}", field="status", rule="one_of")
    channel = params.get("channel")
    if channel is not None and channel not in CHANNELS:
        raise ApiError(400, f"channel must be one of {', '.join(CHANNELS)}", field="channel", rule="one_of")
    playbook = params.get("playbook_id")
    if playbook is not None and not (playbook.isascii() and playbook.isdigit() and 0 < len(playbook) <= 18):
        raise ApiError(400, "playbook_id must be a positive whole number", field="playbook_id", rule="integer")
    try:
        limit = parse_limit(params.get("limit", "50"))
        cursor = params.get("cursor")
        before = decode_cursor(cursor, FieldType.DATETIME)[1] if cursor else None
    except QueryError as exc:
        raise refused(exc) from None
    return DeliveryQuery(
        status=status,
        channel=channel,
        playbook_id=int(playbook) if playbook is not None else None,
        before_id=before,
        limit=limit,
    )


async def deliveries(request: Request) -> Response:
    context = await read_context(request)
    query = delivery_query(request)
    rows, more = await context.run(lambda conn: deliveries_page(conn, context.project.id, query))
    cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    window = app_state(request).settings.delivery_retry_window_seconds
    return model_answer(delivery_models.page(rows, cursor, utcnow(), window))
