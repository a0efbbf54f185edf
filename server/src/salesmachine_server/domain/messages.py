"""Turn one decoded JSON item into a canonical `Message`, or say precisely what is wrong.

Everything the field sends is accepted here (docs/wire.md, "Message keys seen in the field"):
`event` for `event_uid`, `unique_id` for `contact_uid`, `message_id` for `messageId`,
epoch or ISO `created_at`, `sent_at` / `sentAt` for clock-skew correction.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec
import orjson

from salesmachine_server.domain.enrichment import Enrichment
from salesmachine_server.domain.revenue import MAX_MRR

MAX_UID_LENGTH = 255


class MessageKind(StrEnum):
    """What a message changes. A StrEnum: it compares equal to its string ("event"), which is
    how the store reads it. A pageview is an event named "pageview", not a kind of its own."""

    CONTACT = "contact"
    ACCOUNT = "account"
    EVENT = "event"
    ALIAS = "alias"


# Batch `method` values and the endpoint each one stands for (the endpoint, not the message
# kind: "pageview" parses as an event named "pageview").
BATCH_METHODS = {
    "contact": "contact",
    "account": "account",
    "event": "event",
    "track": "event",
    "pageview": "pageview",
    "alias": "alias",
}
PAGEVIEW = "pageview"


class Message(msgspec.Struct, array_like=True, gc=False):
    """One accepted item, as the journal keeps it (ingest/journal_codec.py) and the store
    applies it. A msgspec Struct written as an array in field order: msgspec builds it straight
    from a journal entry's bytes, where a dataclass was built in Python item by item (the
    projector's decoding 2.5 -> 0.65 µs an item, the workers' encoding 0.9 -> 0.2). Not tracked
    by the garbage collector (a message refers to nothing that could refer back to it): the
    projector holds groups of 150,000, and its CPU per item fell by a sixth to a fifth with
    both (bench/projector_cpu.py, three interleaved pairs: SQLite 19.9-23.5 -> 17.7-19.7 µs,
    PostgreSQL 15.5-18.3 -> 11.0-14.3)."""

    kind: MessageKind
    contact_uid: str | None = None
    account_uid: str | None = None
    event_name: str | None = None
    alias: str | None = None
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    occurred_at: datetime | None = None  # naive UTC
    message_id: str | None = None
    # An event's location and user agent (enrich/events.py); None when not enriched.
    enrichment: Enrichment | None = None
    # Set by `salesmachine import` (ingest/importer.py) alone, to give back an exported event as it was:
    # its account is `account_uid` (None: no account), not found again from the contact's
    # memberships; and `import_key`, derived from the row, deduplicates it as a message id would
    # without being stored as one.
    account_given: bool = False
    import_key: str | None = None


@dataclass(slots=True)
class Refusal:
    """Why an item was not accepted: the field, the rule it broke, and a sentence for people."""

    field: str
    rule: str
    message: str
    status: int = 400  # 403 when the item is well formed but not allowed


class Invalid(Exception):
    """Raised by a check that refuses an item; `error` is the refusal."""

    def __init__(self, field: str, rule: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error = Refusal(field, rule, message, status)


def parse_item(item: Any, kind: str, received_at: datetime) -> Message:
    """Validate one item for an endpoint kind ("contact", "account", "event", "pageview",
    "alias", or "batch" where the item names its own `method`). Raises `Invalid`."""
    if not isinstance(item, dict):
        raise Invalid("body", "object", f"the body (each item) must be a JSON object, got {_json_type(item)}")
    if kind == "batch":
        kind = _batch_kind(item)
    params = _params(item)
    occurred_at = _occurred_at(item, received_at)
    message_id = _optional_uid(item, ("messageId", "message_id"), "messageId")

    if kind == "contact":
        message = Message(MessageKind.CONTACT, contact_uid=_contact_uid(item))
    elif kind == "account":
        message = Message(MessageKind.ACCOUNT, account_uid=_required_uid(item, ("account_uid",), "account_uid"))
    elif kind == "event":
        contact_uid = _contact_uid(item)
        name = _required_uid(item, ("event_uid", "event"), "event_uid")
        message = Message(MessageKind.EVENT, contact_uid=contact_uid, event_name=name)
    elif kind == PAGEVIEW:
        message = Message(MessageKind.EVENT, contact_uid=_contact_uid(item), event_name=PAGEVIEW)
    else:  # alias
        message = Message(
            MessageKind.ALIAS,
            contact_uid=_contact_uid(item),
            alias=_required_uid(item, ("alias",), "alias"),
        )
    message.params = params
    message.occurred_at = occurred_at
    message.message_id = message_id
    _check_reserved_params(message)
    _check_storable(params)
    return message


def _batch_kind(item: dict[str, Any]) -> str:
    method = item.get("method")
    if method is None:
        raise Invalid("method", "required", "method is required on every batch item (contact, account or event)")
    if not isinstance(method, str) or method not in BATCH_METHODS:
        raise Invalid(
            "method",
            "one_of",
            f"method must be one of contact, account, event, pageview, alias; got {_show(method)}",
        )
    return BATCH_METHODS[method]


def _contact_uid(item: dict[str, Any]) -> str:
    return _required_uid(item, ("contact_uid", "unique_id"), "contact_uid")


def _required_uid(item: dict[str, Any], keys: tuple[str, ...], name: str) -> str:
    value = _optional_uid(item, keys, name)
    if value is None:
        raise Invalid(name, "required", f"{name} is required")
    return value


def _optional_uid(item: dict[str, Any], keys: tuple[str, ...], name: str) -> str | None:
    for key in keys:
        value = item.get(key)
        if value is not None:
            return uid_string(value, key)
    return None


def uid_string(value: Any, name: str) -> str:
    """Uids arrive as strings or integers (database ids); they are stored as strings."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid(name, "string", f"{name} must be a string or an integer, got {_json_type(value)}")
    text = str(value)
    if not text.strip():
        raise Invalid(name, "not_empty", f"{name} must not be empty")
    if "\x00" in text:
        raise Invalid(name, "no_nul", f"{name} must not contain the NUL character (\\u0000)")
    if len(text) > MAX_UID_LENGTH:
        raise Invalid(name, "max_length", f"{name} must be at most {MAX_UID_LENGTH} characters, got {len(text)}")
    return text


