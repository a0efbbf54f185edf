"""What each column of an imported file becomes: a field of the message, or an attribute.

The columns of an export (and the API's own keys) are fields: uids, times, `params`, history.
Every other column is an attribute, `params.<column>`, so a CRM's `account_uid,name,domain,
plan,mrr` imports as it reads. A CSV cell is text: its type is inferred as JSON would have it
(`12` and `-0.5` numbers, `true`/`false` booleans, ISO dates kept as dates, the rest text,
`02134` and `+33 1 23` included), unless `--column NAME:TYPE` names the type, or `skip`. NDJSON
values keep their JSON type; `--column` skips them, or converts those that are strings.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import orjson

from salesmachine_server.domain.messages import Invalid, parse_time
from salesmachine_server.store.read.exports import ENRICHMENT

TYPES = ("auto", "string", "number", "boolean", "date", "json", "skip")

_UID = {"contact_uid": "the contact's uid", "unique_id": "the contact's uid"}
_TIMES = {"created_at": "the time it happened", "first_seen_at": "the time it happened (first seen)"}
_HISTORY = {"params": "params (a JSON object)", "mrr_history": "mrr history (JSON)"}
_DERIVED = "not imported: the server derives it"
# The fields of each kind of row, and what each becomes (shown by --dry-run).
FIELDS: dict[str, dict[str, str]] = {
    "contacts": {
        **_UID,
        **_TIMES,
        **_HISTORY,
        "aliases": "aliases (a JSON list)",
        "accounts": "the contact's accounts (a JSON list)",
        "account_uid": "the contact's account (params.account_uid)",
        "last_seen_at": _DERIVED,
    },
    "accounts": {
        "account_uid": "the account's uid",
        "unique_id": "the account's uid",
        **_TIMES,
        **_HISTORY,
        "last_seen_at": _DERIVED,
    },
    "events": {
        **_UID,
        "event_uid": "the event's name",
        "event": "the event's name",
        "account_uid": "the event's account",
        "params": "params (a JSON object)",
        "created_at": "the time it happened",
        "message_id": "the message id",
        "messageId": "the message id",
        "kind": "not imported: told by the event's name",
        "received_at": "not imported: the import's time",
        **{name: f"the event's enrichment ({name})" for name in ENRICHMENT},
    },
}
# CSV cells holding JSON.
STRUCTURED = ("params", "aliases", "accounts", "mrr_history")


def parse_column_option(spec: str) -> tuple[str, str]:
    """`NAME:TYPE` (split at the last colon, so a name may hold one)."""
    name, colon, kind = spec.rpartition(":")
    if not colon or not name:
        raise ValueError(f"--column takes NAME:TYPE (TYPE one of {', '.join(TYPES)}), got {spec!r}")
    if kind not in TYPES:
        raise ValueError(f"--column {spec!r}: unknown type {kind!r}; one of {', '.join(TYPES)}")
    return name, kind


def attribute(name: str, value: Any, kind: str) -> Any:
    """The value of an attribute column's cell, typed. Raises Invalid naming the column."""
    if not isinstance(value, str):  # NDJSON: JSON already said what it is
        if kind in ("auto", "json") or _is(value, kind):
            return value
        raise Invalid(name, kind, f"{name}: {_show(value)} is not a {kind}")
    if kind == "auto":
        return infer(value)
    if kind == "string":
        return value
    converted = {"number": _any_number, "boolean": _boolean, "date": _date, "json": _json}[kind](value)
    if converted is _NOT:
        raise Invalid(name, kind, f"{name}: {_show(value)} is not {'JSON' if kind == 'json' else 'a ' + kind}")
    return converted


def infer(text: str) -> Any:
    """A CSV cell's value as JSON would type it: number, boolean, date (kept as ISO text), or text."""
    for convert in (_number, _boolean, _date):
        value = convert(text)
        if value is not _NOT:
            return value
    return text


def type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "date" if _date(value) == value else "string"
    return "json"


_NOT = object()
# JSON's number grammar: no leading zeros (a zip code stays text), no leading "+" (a phone number).
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# Integers JSON storage holds on both engines (64 bits); longer ones, ids mostly, stay text.
_INT_LIMIT = 2**63
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"([Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?"
)


def _number(text: str) -> Any:
    match = _NUMBER.fullmatch(text)
    if match is None:
        return _NOT
    if match.group(2) is None and match.group(3) is None:
        number = int(text)
        return number if abs(number) < _INT_LIMIT else _NOT
    value = float(text)
    return value if math.isfinite(value) else _NOT


# A column named a number takes what JSON would not: leading zeros and a "+" (007, +3, 1.).
_LOOSE_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _any_number(text: str) -> Any:
    text = text.strip()
    if _LOOSE_NUMBER.fullmatch(text) is None:
        return _NOT
    if text.lstrip("+-").isdigit():
        number = int(text)
        return number if abs(number) < _INT_LIMIT else _NOT
    value = float(text)
    return value if math.isfinite(value) else _NOT


def _boolean(text: str) -> Any:
    return {"true": True, "false": False}.get(text.lower(), _NOT)


def _date(text: str) -> Any:
    """A day stays as written (2025-01-31); a time becomes ISO-8601 in UTC with a Z, as the API
    writes times (a time without a zone is UTC)."""
    if _DAY.fullmatch(text):
        try:
            date.fromisoformat(text)
        except ValueError:
            return _NOT
        return text
    if _TIME.fullmatch(text):
        try:
            moment = parse_time(text.replace(" ", "T", 1), "date")
        except Invalid:
            return _NOT
        assert moment is not None
        return orjson.dumps(moment, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z).decode().strip('"')
    return _NOT


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return _NOT


def _is(value: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return False  # string and date: a JSON value that is not a string is neither


def _show(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
