"""The write endpoints: request -> credentials -> body -> items accepted (pipeline.py) ->
group commit -> answer.

The credentials are checked before the body is read, except when the body itself may carry
them (a legacy form without an Authorization header: see body.py for what that may cost).
The answer is sent only after the group commit has committed (201 means stored). A single call with
bad input is answered 400 (403 when identity verification refuses it) and stores nothing but
the record of the refusal; a batch stores its good items and names each bad one by index. A
body refused whole (not JSON, too large, ...) is recorded too, once its project is known.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.domain.messages import Message, Refusal
from salesmachine_server.enrich.events import enricher_from
from salesmachine_server.errors import CODES, ApiError
from salesmachine_server.ingest.body import off_the_loop_if_large, read_body, stranger_bodies
from salesmachine_server.ingest.client_ip import request_client_ip
from salesmachine_server.ingest.group_commit import Submission
from salesmachine_server.ingest.journal_append import acknowledge
from salesmachine_server.ingest.pipeline import Steps, accept, item_json
from salesmachine_server.ingest.suppression import NOTHING_SUPPRESSED, Suppression, suppression_for
from salesmachine_server.ingest.verification import Identity
from salesmachine_server.ingest.wire import DECODED_BODY, Envelope, may_carry_credentials, open_envelope, sent_text
from salesmachine_server.serving.credentials import Credentials, authenticate, basic_pair
from salesmachine_server.serving.health_checks import database_problem
from salesmachine_server.serving.state import app_state
from salesmachine_server.settings import Settings
from salesmachine_server.store.records.projects import utcnow

SUCCESS = {"status": "success"}


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def refuse_in_maintenance(request: Request) -> None:
    settings: Settings = app_state(request).settings
    if settings.maintenance:
        raise ApiError(
            503,
            "the server is in maintenance; retry later",
            headers={"Retry-After": str(settings.retry_after_seconds)},
        )


async def credentials_for(request: Request, api_token: str | None = None) -> Credentials:
    """Who is calling (401 otherwise), within the project's rate (429 otherwise)."""
    credentials = await authenticate(
        app_state(request).projects,
        request.headers.get("authorization"),
        api_token
        if api_token is not None or not request.scope["query_string"]
        else request.query_params.get("api_token"),
    )
    await app_state(request).rate_limiter.check(credentials.project.id)
    return credentials


async def ping(request: Request) -> Response:
    """Can this client send now? Its credentials are good, and the database answers (the
    readiness probe, shared with /readyz): a 200 while nothing could be stored would send a
    client's data into 503s it was told it would not meet."""
    refuse_in_maintenance(request)
    await credentials_for(request)
    problem = await database_problem(app_state(request))
    if problem is not None:
        raise ApiError(
            503,
            f"the database is unreachable ({problem}): nothing can be stored now; retry later",
            headers={"Retry-After": str(app_state(request).settings.retry_after_seconds)},
        )
    return json_response(SUCCESS)


def write_endpoint(kind: str) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for one message kind: contact, account, event, pageview, alias or batch."""

    async def endpoint(request: Request) -> Response:
        refuse_in_maintenance(request)
        settings: Settings = app_state(request).settings
        # Most writes have no query string: no QueryParams parsed for them.
        query = dict(request.query_params) if request.scope["query_string"] else {}
        if request.method == "GET" and "data" not in query:
            raise ApiError(
                400, "a GET write carries its JSON in the query: data=<base64 JSON>", field="data", rule="required"
            )
        content_type = request.headers.get("content-type")
        credentials: Credentials | None = None
        if basic_pair(request.headers.get("authorization")) is not None or not may_carry_credentials(
            query, content_type
        ):
            credentials = await credentials_for(request)
        envelope = await _open(request, credentials, query, content_type)
        if credentials is None:
            credentials = await credentials_for(request, envelope.api_token)
        write = WriteRequest(request, credentials, settings, envelope.size)
        write.suppress(await suppression_for(request, credentials.project))
        try:
            payload = await _payload(request, envelope)
            items = batch_items(payload, settings.max_batch_items) if kind == "batch" else []
        except ApiError as error:
            await write.keep_refusal(error, envelope.sent)
            raise
        if kind == "batch":
            return await write.batch(items)
        return await write.one(payload, kind)

    endpoint.__name__ = f"write_{kind}"
    return endpoint


async def _payload(request: Request, envelope: Envelope) -> Any:
    """The JSON value the request sent: decoded here, or already by a shared path's endpoint."""
    decoded = request.scope.get(DECODED_BODY)
    if decoded is not None and envelope.data is None and decoded[0] == envelope.body:
        return decoded[1]
    return await off_the_loop_if_large(envelope.size, envelope.payload)


