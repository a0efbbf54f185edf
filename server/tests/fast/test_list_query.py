"""The list filter language (lists, segments, exports): what a query string means, and the
refusal of what it cannot mean, naming field and rule."""

from __future__ import annotations

from datetime import datetime

import pytest

from salesmachine_server.errors import ApiError
from salesmachine_server.domain.list_query import Filter, encode_cursor, parse_list_query
SORTS = {"last_seen_at": "datetime", "mrr": "number", "uid": "text"}


def parse(query: str):  # type: ignore[no-untyped-def]
    return parse_list_query(query, SORTS, "-last_seen_at")


def refusal(query: str) -> tuple[str | None, str | None]:
    with pytest.raises(ApiError) as caught:
        parse(query)
    return caught.value.field, caught.value.rule


def test_filters_search_sort_and_limit() -> None:
    query = parse("plan=pro&mrr>100&params.seats>=10&last_seen_at>=2024-01-01&health=good&q=acme&sort=mrr&limit=20")
    assert query.filters == [
        Filter("params.plan", "=", "pro"),
        Filter("mrr", ">", 100.0),
        Filter("params.seats", ">=", 10.0),
        Filter("last_seen_at", ">=", datetime(2024, 1, 1)),
        Filter("health", "=", "good"),
    ]
    assert (query.search, query.sort_field, query.descending, query.limit) == ("acme", "mrr", False, 20)


def test_the_default_sort_and_an_empty_value_meaning_missing() -> None:
    query = parse("plan=&seats!=")
    assert (query.sort_field, query.descending) == ("last_seen_at", True)
    assert query.filters == [Filter("params.plan", "=", None), Filter("params.seats", "!=", None)]


def test_a_param_compared_by_order_is_a_number_when_it_reads_as_one() -> None:
    assert parse("params.renewal<2027-01-01").filters == [Filter("params.renewal", "<", "2027-01-01")]
    assert parse("params.seats<5").filters == [Filter("params.seats", "<", 5.0)]
    assert parse("params.seats=5").filters == [Filter("params.seats", "=", "5")]


def test_the_api_token_is_a_credential_not_a_filter() -> None:
    assert parse("api_token=abc").filters == []


def test_a_cursor_round_trips() -> None:
    cursor = encode_cursor(datetime(2026, 1, 2, 3, 4, 5), 77)
    assert parse(f"cursor={cursor}").after == (datetime(2026, 1, 2, 3, 4, 5), 77)


@pytest.mark.parametrize("query,expected", [
    ("plan", ("plan", "filter")),
    ("q>3", ("q", "operator")),
    ("limit=0", ("limit", "range")),
    ("limit=²", ("limit", "range")),
    ("limit=1001", ("limit", "range")),
    ("sort=color", ("sort", "one_of")),
    ("health=great", ("health", "one_of")),
    ("health>good", ("health", "one_of")),
    ("mrr>lots", ("mrr", "number")),
    ("mrr>nan", ("mrr", "number")),
    ("last_seen_at>soon", ("last_seen_at", "datetime")),
    ("mrr>", ("mrr", "value")),
    ("params.=1", ("params.", "filter")),
    ("plan=a%00b", ("query", "no_nul")),
    ("cursor=not-a-cursor", ("cursor", "cursor")),
    (f"cursor={encode_cursor('x', 2**63)}", ("cursor", "cursor")),
])
def test_what_cannot_be_read_is_refused_naming_field_and_rule(query: str, expected: tuple[str, str]) -> None:
    assert refusal(query) == expected
