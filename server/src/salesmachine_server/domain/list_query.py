"""The filter language of lists and segments: filters, search, sort, page size and cursor.

Filters are `field<op>value` pairs of the query string, with op one of = != > >= < <=:
`params.plan=pro`, `mrr>100`, `params.seats>=10`, `last_seen_at>=2024-01-01`,
`active_days_14>3`, `health=good`, `account_uid=acme` (contacts: members of that account;
accounts: that account). A bare name that is not one of the list's own fields is a param
(`plan=pro` is `params.plan=pro`). `q` searches uids, e-mail and name (and an account's
domain: store/read/filters.py). These filters are what a saved segment stores.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import orjson

from salesmachine_server.errors import ApiError
from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.messages import Invalid, parse_time
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
_PAIR = re.compile(r"^(?P<field>[^<>=!]+)(?P<op>>=|<=|!=|>|<|=)(?P<value>.*)$", re.DOTALL)
# Query keys that are not filters.
CONTROL = {"q", "sort", "limit", "cursor"}
# Fields every list has, with the type their values are read as.
COMMON_FIELDS = {
    "first_seen_at": "datetime",
    "last_seen_at": "datetime",
    "active_days_14": "number",
    "active_days_30": "number",
    "mrr": "number",
    "health": "health",
}
# A field of both lists that is not a column of the contacts list: store/read/filters.py reads it
# as membership there.
ACCOUNT_UID = "account_uid"


@dataclass(frozen=True)
class Filter:
    field: str  # a common field, or "params.<key>"
    op: str
    value: Any  # str, float, datetime, or None (is missing / exists)

    @property
    def param_key(self) -> str | None:
        return self.field[len("params."):] if self.field.startswith("params.") else None


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    search: str | None = None
    sort_field: str = "last_seen_at"
    descending: bool = True
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, int] | None = None  # keyset: (sort value, id) of the last row seen


def parse_list_query(raw_query: str, sort_fields: dict[str, str], default_sort: str) -> ListQuery:
    query = ListQuery()
    sort = default_sort
    cursor = None
    for pair in filter(None, raw_query.split("&")):
        text = unquote_plus(pair)
        if "\x00" in text:  # no stored text holds NUL, and PostgreSQL refuses it in a query
            raise ApiError(400, "the query must not contain the NUL character (%00)", field="query", rule="no_nul")
        match = _PAIR.match(text)
        if match is None:
            raise ApiError(400, f"cannot read the filter {text!r}: write field=value, field>value, ...",
                           field=text, rule="filter")
        name, op, value = match["field"].strip(), match["op"], match["value"]
        if name == "api_token":
            # A credential, not a param: scripts that send it everywhere still read with Basic
            # token:secret (access.py refuses it alone), so it must not filter the list empty.
            continue
        if name in CONTROL:
            if op != "=":
                raise ApiError(400, f"{name} takes =", field=name, rule="operator")
            if name == "q":
                query.search = value.strip() or None
            elif name == "sort":
                sort = value
            elif name == "limit":
                query.limit = _limit(value)
            else:
                cursor = value
            continue
        query.filters.append(_filter(name, op, value))
    query.sort_field, query.descending = _sort(sort, sort_fields)
    if cursor:
        query.after = decode_cursor(cursor, sort_fields[query.sort_field])
    return query


def _filter(name: str, op: str, value: str) -> Filter:
    if name == ACCOUNT_UID:
        # Membership on the contacts list, the uid itself on the accounts list: equality only.
        if op not in ("=", "!="):
            raise ApiError(400, "account_uid takes = or != (an empty value: in no account, in some account)",
                           field=ACCOUNT_UID, rule="operator")
        return Filter(ACCOUNT_UID, op, value or None)
    if not name.startswith("params.") and name not in COMMON_FIELDS:
        name = "params." + name
    if name == "params.":
        raise ApiError(400, "a params filter names a key: params.plan=pro", field=name, rule="filter")
    kind = COMMON_FIELDS.get(name, "param")
    if kind == "health":
        if op not in ("=", "!=") or value not in LEVELS:
            raise ApiError(400, "health takes = or != and one of good, average, bad", field="health", rule="one_of")
        return Filter(name, op, value)
    if value == "":
        if op not in ("=", "!="):
            raise ApiError(400, f"{name}{op} needs a value", field=name, rule="value")
        return Filter(name, op, None)  # = missing, != present
    if kind == "datetime":
        try:
            return Filter(name, op, parse_time(value, name))
        except Invalid as exc:
            raise ApiError(400, exc.error.message, field=name, rule="datetime") from None
    if kind == "number":
        number = _number(value)
        if number is None:
            raise ApiError(400, f"{name} compares with a number, got {value!r}", field=name, rule="number")
        return Filter(name, op, number)
    # A param: numbers compare as numbers; other values as text (ISO dates order as text).
    number = _number(value) if op in (">", ">=", "<", "<=") else None
    return Filter(name, op, number if number is not None else value)


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def is_whole_number(value: str) -> bool:
    """ASCII digits only: str.isdigit() also takes "²", which int() refuses."""
    return value.isascii() and value.isdigit()


def _limit(value: str) -> int:
    if not is_whole_number(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit", rule="range")
    return int(value)


def _sort(value: str, sort_fields: dict[str, str]) -> tuple[str, bool]:
    descending = value.startswith("-")
    name = value.lstrip("-")
    if name not in sort_fields:
        raise ApiError(400, f"sort must be one of {', '.join(sorted(sort_fields))} (prefix - for descending)",
                       field="sort", rule="one_of")
    return name, descending


def encode_cursor(value: Any, row_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([value, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> tuple[Any, int]:
    try:
        value, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # An id is a 64-bit integer: a larger one overflows the database driver.
        if not isinstance(row_id, int) or not -(2**63) <= row_id < 2**63:
            raise ValueError
        if kind == "datetime":
            value = datetime.fromisoformat(value)
        elif kind == "number":
            value = float(value)
        elif not isinstance(value, str) or "\x00" in value:
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise ApiError(400, "the cursor is not one this server gave", field="cursor", rule="cursor") from None
    return value, row_id
