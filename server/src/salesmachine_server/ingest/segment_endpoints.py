"""Segment's HTTP tracking API: request -> credentials -> body -> Segment messages -> our items
-> group commit -> the answer Segment's clients read (docs/segment.md).

`/v1/identify`, `/v1/track`, `/v1/page`, `/v1/screen` and `/v1/group` are Segment's alone.
`/v1/alias`, `/v1/batch` and `/v1/import` are shared with our own API: a JSON body is read
once, and handed back to our endpoint unchanged unless its content is Segment's (items with
`type` rather than `method`; `previousId` rather than `alias`), so that our clients see no
change. Everything else is what our endpoints do (ingest/endpoints.py): credentials checked
before the body when the request carries them, the body limit, refusals kept in
rejected_items, the answer sent once the group commit has stored the items.

Segment's clients send the write key as the Basic user (our project token; the project secret
works too, and makes the writes trusted, as for our clients), or as `writeKey` in the body.
They read a 200 (rudder-sdk-python reads nothing else) and, on errors, `code` and `message`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message as AsgiMessage

from salesmachine_server.domain.messages import Invalid, Message
from salesmachine_server.domain.segment_spec import is_segment_alias, is_segment_batch, translate
from salesmachine_server.errors import CODES, ApiError
from salesmachine_server.ingest.body import off_the_loop_if_large, read_body, stranger_bodies
from salesmachine_server.ingest.endpoints import (
    WriteRequest,
    credentials_for,
    json_response,
    nothing_accepted,
    refuse_in_maintenance,
    refused_entry,
    steps_for,
)
from salesmachine_server.ingest.group_commit import Submission
from salesmachine_server.ingest.gzip_body import content_coding, inflate
from salesmachine_server.ingest.journal_append import acknowledge
from salesmachine_server.ingest.pipeline import (
    enrich,
    fill_visit_ip,
    item_json,
    limit,
    refuse_suppressed,
    verify_identity,
)
from salesmachine_server.ingest.suppression import NOTHING_SUPPRESSED, Suppression, suppression_for
from salesmachine_server.ingest.wire import DECODED_BODY, Envelope, may_carry_credentials, media_type, sent_text
from salesmachine_server.serving.credentials import Credentials, authenticate, basic_pair
from salesmachine_server.serving.state import app_state
from salesmachine_server.settings import Settings
from salesmachine_server.store.records.projects import utcnow

Endpoint = Callable[[Request], Awaitable[Response]]

# Segment's paths of one message type each.
SEGMENT_PATHS = {
    "/v1/identify": "identify",
    "/v1/track": "track",
    "/v1/page": "page",
    "/v1/screen": "screen",
    "/v1/group": "group",
}
# Paths our API has too (or, for /v1/import, that take both batch shapes): the type their
# Segment content has.
SHARED_PATHS = {"/v1/alias": "alias", "/v1/batch": "batch", "/v1/import": "batch"}
SUCCESS = {"success": True}


def segment_endpoint(kind: str) -> Endpoint:
    """The endpoint of one of Segment's own paths."""

    async def endpoint(request: Request) -> Response:
        refuse_in_maintenance(request)
        credentials, body = await _receive(request)
        try:
            payload = await _decode(request, body)
        except ApiError as error:
            await _keep_refusal(request, credentials, body, error)
            raise
        return await _write(request, await _sender(request, credentials, payload), payload, kind, len(body))

    endpoint.__name__ = f"segment_{kind}"
    return endpoint


def shared_endpoint(kind: str, ours: Endpoint) -> Endpoint:
    """The endpoint of a path our API shares with Segment's: Segment's content is written here,
    anything else (a bare array, items with `method`, a legacy form or GET) by `ours`."""

    async def endpoint(request: Request) -> Response:
        query = dict(request.query_params)
        content_type = request.headers.get("content-type")
        if request.method != "POST" or "data" in query or may_carry_credentials(query, content_type):
            return await ours(request)
        refuse_in_maintenance(request)
        credentials, body = await _receive(request, ours_too=True)
        try:
            payload = await _decode(request, body)
        except ApiError:
            payload = None  # not Segment's: ours answers it as it always has
        if payload is None or not _speaks_segment(kind, payload):
            if payload is not None:  # ours takes it as decoded here (a 100-item batch: a tenth of its CPU)
                request.scope[DECODED_BODY] = (body, payload)
            return await ours(_replayed(request, body))
        return await _write(request, await _sender(request, credentials, payload), payload, kind, len(body))

    endpoint.__name__ = f"segment_or_ours_{kind}"
    return endpoint