async def _open(
    request: Request, credentials: Credentials | None, query: dict[str, str], content_type: str | None
) -> Envelope:
    """The body, read and opened; a refusal (too large, a malformed form) is kept when the
    sender is known. Without credentials yet, a large body waits for a stranger's turn."""
    settings: Settings = app_state(request).settings
    body = b""
    try:
        async with stranger_bodies(request).reading() as admit:
            body = await read_body(request, settings.max_body_bytes, None if credentials else admit)
            form_size = len(body) if may_carry_credentials(query, content_type) else 0  # else nothing to split
            return await off_the_loop_if_large(form_size, open_envelope, query, content_type, body)
    except ApiError as error:
        # A form refused before its own api_token could be read: kept if the query names the project.
        sender = credentials or await _sender_named_in_query(request)
        if sender is not None and error.status < 500:
            await WriteRequest(request, sender, settings, len(body)).keep_refusal(error, body)
        raise


def steps_for(
    request: Request, credentials: Credentials, settings: Settings, body_size: int, received_at: datetime
) -> Steps:
    """What the pipeline's steps need for the items of one request (ours or Segment's)."""
    # The token in the query or a form: a browser, whose address is the visitor's (client_ip.py),
    # and whose User-Agent is the visitor's too: the agent of events that carry no visit_agent.
    browser = "authorization" not in request.headers
    return Steps(
        received_at=received_at,
        # Only a body larger than the item limit can hold an item over it: skip the work otherwise.
        item_limit=settings.max_item_bytes if body_size > settings.max_item_bytes else None,
        identity=Identity(credentials, app_state(request).server_key),
        visit_ip=request_client_ip(request.scope, settings.trusted_proxies) if browser else None,
        enricher=enricher_from(settings),
        browser_agent=request.headers.get("user-agent") if browser else None,
    )


def refused_entry(index: int, refusal: Refusal) -> dict[str, Any]:
    """One refused item of a batch, as the answer names it."""
    return {
        "index": index,
        "code": CODES[refusal.status],
        "message": refusal.message,
        "field": refusal.field,
        "rule": refusal.rule,
    }


def nothing_accepted(refused: list[dict[str, Any]], noun: str) -> Response:
    """A batch none of whose items was accepted: 400, naming the first refusal, and all of them."""
    first = refused[0]
    error = ApiError(
        400,
        f"no {noun} of the batch was accepted; {noun} {first['index']}: {first['message']}",
        field=f"batch[{first['index']}].{first['field']}",
        rule=first["rule"],
    )
    return json_response(error.body() | {"accepted": 0, "rejected": refused}, 400)


