"""The delivery log's answers (GET /v1/deliveries), as closed msgspec Structs, and their shaping
from store/read/deliveries.py's rows. Beside api/models.py, whose conventions they keep (times
aware in UTC; every key declared); api/openapi.py adds their schemas to the document."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from salesmachine_server.api.models import At, Closed, NextCursor, utc, utc_or_none
from salesmachine_server.deliver.shown import shown_target
from salesmachine_server.store.read.deliveries import AttemptRow, DeliveryRow


class DeliveryTarget(Closed):
    url: Annotated[
        str | None,
        Meta(description="Webhook and Slack: the URL, without credentials, query values or a Slack hook's token."),
    ]
    to: Annotated[str | None, Meta(description="E-mail: the address.")]
    signed: Annotated[bool, Meta(description="Webhook: signed with the endpoint's secret (never shown).")]


class DeliveryAttempt(Closed):
    attempted_at: At
    duration_ms: Annotated[float, Meta(ge=0)]
    request: Annotated[
        dict[str, Any],
        Meta(
            description="What was sent: method, url, address connected to, headers and body (webhook, Slack); "
            "smtp, from, to, subject and body (e-mail). Bodies are cut at 16 KiB."
        ),
    ]
    response_status: Annotated[
        int | None, Meta(description="The HTTP status, or the SMTP reply code; null: no answer.")
    ]
    response_body: Annotated[str | None, Meta(description="The start of the answer (4 KiB).")]
    error: Annotated[str | None, Meta(description="Why it did not count as delivered; null when it did.")]


class Delivery(Closed):
    id: Annotated[int, Meta(ge=1)]
    playbook_id: Annotated[int | None, Meta(description="The playbook that sent it; null for a test delivery.")]
    channel: Annotated[str, Meta(extra_json_schema={"enum": ["webhook", "slack", "email"]})]
    target: DeliveryTarget
    payload: Annotated[dict[str, Any], Meta(description="What was sent (the JSON body; an e-mail's subject and text).")]
    status: Annotated[str, Meta(extra_json_schema={"enum": ["pending", "delivered", "failed"]})]
    sending: Annotated[bool, Meta(description="A sender is attempting it now.")]
    attempts: Annotated[int, Meta(ge=0, description="Attempts made.")]
    next_attempt_at: Annotated[At | None, Meta(description="When it is tried next; null once delivered or failed.")]
    retry_until: Annotated[At, Meta(description="It is retried until then, then failed.")]
    last_error: Annotated[str | None, Meta(description="The last attempt's error, if it failed.")]
    created_at: At
    delivered_at: At | None
    attempt_log: Annotated[list[DeliveryAttempt], Meta(description="Every attempt, oldest first.")]


class DeliveryPage(Closed):
    data: Annotated[list[Delivery], Meta(description="At most `limit` deliveries, newest first.")]
    next_cursor: NextCursor


DELIVERY_MODELS: tuple[type[Struct], ...] = (DeliveryTarget, DeliveryAttempt, Delivery, DeliveryPage)


def schema_components(ref_template: str) -> dict[str, Any]:
    _, components = msgspec.json.schema_components(DELIVERY_MODELS, ref_template=ref_template)
    return components


def attempt(row: AttemptRow) -> DeliveryAttempt:
    return DeliveryAttempt(
        attempted_at=utc(row.attempted_at),
        duration_ms=round(row.duration_ms, 1),
        request=row.request,
        response_status=row.response_status,
        response_body=row.response_body,
        error=row.error,
    )


def delivery(row: DeliveryRow, now: datetime, retry_window_seconds: float) -> Delivery:
    return Delivery(
        id=row.id,
        playbook_id=row.playbook_id,
        channel=row.channel,
        target=DeliveryTarget(**shown_target(row.channel, row.target)),
        payload=row.payload,
        status=row.status,
        sending=row.status == "pending" and row.claimed_until is not None and row.claimed_until > now,
        attempts=row.attempts,
        next_attempt_at=utc_or_none(row.next_attempt_at),
        retry_until=utc(row.retry_from + timedelta(seconds=retry_window_seconds)),
        last_error=row.last_error,
        created_at=utc(row.created_at),
        delivered_at=utc_or_none(row.delivered_at),
        attempt_log=[attempt(a) for a in row.attempt_log],
    )


def page(rows: list[DeliveryRow], cursor: str | None, now: datetime, retry_window_seconds: float) -> DeliveryPage:
    return DeliveryPage(data=[delivery(r, now, retry_window_seconds) for r in rows], next_cursor=cursor)