def _params(item: dict[str, Any]) -> dict[str, Any]:
    params = item.get("params")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise Invalid("params", "object", f"params must be a JSON object, got {_json_type(params)}")
    return params


def _check_storable(params: dict[str, Any]) -> None:
    """Params are stored as JSON on both engines, so refuse here what one of them cannot hold
    rather than fail the commit: orjson writes at most 254 levels of nesting (it reads 1024),
    and PostgreSQL's text and JSONB cannot hold the NUL character. Serializing is also the
    cheap way to look for NUL: only a match is walked."""
    try:
        text = orjson.dumps(params)
    except orjson.JSONEncodeError:
        raise Invalid("params", "max_depth", "params are nested too deeply to be stored") from None
    if b"\\u0000" in text and _holds_nul(params):
        raise Invalid("params", "no_nul", "params must not contain the NUL character (\\u0000)")


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or _holds_nul(one) for key, one in value.items())
    if isinstance(value, list):
        return any(_holds_nul(one) for one in value)
    return False


def _check_reserved_params(message: Message) -> None:
    """`mrr` must be a number (a numeric string is taken as the number it spells)."""
    if "mrr" in message.params and message.kind in (MessageKind.CONTACT, MessageKind.ACCOUNT):
        message.params["mrr"] = _mrr(message.params["mrr"])
    if "account_uid" in message.params and message.params["account_uid"] is not None:
        value = message.params["account_uid"]
        values = value if isinstance(value, list) else [value]
        for one in values:
            uid_string(one, "params.account_uid")


