"""The live view: what the project's clients send, as it arrives, and what was refused and why,
so a developer wiring a client sees at once whether it works (as Segment's debugger does).

The page lists the latest rows; its script then asks /live/feed every two seconds for rows with
a higher id than the newest it shows. Polling rather than a stream keeps it working behind any
proxy, and costs one indexed query per open page every two seconds.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api.render import json_answer
from salesmachine_server.errors import ApiError
from salesmachine_server.serving.state import app_state
from salesmachine_server.store.read.live_feed import recent_events, recent_rejections
from salesmachine_server.web.access import NotSignedIn, PageNotFound, dashboard, page_handler
from salesmachine_server.web.numbers import MAX_ID, whole_number

RAW_CHARS = 2000
POLL_MS = 2000


def event_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "contact_uid": row.contact_uid,
        "account_uid": row.account_uid,
        "params": orjson.dumps(row.params).decode()[:RAW_CHARS],
        "occurred_at": row.occurred_at,
        "received_at": row.received_at,
    }


def rejection_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "path": row.path,
        "item_index": row.item_index,
        "code": row.code,
        "field": row.field,
        "reason": row.reason,
        "raw": row.raw[:RAW_CHARS],
        "received_at": row.received_at,
    }


def _feed(conn: Connection, project_id: int, after_event: int, after_rejected: int) -> dict[str, Any]:
    return {
        "events": [event_json(r) for r in recent_events(conn, project_id, after_event)],
        "rejected": [rejection_json(r) for r in recent_rejections(conn, project_id, after_rejected)],
    }


@page_handler
async def live_page(request: Request) -> Response:
    dash = await dashboard(request)
    project_id = dash.project.id
    feed = await dash.run(lambda conn: _feed(conn, project_id, 0, 0))
    return await dash.page(
        "live.html",
        "live",
        {
            "events": feed["events"],
            "rejected": feed["rejected"],
            "poll_ms": POLL_MS,
            "write_path": write_path(request),
        },
    )


def write_path(request: Request) -> dict[str, str]:
    """The server's journal as the live page shows it (and its feed, every poll): what waits
    to be applied to the store, how late, and how fast the projector goes (ingest/journal.py)."""
    depth = app_state(request).journal.depth()
    return {
        "items": f"{depth.items:,}",
        "bytes": _size(depth.bytes),
        "lag": f"{depth.lag_seconds:.1f} s",
        "rate": f"{depth.rate:,.0f} items/s",
    }


def _size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count:,} {unit}" if unit == "bytes" else f"{count:,.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count:,.1f} GiB"


async def live_feed(request: Request) -> Response:
    """JSON for the live page's script: rows newer than the ids it already shows."""
    try:
        dash = await dashboard(request)
    except (NotSignedIn, PageNotFound):
        return json_answer({"error": "sign in to a project you are a member of"}, status=404)

    def number(name: str) -> int:
        """The newest id the page shows (web/numbers.py)."""
        number = whole_number(request.query_params.get(name, "0"), 0, MAX_ID)
        if number is None:
            raise ApiError(400, f"{name} must be a whole number from 0 to {MAX_ID}", field=name, rule="whole_number")
        return number

    after_event, after_rejected = number("event"), number("rejected")
    feed = await dash.run(lambda conn: _feed(conn, dash.project.id, after_event, after_rejected))
    return json_answer(feed | {"write_path": write_path(request)})
