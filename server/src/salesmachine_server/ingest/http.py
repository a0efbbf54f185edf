"""The write endpoints: request -> credentials -> messages -> group commit -> answer.

The answer is sent only after the writer has committed (201 means stored). A single call with
bad input is answered 400 and stores nothing but the record of the refusal; a batch stores its
good items and names each bad one by index.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.auth import Credentials, authenticate
from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.messages import Invalid, Message, parse_item
from salesmachine_server.ingest.writer import Job
from salesmachine_server.settings import Settings
from salesmachine_server.store.projects import utcnow
from salesmachine_server.wire import decode

SUCCESS = {"status": "success"}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is over the limit of {limit} bytes", field="body", rule="max_size")


async def credentials_for(request: Request, api_token: str | None = None) -> Credentials:
    return await authenticate(
        request.app.state.projects,
        request.headers.get("authorization"),
        api_token if api_token is not None else request.query_params.get("api_token"),
    )


async def ping(request: Request) -> Response:
    await credentials_for(request)
    return json_response(SUCCESS)


def write_endpoint(kind: str):  # type: ignore[no-untyped-def]
    """The endpoint for one message kind: contact, account, event, pageview, alias or batch."""

    async def endpoint(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        body = await read_body(request, settings.max_body_bytes)
        envelope = decode(dict(request.query_params), request.headers.get("content-type"), body)
        credentials = await credentials_for(request, envelope.api_token)
        if kind == "batch":
            return await _write_batch(request, credentials, envelope.payload, settings, len(body))
        return await _write_one(request, credentials, envelope.payload, kind, settings, len(body))

    endpoint.__name__ = f"write_{kind}"
    return endpoint


async def _write_one(
    request: Request, credentials: Credentials, item: Any, kind: str, settings: Settings, body_size: int
) -> Response:
    received_at = utcnow()
    project_id = credentials.project.id
    try:
        _check_item_size(item, settings, body_size)
        message = parse_item(item, kind, received_at)
    except Invalid as exc:
        error = exc.error
        await _submit(request, Job(project_id, received_at, [], [_rejection(project_id, request, None, item, error)]))
        raise ApiError(400, error.message, field=error.field, rule=error.rule) from None
    await _submit(request, Job(project_id, received_at, [message]))
    return json_response(SUCCESS, 201)


async def _write_batch(
    request: Request, credentials: Credentials, payload: Any, settings: Settings, body_size: int
) -> Response:
    items = _batch_items(payload)
    if len(items) > settings.max_batch_items:
        raise ApiError(
            413,
            f"a batch may carry at most {settings.max_batch_items} items, got {len(items)}",
            field="batch",
            rule="max_items",
        )
    received_at = utcnow()
    project_id = credentials.project.id
    messages: list[Message] = []
    rejections: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            _check_item_size(item, settings, body_size)
            messages.append(parse_item(item, "batch", received_at))
        except Invalid as exc:
            rejections.append(_rejection(project_id, request, index, item, exc.error))
            refused.append(
                {"index": index, "code": "bad_request", "message": exc.error.message,
                 "field": exc.error.field, "rule": exc.error.rule}
            )
    duplicates = await _submit(request, Job(project_id, received_at, messages, rejections))
    if items and not messages:
        message = f"no item of the batch was accepted; item 0: {refused[0]['message']}"
        error = ApiError(400, message, field=f"batch[{refused[0]['index']}].{refused[0]['field']}", rule=refused[0]["rule"])
        body = error.body() | {"accepted": 0, "rejected": refused}
        return json_response(body, 400)
    body: dict[str, Any] = {"status": "success", "accepted": len(messages)}
    if duplicates:
        body["duplicates"] = duplicates
    if refused:
        body["rejected"] = refused
    return json_response(body, 201)


def _batch_items(payload: Any) -> list[Any]:
    """The document's bare array, or Segment's `{"batch": [...], "sent_at": ...}` envelope."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        sent_at = payload.get("sent_at", payload.get("sentAt"))
        if sent_at is None:
            return payload["batch"]
        return [item | {"sent_at": sent_at} if isinstance(item, dict) and "sent_at" not in item else item
                for item in payload["batch"]]
    raise ApiError(400, "a batch body must be a JSON array of items", field="body", rule="array")


def _check_item_size(item: Any, settings: Settings, body_size: int) -> None:
    # Only a body larger than the item limit can hold an item over it: skip the work otherwise.
    if body_size > settings.max_item_bytes and len(orjson.dumps(item)) > settings.max_item_bytes:
        raise Invalid("item", "max_size", f"an item may be at most {settings.max_item_bytes} bytes")


def _rejection(project_id: int, request: Request, index: int | None, item: Any, error: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "received_at": utcnow(),
        "path": request.url.path[:64],
        "item_index": index,
        "raw": orjson.dumps(item).decode()[:65536],
        "code": "bad_request",
        "field": error.field,
        "reason": error.message,
    }


async def _submit(request: Request, job: Job) -> int:
    return await request.app.state.writer.submit(job)