class WriteRequest:
    """One write request: its items run through the pipeline, then the accepted messages and
    the refusals go to the group commit together."""

    def __init__(self, request: Request, credentials: Credentials, settings: Settings, body_size: int) -> None:
        self.request = request
        self.credentials = credentials
        self.settings = settings
        self.project_id = credentials.project.id
        self.received_at = utcnow()
        self.steps = steps_for(request, credentials, settings, body_size, self.received_at)
        self.suppression = NOTHING_SUPPRESSED  # the erased uids it refuses (set by the endpoint)

    def suppress(self, suppression: Suppression) -> None:
        """Check the items against a project's erased uids (ingest/suppression.py)."""
        self.suppression = self.steps.suppression = suppression

    async def one(self, item: Any, kind: str) -> Response:
        accepted = accept(item, kind, self.steps)
        if isinstance(accepted, Refusal):
            await self._submit([], [self._rejection(None, item, accepted)])
            raise ApiError(accepted.status, accepted.message, field=accepted.field, rule=accepted.rule)
        await self._submit([accepted], [])
        return json_response(SUCCESS, 201)

    async def batch(self, items: list[Any]) -> Response:
        messages: list[Message] = []
        rejections: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            accepted = accept(item, "batch", self.steps)
            if isinstance(accepted, Refusal):
                rejections.append(self._rejection(index, item, accepted))
                refused.append(refused_entry(index, accepted))
            else:
                messages.append(accepted)
        duplicates = await self._submit(messages, rejections, count_duplicates=True)
        if items and not messages:
            return nothing_accepted(refused, "item")
        body: dict[str, Any] = {"status": "success", "accepted": len(messages)}
        if duplicates:
            body["duplicates"] = duplicates
        if refused:
            body["rejected"] = refused
        return json_response(body, 201)

    async def keep_refusal(self, error: ApiError, sent: bytes | str) -> None:
        """Record a refusal of the body itself as a refused item is recorded (rejected_items,
        the Live page): what was sent, cut to the item limit, and the reason with its rule."""
        reason = f"{error.message} (rule: {error.rule})" if error.rule else error.message
        await self._submit(
            [],
            [
                {
                    "project_id": self.project_id,
                    "received_at": self.received_at,
                    "path": self.request.url.path[:64],
                    "item_index": None,
                    "raw": sent_text(sent, self.settings.max_item_bytes),
                    "code": CODES.get(error.status, "error"),
                    "field": error.field,
                    "reason": reason,
                }
            ],
        )

    def _rejection(self, index: int | None, item: Any, refusal: Refusal) -> dict[str, Any]:
        return {
            "project_id": self.project_id,
            "received_at": self.received_at,
            "path": self.request.url.path[:64],
            "item_index": index,
            "raw": item_json(item).decode()[: self.settings.max_item_bytes],
            "code": CODES[refusal.status],
            "field": refusal.field,
            "reason": refusal.message,
        }

    async def _submit(
        self, messages: list[Message], rejections: list[dict[str, Any]], count_duplicates: bool = False
    ) -> int:
        messages, rejections = self.suppression.screen(self, messages, rejections)
        timezone = self.credentials.project.settings.timezone
        submission = Submission(self.project_id, self.received_at, messages, rejections, timezone=timezone)
        return await acknowledge(self.request, submission, count_duplicates)


def batch_items(payload: Any, max_items: int) -> list[Any]:
    """The document's bare array, or Segment's `{"batch": [...], "sent_at": ...}` envelope;
    413 over `max_items`."""
    if isinstance(payload, list):
        items = payload
    elif isinstance(payload, dict) and isinstance(payload.get("batch"), list):
        sent_at = payload.get("sent_at", payload.get("sentAt"))
        items = payload["batch"]
        if sent_at is not None and len(items) <= max_items:
            items = [
                item | {"sent_at": sent_at} if isinstance(item, dict) and "sent_at" not in item else item
                for item in items
            ]
    else:
        raise ApiError(400, "a batch body must be a JSON array of items", field="body", rule="array")
    if len(items) > max_items:
        raise ApiError(
            413, f"a batch may carry at most {max_items} items, got {len(items)}", field="batch", rule="max_items"
        )
    return items


async def _sender_named_in_query(request: Request) -> Credentials | None:
    """The project of the query's api_token, if it names one (else None: nothing to keep)."""
    if not request.query_params.get("api_token"):
        return None
    try:
        return await credentials_for(request)
    except ApiError:
        return None
