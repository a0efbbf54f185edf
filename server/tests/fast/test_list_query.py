"""The list query language (lists, segments, exports): what a query string means, and the
refusal of what it cannot mean, naming field and rule; the dashboard's list form writes and
reads the same language, and the API answers a refusal with the same field and rule."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from salesmachine_server.domain.list_query import (
    Filter,
    ListQuery,
    QueryError,
    Subject,
    encode_cursor,
    join_terms,
    parse_list_query,
    read_term,
    split_terms,
)
from salesmachine_server.web.list_form import ListForm
from tests.support import Project


def parse(query: str, subject: Subject = Subject.CONTACTS) -> ListQuery:
    return parse_list_query(query, subject)


def refusal(query: str) -> tuple[str | None, str | None]:
    with pytest.raises(QueryError) as caught:
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


@pytest.mark.parametrize(
    "query,expected",
    [
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
    ],
)
def test_what_cannot_be_read_is_refused_naming_field_and_rule(query: str, expected: tuple[str, str]) -> None:
    assert refusal(query) == expected


def test_each_list_sorts_by_its_own_uid() -> None:
    assert parse("sort=contact_uid", Subject.CONTACTS).sort_field == "contact_uid"
    assert parse("sort=-account_uid", Subject.ACCOUNTS).sort_field == "account_uid"
    with pytest.raises(QueryError):
        parse("sort=account_uid", Subject.CONTACTS)


def test_a_term_is_field_operator_and_value_as_sent() -> None:
    assert split_terms("plan=pro&&mrr%3E=100&q=a+b") == ["plan=pro", "mrr>=100", "q=a b"]
    term = read_term(" seats >= 10 ")
    assert term is not None and (term.field, term.op, term.value) == ("seats", ">=", " 10 ")
    assert read_term("plan") is None
    assert split_terms(join_terms(["q=a&b", "plan!=x y", "mrr<=5"])) == ["q=a&b", "plan!=x y", "mrr<=5"]


# ---- the dashboard's form and the API read one language ----------------------------------------


def _same(query: ListQuery) -> tuple[object, ...]:
    """What a list shows, whatever the order its filters were written in."""
    return (sorted(map(repr, query.filters)), query.search, query.sort_field, query.descending)


@pytest.mark.parametrize(
    "query",
    [
        "plan=pro",
        "q=acme&health=bad&active_days_14=0&plan=pro&sort=-mrr",
        "health=good&health!=bad&active_days_30>0&mrr>=100.5",
        "last_seen_at>=2026-01-01&params.renewal<2027-01-01&seats<5",
        "account_uid=acme&email!=&sort=mrr",
        "q=a%26b%3Dc&name=O%27Brien+%26+Co",
        "sort=-last_seen_at&q=",
    ],
)
def test_a_saved_segment_reads_back_into_the_form_as_the_same_list(query: str) -> None:
    form = ListForm.from_language(query)
    for subject in Subject:
        assert _same(parse(form.language(), subject)) == _same(parse(query, subject))


def test_what_the_form_sends_is_what_the_api_reads() -> None:
    params = QueryParams(
        [
            ("q", " acme "),
            ("health", "bad"),
            ("activity", "inactive_14"),
            ("where", "plan = pro\r\nmrr>100\n\nlast_seen_at >= 2026-01-01"),
            ("sort", "-mrr"),
        ]
    )
    form = ListForm.from_params(params)
    api = "q=acme&health=bad&active_days_14=0&plan=pro&mrr>100&last_seen_at>=2026-01-01&sort=-mrr"
    assert parse(form.language(), Subject.ACCOUNTS) == parse(api, Subject.ACCOUNTS)


_NAMES = st.sampled_from(
    ["plan", "params.seats", "mrr", "health", "active_days_14", "last_seen_at", "account_uid", "q", "sort", "email"]
)
# Values as a list shows them: the form drops the spaces around a typed value (`plan = pro`), so a
# value that begins or ends with a space is one the API reads and the form cannot write.
_VALUES = st.sampled_from(
    ["", "pro", "good", "bad", "0", "10", "2.5", "2026-01-01", "-mrr", "mrr", "a b", "x&y", "=z", "100%", "Ünï"]
)
_OPS = st.sampled_from(["=", "!=", ">", ">=", "<", "<="])


@given(st.lists(st.tuples(_NAMES, _OPS, _VALUES), max_size=6), st.sampled_from(list(Subject)))
def test_the_form_and_the_api_agree_on_any_query(terms: list[tuple[str, str, str]], subject: Subject) -> None:
    """A query string as the API reads it, and as the form reads it back (a saved segment):
    the same list, or the same refusal."""
    query = join_terms(f"{name}{op}{value}" for name, op, value in terms)
    try:
        expected = _same(parse(query, subject))
    except QueryError as exc:
        with pytest.raises(QueryError) as caught:
            parse(ListForm.from_language(query).language(), subject)
        assert (caught.value.field, caught.value.rule) == (exc.field, exc.rule)
        return
    assert _same(parse(ListForm.from_language(query).language(), subject)) == expected


def test_the_api_refuses_what_the_language_refuses_naming_field_and_rule(project: Project) -> None:
    for path, field, rule in [
        ("/v1/contacts?mrr>lots", "mrr", "number"),
        ("/v1/accounts?sort=contact_uid", "sort", "one_of"),
        ("/v1/accounts?limit=0", "limit", "range"),
        ("/v1/contacts?cursor=nope", "cursor", "cursor"),
        ("/v1/events?limit=1001", "limit", "range"),
        ("/v1/events?cursor=nope", "cursor", "cursor"),
    ]:
        answer = project.http.get(path, auth=(project.token, project.secret))
        assert answer.status_code == 400, path
        body = answer.json()
        assert (body["field"], body["rule"], body["code"]) == (field, rule, "bad_request"), path
        assert body["message"] == body["error"]


def test_a_time_may_be_relative_to_now() -> None:
    from salesmachine_server.domain.list_query import Ago

    query = parse_list_query("first_seen_at>-30d&last_seen_at<=-7d", Subject.ACCOUNTS)
    assert [(f.field, f.op, f.value) for f in query.filters] == [
        ("first_seen_at", ">", Ago(30)),
        ("last_seen_at", "<=", Ago(7)),
    ]
    with pytest.raises(QueryError) as caught:
        parse_list_query("first_seen_at>-30w", Subject.ACCOUNTS)
    assert (caught.value.field, caught.value.rule) == ("first_seen_at", "datetime")
