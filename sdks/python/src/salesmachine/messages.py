"""The five kinds of message, built and checked where the caller can see the mistake.

Each builder returns the batch item as the server reads it (`method` names the kind; a
pageview is an event named "pageview"), with the `messageId` that lets the server drop a
retried copy and the `created_at` that says when the thing happened. The checks mirror the
server's own rules, so that what the client accepts the server stores.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Optional, Union

from salesmachine.encoding import json_safe, now_timestamp, utc_timestamp

Uid = Union[str, int]
Params = Optional[Mapping[str, Any]]

# The server stores uids, event names and message ids of at most this many characters.
MAX_UID_LENGTH = 255
PAGEVIEW = "pageview"


def contact(contact_uid: Uid, params: Params, created_at: Optional[datetime], message_id: Optional[str]) -> dict[str, Any]:
    return _message(
        "contact", {"contact_uid": check_uid(contact_uid, "contact_uid"), "params": check_params(params)},
        created_at, message_id,
    )


def account(account_uid: Uid, params: Params, created_at: Optional[datetime], message_id: Optional[str]) -> dict[str, Any]:
    return _message(
        "account", {"account_uid": check_uid(account_uid, "account_uid"), "params": check_params(params)},
        created_at, message_id,
    )


def event(
    contact_uid: Uid, event_uid: str, params: Params, created_at: Optional[datetime], message_id: Optional[str]
) -> dict[str, Any]:
    fields = {
        "contact_uid": check_uid(contact_uid, "contact_uid"),
        "event_uid": check_event_name(event_uid),
        "params": check_params(params),
    }
    return _message("event", fields, created_at, message_id)


def pageview(contact_uid: Uid, params: Params, created_at: Optional[datetime], message_id: Optional[str]) -> dict[str, Any]:
    # The API document's own form: an event whose event_uid is "pageview".
    fields = {"contact_uid": check_uid(contact_uid, "contact_uid"), "event_uid": PAGEVIEW, "params": check_params(params)}
    return _message("event", fields, created_at, message_id)


def alias(contact_uid: Uid, alias_uid: Uid, created_at: Optional[datetime], message_id: Optional[str]) -> dict[str, Any]:
    fields = {"contact_uid": check_uid(contact_uid, "contact_uid"), "alias": check_uid(alias_uid, "alias")}
    return _message("alias", fields, created_at, message_id)


def check_uid(value: Any, name: str) -> str:
    """A uid is a non-empty str or an int (a database id); it travels as a string."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise TypeError(f"{name} must be a str or an int, got {type(value).__name__} {value!r:.60}")
    text = str(value)
    if not text.strip():
        raise ValueError(f"{name} must not be empty")
    _check_text(text, name)
    return text


def check_event_name(value: Any) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("event_uid (the event name) is required, e.g. track_event(uid, 'user_registration', {...})")
    if not isinstance(value, str):
        raise TypeError(f"event_uid (the event name) must be a str, got {type(value).__name__} {value!r:.60}")
    _check_text(value, "event_uid")
    return value


def check_params(params: Any) -> dict[str, Any]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict, got {type(params).__name__} {params!r:.60}")
    safe: dict[str, Any] = json_safe(params)
    return safe


def _check_text(text: str, name: str) -> None:
    if len(text) > MAX_UID_LENGTH:
        raise ValueError(f"{name} must be at most {MAX_UID_LENGTH} characters, got {len(text)}")
    if "\x00" in text:
        raise ValueError(f"{name} must not contain the NUL character")


def _message(
    method: str, fields: dict[str, Any], created_at: Optional[datetime], message_id: Optional[str]
) -> dict[str, Any]:
    if created_at is not None and not isinstance(created_at, datetime):
        raise TypeError(f"created_at must be a datetime, got {type(created_at).__name__}")
    if message_id is not None:
        if not isinstance(message_id, str):
            raise TypeError(f"message_id must be a str, got {type(message_id).__name__}")
        check_uid(message_id, "message_id")
    return {
        "method": method,
        **fields,
        "created_at": now_timestamp() if created_at is None else utc_timestamp(created_at),
        "messageId": message_id or str(uuid.uuid4()),
    }
