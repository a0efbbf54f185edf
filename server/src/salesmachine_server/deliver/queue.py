"""Enqueue a delivery in the caller's transaction (the contract other parts call).

Whatever fires a delivery (a playbook's trigger, the `salesmachine deliveries test` command, the
dashboard's test button) inserts it with the same connection as the rest of its work, so both
commit or neither does: a trigger handled is a message queued, once. The sender
(deliver/sender.py) sends it within seconds.

The target by channel:
- `webhook`: `{"url": "https://...", "secret": "whsec_..."}`: the body is `payload` as JSON,
  signed with the secret (deliver/signing.py);
- `slack`: `{"url": "https://hooks.slack.com/services/..."}`: the body is `payload` as JSON,
  normally `{"text": "..."}`;
- `email`: `{"to": "someone@example.com"}` (the payload's own "to", if any, wins): the payload is
  `{"subject": "...", "text": "..."}` (strings, which may be empty; a subject's line breaks are
  sent as spaces), sent through the project's SMTP server.
URLs are checked when they are saved (deliver/addresses.check_url, by the caller) and again when
sent: enqueue does no DNS inside a transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from salesmachine_server.store.records.deliveries import CHANNELS, insert_delivery
from salesmachine_server.store.records.projects import utcnow


class DeliveryRefused(ValueError):
    """A delivery that cannot be sent as given: `field` and `rule` say what is wrong."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


def enqueue(
    conn: Connection,
    project_id: int,
    *,
    channel: str,
    target: dict[str, Any],
    payload: dict[str, Any],
    playbook_id: int | None = None,
) -> int:
    """Queue a delivery in the caller's transaction; its id. Raises DeliveryRefused for a channel
    or target that could never be sent (the caller's fault, found before anything is written)."""
    check_delivery(channel, target, payload)
    return insert_delivery(
        conn,
        project_id,
        channel=channel,
        target=dict(target),
        payload=dict(payload),
        playbook_id=playbook_id,
        now=utcnow(),
    )


def check_delivery(channel: str, target: dict[str, Any], payload: dict[str, Any]) -> None:
    """The shape a delivery of `channel` needs (module docstring); raises DeliveryRefused."""
    if channel not in CHANNELS:
        raise DeliveryRefused("channel", "one_of", f"channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    if not isinstance(target, dict):
        raise DeliveryRefused("target", "object", "target must be an object")
    if not isinstance(payload, dict):
        raise DeliveryRefused("payload", "object", "payload must be an object")
    if channel in ("webhook", "slack"):
        _text(target, "url", "target")
    if channel == "webhook":
        _text(target, "secret", "target")
    if channel == "email":
        to = payload.get("to") or target.get("to")
        if not isinstance(to, str) or "@" not in to or "\n" in to or "\r" in to:
            raise DeliveryRefused("target.to", "email", "an e-mail delivery needs an address to send to (target.to)")
        for key in ("subject", "text"):  # may be empty (a template of a missing field), not absent
            if not isinstance(payload.get(key), str):
                raise DeliveryRefused(f"payload.{key}", "string", f"payload.{key} must be a string")


def _text(document: dict[str, Any], key: str, where: str) -> None:
    value = document.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeliveryRefused(f"{where}.{key}", "required", f"{where}.{key} is required (a non-empty string)")