def _speaks_segment(kind: str, payload: Any) -> bool:
    return is_segment_alias(payload) if kind == "alias" else is_segment_batch(payload)


# -- reading the request


async def _receive(request: Request, ours_too: bool = False) -> tuple[Credentials | None, bytes]:
    """The credentials the headers or query carry (401 at once when bad, before the body is
    read), and the body, bounded. Without credentials the body may hold `writeKey`: it is then
    read as a stranger's (ingest/body.py). A body refused is kept when the sender is known."""
    settings: Settings = app_state(request).settings
    credentials: Credentials | None = None
    named = basic_pair(request.headers.get("authorization")) is not None or bool(request.query_params.get("api_token"))
    if named:
        # Checked, not yet counted against the rate: whichever endpoint writes counts it once.
        credentials = await authenticate(
            app_state(request).projects, request.headers.get("authorization"), request.query_params.get("api_token")
        )
    body = b""
    try:
        async with stranger_bodies(request).reading() as admit:
            body = await read_body(request, settings.max_body_bytes, None if credentials else admit)
    except ApiError as error:
        if credentials is None and ours_too:
            await credentials_for(request)  # our endpoint's answer to a body without credentials: 401
        await _keep_refusal(request, credentials, body, error)
        raise
    return credentials, body


async def _decode(request: Request, body: bytes) -> Any:
    """The JSON value of the body, gzip or not (400 or 413 naming the rule)."""
    settings: Settings = app_state(request).settings
    coding = content_coding(request.headers.get("content-encoding"))
    envelope = Envelope(None, None, None, body, media_type(request.headers.get("content-type")))
    if coding == "gzip":
        inflated = await off_the_loop_if_large(len(body), inflate, body, settings.max_body_bytes)
        envelope = Envelope(None, None, None, inflated, envelope.kind)
    return await off_the_loop_if_large(envelope.size, envelope.payload)


async def _sender(request: Request, credentials: Credentials | None, payload: Any) -> Credentials:
    """Who writes, counted against the project's rate: the request's credentials, else the
    body's `writeKey` (401 when neither)."""
    if credentials is not None:
        return await credentials_for(request)
    write_key = payload.get("writeKey") if isinstance(payload, dict) else None
    return await credentials_for(request, write_key if isinstance(write_key, str) else "")


async def _keep_refusal(request: Request, credentials: Credentials | None, body: bytes, error: ApiError) -> None:
    if credentials is not None and error.status < 500:
        settings: Settings = app_state(request).settings
        await WriteRequest(request, credentials, settings, len(body)).keep_refusal(error, body)


def _replayed(request: Request, body: bytes) -> Request:
    """The request again, its body already read: for our endpoint to read it as if first."""
    sent = False

    async def receive() -> AsgiMessage:
        nonlocal sent
        if sent:
            return await request.receive()  # a disconnect, if any
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, receive)


# -- writing the messages


async def _write(request: Request, credentials: Credentials, payload: Any, kind: str, body_size: int) -> Response:
    settings: Settings = app_state(request).settings
    pipeline = SegmentItems(request, credentials, settings, body_size)
    pipeline.suppress(await suppression_for(request, credentials.project))
    if kind != "batch":
        return await pipeline.one(payload, kind)
    try:
        batch = segment_batch(payload, settings.max_batch_items)
    except ApiError as error:
        await pipeline.keep(error, body_size)
        raise
    return await pipeline.batch(batch, payload.get("sentAt"))


