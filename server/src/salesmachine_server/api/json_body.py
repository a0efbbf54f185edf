"""The JSON object a write of the API's own (tasks, notes, owners) sends: read bounded, parsed,
checked to be an object with only the keys the endpoint takes. Anything else is a 400 naming
the field and the rule, as every error of the API does (errors.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import orjson
from starlette.requests import Request

from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.body import read_body

# A task or a note is small; a note's text is at most domain/work_items.MAX_NOTE characters.
MAX_BODY_BYTES = 256 * 1024


async def json_object(request: Request, allowed: Collection[str]) -> dict[str, Any]:
    """The request's JSON object; unknown keys are refused by name (a typo must not be a
    silent no-op on a write that changes something)."""
    raw = await read_body(request, MAX_BODY_BYTES)
    if not raw.strip():
        raise ApiError(400, "the body must be a JSON object", field="body", rule="required")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", field="body", rule="json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object", field="body", rule="object")
    for key in body:
        if key not in allowed:
            raise ApiError(
                400, f"{key!r} is not a field here (fields: {', '.join(sorted(allowed))})", field=key, rule="known"
            )
    return body
