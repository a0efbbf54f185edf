"""The list query language: what a list of contacts or accounts shows (filters, search, sort, page
size and cursor), written as a query string. GET /v1/contacts and /v1/accounts take it, a saved
segment stores it, and the dashboard's list form writes it (web/list_form.py): one grammar, read
here and only here.

A query string is `&`-separated terms, each `field<op>value` with op one of = != > >= < <=:
`params.plan=pro`, `mrr>100`, `params.seats>=10`, `last_seen_at>=2024-01-01`,
`active_days_14>3`, `health=good`, `first_seen_at>-30d` (relative: 30 days ago),
`account_uid=acme` (contacts: members of that account;
accounts: that account). A bare name that is not one of the list's own fields is a param
(`plan=pro` is `params.plan=pro`). The control terms `q` (search uids, e-mail and name, and an
account's domain: store/read/filters.py), `sort`, `limit` and `cursor` take `=` only.

What cannot be read raises QueryError, naming the field and the rule; api/ answers it with a 400,
the dashboard shows it on the page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import orjson

from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.messages import Invalid, parse_time


class Subject(StrEnum):
    """What a list holds. The values are also what a saved segment's `kind` column stores and
    the path of the list (`/v1/contacts`, the dashboard's `/contacts`)."""

    CONTACTS = "contacts"
    ACCOUNTS = "accounts"


class FieldType(StrEnum):
    """How a field's values are read: a filter's value, a sort key, a cursor's value."""

    DATETIME = "datetime"
    NUMBER = "number"
    TEXT = "text"  # a uid: sorted and paged as text
    HEALTH = "health"  # one of LEVELS; = and != only
    PARAM = "param"  # a params key: a number when compared by order and it reads as one, else text


class QueryError(ValueError):
    """A query string the language cannot read: the field and the rule it breaks, and why."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message


DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
DEFAULT_SORT = "-last_seen_at"
OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
# The longest operator first, so that `mrr>=5` is `>=` and not `>` with the value `=5`.
_TERM = re.compile(r"^(?P<field>[^<>=!]+)(?P<op>>=|<=|!=|>|<|=)(?P<value>.*)$", re.DOTALL)
# Terms that are not filters.
CONTROL = {"q", "sort", "limit", "cursor"}
# Fields both lists have, with the type their values are read as.
COMMON_FIELDS = {
    "first_seen_at": FieldType.DATETIME,
    "last_seen_at": FieldType.DATETIME,
    "active_days_14": FieldType.NUMBER,
    "active_days_30": FieldType.NUMBER,
    "mrr": FieldType.NUMBER,
    "health": FieldType.HEALTH,
}
# A field of both lists that is not a column of the contacts list: store/read/filters.py reads it
# as membership there.
ACCOUNT_UID = "account_uid"
# Who looks after a contact or an account (docs/work.md): `owner=<e-mail>` (a user of the
# project), `owner=` (nobody), `owner!=` (somebody). `owner=me` is the signed-in user: the
# dashboard reads it with `me` set (a saved segment "My accounts" is each viewer's own); the read
# API has no user, so there it is refused by name.
OWNER = "owner"
ME = "me"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
# What each list sorts by, with the type of the sort key (what a cursor holds).
_SORTED_BY_BOTH = {
    "last_seen_at": FieldType.DATETIME,
    "first_seen_at": FieldType.DATETIME,
    "mrr": FieldType.NUMBER,
    "active_days_14": FieldType.NUMBER,
    "active_days_30": FieldType.NUMBER,
}
SORT_FIELDS: dict[Subject, dict[str, FieldType]] = {
    Subject.CONTACTS: {**_SORTED_BY_BOTH, "contact_uid": FieldType.TEXT},
    Subject.ACCOUNTS: {**_SORTED_BY_BOTH, "account_uid": FieldType.TEXT},
}


@dataclass(frozen=True)
class Ago:
    """A time relative to when the filter is applied: `-30d` is 30 days before now. Lists resolve
    it at the moment they are read (store/read/filters.py); the health history at each day it
    evaluates (domain/health_timeline.py), by whole days."""

    days: int


_AGO = re.compile(r"^-(?P<days>[0-9]{1,5})d$")


@dataclass(frozen=True)
class Term:
    """One `field<op>value` of a query string as written: the field without the spaces around
    it, the value exactly as sent."""

    field: str
    op: str
    value: str


@dataclass(frozen=True)
class Filter:
    field: str  # a common field, account_uid, or "params.<key>"
    op: str
    value: Any  # str, float, datetime, Ago, or None (is missing / exists)

    @property
    def param_key(self) -> str | None:
        return self.field[len("params.") :] if self.field.startswith("params.") else None


@dataclass
class ListQuery:
    filters: list[Filter] = field(default_factory=list)
    search: str | None = None
    sort_field: str = "last_seen_at"
    descending: bool = True
    limit: int = DEFAULT_LIMIT
    after: tuple[Any, int] | None = None  # keyset: (sort value, id) of the last row seen


def split_terms(query: str) -> list[str]:
    """The terms of a query string, decoded, as the text each one says."""
    return [unquote_plus(part) for part in query.split("&") if part]


def join_terms(texts: Iterable[str]) -> str:
    """A query string of these terms: what split_terms reads back (operators left readable)."""
    return "&".join(quote_plus(text, safe="=<>!") for text in texts)


def read_term(text: str) -> Term | None:
    """`text` as field, operator and value, or None when it has no operator after a field."""
    match = _TERM.match(text)
    return None if match is None else Term(match["field"].strip(), match["op"], match["value"])


def parse_list_query(query_string: str, subject: Subject, me: str | None = None) -> ListQuery:
    """The list of `subject` that `query_string` asks for; QueryError if it cannot be read.
    `me`: the e-mail address `owner=me` stands for (the dashboard's user), None where nobody is
    signed in (the read API)."""
    sort_fields = SORT_FIELDS[subject]
    query = ListQuery()
    sort = DEFAULT_SORT
    cursor = None
    for text in split_terms(query_string):
        if "\x00" in text:  # no stored text holds NUL, and PostgreSQL refuses it in a query
            raise QueryError("query", "no_nul", "the query must not contain the NUL character (%00)")
        term = read_term(text)
        if term is None:
            raise QueryError(text, "filter", f"cannot read the filter {text!r}: write field=value, field>value, ...")
        if term.field == "api_token":
            # A credential, not a param: scripts that send it everywhere still read with Basic
            # token:secret (access.py refuses it alone), so it must not filter the list empty.
            continue
        if term.field in CONTROL:
            if term.op != "=":
                raise QueryError(term.field, "operator", f"{term.field} takes =")
            if term.field == "q":
                query.search = term.value.strip() or None
            elif term.field == "sort":
                sort = term.value
            elif term.field == "limit":
                query.limit = parse_limit(term.value)
            else:
                cursor = term.value
            continue
        query.filters.append(_owner_filter(term, me) if term.field == OWNER else _filter(term))
    query.sort_field, query.descending = _sort(sort, sort_fields)
    if cursor:
        query.after = decode_cursor(cursor, sort_fields[query.sort_field])
    return query


def _owner_filter(term: Term, me: str | None) -> Filter:
    """`owner=<e-mail>`, `owner=me`, `owner=` (nobody), and their `!=`; the value lower-cased,
    as users' addresses are stored."""
    if term.op not in ("=", "!="):
        raise QueryError(OWNER, "operator", "owner takes = or != (an empty value: nobody)")
    value = term.value.strip().lower()
    if value == "":
        return Filter(OWNER, term.op, None)
    if value == ME:
        if me is None:
            raise QueryError(
                OWNER, "me", "owner=me means the signed-in dashboard user; here name the owner: owner=<e-mail>"
            )
        value = me.lower()
    elif not _EMAIL.match(value):
        raise QueryError(OWNER, "email", f"owner is a user's e-mail address, me, or empty (nobody), not {term.value!r}")
    return Filter(OWNER, term.op, value)


def _filter(term: Term) -> Filter:
    name, op, value = term.field, term.op, term.value
    if name == ACCOUNT_UID:
        # Membership on the contacts list, the uid itself on the accounts list: equality only.
        if op not in ("=", "!="):
            raise QueryError(
                ACCOUNT_UID,
                "operator",
                "account_uid takes = or != (an empty value: in no account, in some account)",
            )
        return Filter(ACCOUNT_UID, op, value or None)
    if not name.startswith("params.") and name not in COMMON_FIELDS:
        name = "params." + name
    if name == "params.":
        raise QueryError(name, "filter", "a params filter names a key: params.plan=pro")
    field_type = COMMON_FIELDS.get(name, FieldType.PARAM)
    if field_type == FieldType.HEALTH:
        if op not in ("=", "!=") or value not in LEVELS:
            raise QueryError("health", "one_of", "health takes = or != and one of good, average, bad")
        return Filter(name, op, value)
    if value == "":
        if op not in ("=", "!="):
            raise QueryError(name, "value", f"{name}{op} needs a value")
        return Filter(name, op, None)  # = missing, != present
    if field_type == FieldType.DATETIME:
        relative = _AGO.match(value.strip())
        if relative is not None:
            return Filter(name, op, Ago(int(relative["days"])))
        try:
            return Filter(name, op, parse_time(value, name))
        except Invalid as exc:
            raise QueryError(name, "datetime", exc.error.message) from None
    if field_type == FieldType.NUMBER:
        number = _number(value)
        if number is None:
            raise QueryError(name, "number", f"{name} compares with a number, got {value!r}")
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


def parse_limit(value: str) -> int:
    """A page size, from 1 to MAX_LIMIT (lists and timelines)."""
    if not is_whole_number(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise QueryError("limit", "range", f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def _sort(value: str, sort_fields: dict[str, FieldType]) -> tuple[str, bool]:
    descending = value.startswith("-")
    name = value.lstrip("-")
    if name not in sort_fields:
        raise QueryError(
            "sort", "one_of", f"sort must be one of {', '.join(sorted(sort_fields))} (prefix - for descending)"
        )
    return name, descending


def encode_cursor(value: Any, row_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([value, row_id])).decode().rstrip("=")


def decode_cursor(cursor: str, sort_type: FieldType) -> tuple[Any, int]:
    """(sort value, id) from a cursor encode_cursor made for a sort key of `sort_type`."""
    try:
        value, row_id = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        # An id is a 64-bit integer: a larger one overflows the database driver.
        if not isinstance(row_id, int) or not -(2**63) <= row_id < 2**63:
            raise ValueError
        if sort_type == FieldType.DATETIME:
            value = datetime.fromisoformat(value)
        elif sort_type == FieldType.NUMBER:
            value = float(value)
        elif not isinstance(value, str) or "\x00" in value:
            raise ValueError
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise QueryError("cursor", "cursor", "the cursor is not one this server gave") from None
    return value, row_id