def segment_batch(payload: Any, max_items: int) -> list[Any]:
    """The messages of a Segment batch; 413 over `max_items`."""
    if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
        raise ApiError(400, 'a Segment batch is a JSON object {"batch": [...]}', field="batch", rule="array")
    items: list[Any] = payload["batch"]
    if len(items) > max_items:
        raise ApiError(
            413, f"a batch may carry at most {max_items} messages, got {len(items)}", field="batch", rule="max_items"
        )
    return items


class SegmentItems:
    """The Segment messages of one request, turned into our messages and handed to the writer:
    the steps of our item pipeline (size, parse, verify, visit IP, enrich) per message."""

    def __init__(self, request: Request, credentials: Credentials, settings: Settings, body_size: int) -> None:
        self.request = request
        self.credentials = credentials
        self.settings = settings
        self.body_size = body_size
        self.project_id = credentials.project.id
        self.received_at = utcnow()
        self.steps = steps_for(request, credentials, settings, body_size, self.received_at)
        self.suppression = NOTHING_SUPPRESSED  # the erased uids it refuses (set by _write)

    def suppress(self, suppression: Suppression) -> None:
        """Check the messages against a project's erased uids (ingest/suppression.py)."""
        self.suppression = self.steps.suppression = suppression

    async def one(self, raw: Any, kind: str) -> Response:
        try:
            messages = self.messages(raw, kind, None)
        except Invalid as exc:
            error = exc.error
            await self._submit([], [self._rejection(None, raw, error.status, error.field, error.message)])
            raise ApiError(error.status, error.message, field=error.field, rule=error.rule) from None
        await self._submit(messages, [])
        return json_response(SUCCESS)

    async def batch(self, raws: list[Any], sent_at: Any) -> Response:
        messages: list[Message] = []
        rejections: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        accepted = 0
        for index, raw in enumerate(raws):
            try:
                messages.extend(self.messages(raw, None, sent_at))
                accepted += 1
            except Invalid as exc:
                error = exc.error
                rejections.append(self._rejection(index, raw, error.status, error.field, error.message))
                refused.append(refused_entry(index, error))
        await self._submit(messages, rejections)
        if raws and not accepted:
            return nothing_accepted(refused, "message")
        body: dict[str, Any] = {**SUCCESS, "accepted": accepted}
        if refused:
            body["rejected"] = refused
        return json_response(body)

    def messages(self, raw: Any, kind: str | None, sent_at: Any) -> list[Message]:
        """Our messages for one Segment message, through the steps every item takes."""
        try:
            limit(raw, self.steps.item_limit)
        except Invalid as refused:  # the same limit, named as Segment's clients read it
            raise Invalid("body", "max_size", f"{refused.error.message} (Segment's own limit is 32 KiB)") from None
        meant = translate(raw, self.received_at, kind, sent_at)  # the parse step, per Segment message
        for one in meant:
            verify_identity(one.item, one.message, self.steps.identity)
            refuse_suppressed(one.message, self.steps.suppression)
            fill_visit_ip(one.message, self.steps.visit_ip)
            enrich(one.message, self.steps.enricher, self.steps.browser_agent)
        return [one.message for one in meant]

    async def keep(self, error: ApiError, body_size: int) -> None:
        """Keep a refusal of the whole batch (too many messages)."""
        reason = f"{error.message} (rule: {error.rule})" if error.rule else error.message
        await self._submit(
            [],
            [
                {
                    **self._rejection(None, None, error.status, error.field, reason),
                    "raw": f"(a batch of {body_size} bytes)",
                }
            ],
        )

    def _rejection(self, index: int | None, raw: Any, status: int, field: str | None, reason: str) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "received_at": self.received_at,
            "path": self.request.url.path[:64],
            "item_index": index,
            "raw": sent_text(item_json(raw), self.settings.max_item_bytes),
            "code": CODES.get(status, "error"),
            "field": field,
            "reason": reason,
        }

    async def _submit(self, messages: list[Message], rejections: list[dict[str, Any]]) -> int:
        messages, rejections = self.suppression.screen(self, messages, rejections)
        timezone = self.credentials.project.settings.timezone
        job = Submission(self.project_id, self.received_at, messages, rejections, timezone=timezone)
        return await acknowledge(self.request, job)