# mrr as a string, as PHP clients send numbers read from a database ("99", "49.50"): ASCII
# digits with an optional fraction, nothing else. float() would also take "1_000", "١٠",
# "1e3" and "inf", which no client means as an amount.
_DECIMAL_STRING = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def _mrr(value: Any) -> float | int | None:
    if value is None:
        return None
    number: float | int
    if isinstance(value, bool):
        raise Invalid("params.mrr", "number", "params.mrr must be a number, got a boolean")
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str):
        text = value.strip(" \t")
        if not _DECIMAL_STRING.fullmatch(text):
            raise Invalid(
                "params.mrr",
                "number",
                f"params.mrr must be a number or a string of a plain decimal number such as "
                f'"49.50", got {_show(value)}',
            )
        number = float(text)  # inf when too long: refused by the bound below
        if number.is_integer() and abs(number) <= MAX_MRR:
            number = int(number)  # "99" is 99, as if sent as a JSON number
    else:
        raise Invalid("params.mrr", "number", f"params.mrr must be a number, got {_json_type(value)}")
    if isinstance(number, float) and math.isnan(number):
        raise Invalid("params.mrr", "number", "params.mrr must be a finite number")
    if number < 0:
        raise Invalid("params.mrr", "min", f"params.mrr must be 0 or more, got {_show(value)}")
    if number > MAX_MRR:
        # The bound keeps one write from breaking or dwarfing a project's revenue (domain/revenue.py).
        raise Invalid(
            "params.mrr",
            "max",
            f"params.mrr must be at most {MAX_MRR} (a monthly revenue per customer), got {_show(value)}",
        )
    return number


def _occurred_at(item: dict[str, Any], received_at: datetime) -> datetime:
    """When the thing happened: `created_at`, corrected for the client's clock when the client
    also says when it sent the message (occurred = received - (sent_at - created_at))."""
    created = parse_time(item.get("created_at"), "created_at")
    sent_raw = item.get("sent_at", item.get("sentAt"))
    sent = parse_time(sent_raw, "sent_at")
    if created is None:
        return received_at
    try:
        occurred = created if sent is None else received_at - (sent - created)
    except OverflowError:
        occurred = datetime.max
    if not _EARLIEST <= occurred <= _LATEST:
        raise Invalid(
            "created_at",
            "datetime",
            f"created_at must fall between 0001-01-02 and 9999-12-30 (after any sent_at correction), "
            f"got {_show(item.get('created_at'))}",
        )
    return occurred


# An event is counted on its calendar day in the project's time zone: keep a day's margin
# inside datetime's range so that day exists in every zone.
_EARLIEST = datetime(1, 1, 2)
_LATEST = datetime(9999, 12, 30)


# Epoch values above this are milliseconds (JavaScript's Date.now()), not seconds:
# as seconds they would be after the year 5000.
_EPOCH_MILLIS_FROM = 100_000_000_000
# Epoch seconds or milliseconds as a string: ASCII digits (str.isdigit also takes "²", which
# int() refuses), few enough that int() takes them; anything longer is out of range anyway.
_EPOCH_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_time(value: Any, name: str) -> datetime | None:
    """ISO-8601 (with or without fraction and zone; no zone means UTC) or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid(name, "datetime", f"{name} must be an ISO-8601 time or epoch seconds, got a boolean")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise Invalid(name, "datetime", f"{name} must be a finite number of seconds")
        seconds = value / 1000 if abs(value) >= _EPOCH_MILLIS_FROM else value
        try:
            return datetime(1970, 1, 1) + timedelta(seconds=seconds)
        except OverflowError:
            raise Invalid(name, "datetime", f"{name} is out of range: {value}") from None
    if isinstance(value, str):
        text = value.strip()
        if _EPOCH_DIGITS.fullmatch(text):
            return parse_time(int(text), name)
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise Invalid(
                name,
                "datetime",
                f"{name} must be an ISO-8601 time such as 2013-01-01T00:00:00.000Z, got {_show(value)}",
            ) from None
        if parsed.tzinfo is not None:
            try:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
                raise Invalid(name, "datetime", f"{name} is out of range: {_show(value)}") from None
        return parsed
    raise Invalid(name, "datetime", f"{name} must be an ISO-8601 string or epoch seconds, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
