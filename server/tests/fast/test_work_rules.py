"""The rules of owners, notes and tasks as functions (docs/work.md): the `owner` filter of the
list language, the owner menu of the list form, and what a title, a note, a status and a due day
accept, each refusal naming field and rule."""

from __future__ import annotations

from datetime import date

import pytest
from starlette.datastructures import QueryParams

from salesmachine_server.domain.list_query import Filter, QueryError, Subject, parse_list_query
from salesmachine_server.domain.work_items import (
    WorkItemError,
    checked_body,
    checked_due,
    checked_status,
    checked_subject,
    checked_title,
)
from salesmachine_server.web.list_form import ListForm


def test_owner_filters_read_an_address_nobody_somebody_and_me() -> None:
    def filters(query: str, me: str | None = None) -> list[Filter]:
        return parse_list_query(query, Subject.ACCOUNTS, me=me).filters

    assert filters("owner=Ada@Example.com") == [Filter("owner", "=", "ada@example.com")]
    assert filters("owner!=ada@example.com") == [Filter("owner", "!=", "ada@example.com")]
    assert filters("owner=") == [Filter("owner", "=", None)]
    assert filters("owner!=") == [Filter("owner", "!=", None)]
    assert filters("owner=me", me="Ben@example.com") == [Filter("owner", "=", "ben@example.com")]
    # A param named owner is still reachable by its full name.
    assert filters("params.owner=bob") == [Filter("params.owner", "=", "bob")]


@pytest.mark.parametrize(
    ("query", "rule"),
    [("owner=me", "me"), ("owner=bob", "email"), ("owner>=a@b.c", "operator"), ("owner=a b@c", "email")],
)
def test_owner_filters_that_cannot_be_read_are_refused_by_name(query: str, rule: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_list_query(query, Subject.CONTACTS)
    assert (caught.value.field, caught.value.rule) == ("owner", rule)


@pytest.mark.parametrize(("choice", "term"), [("me", "owner=me"), ("nobody", "owner="), ("a@b.co", "owner=a%40b.co")])
def test_the_owner_menu_writes_the_language_and_a_segment_reads_back_into_it(choice: str, term: str) -> None:
    form = ListForm.from_params(QueryParams([("owner", choice), ("health", "bad")]))
    assert form.language() == f"health=bad&{term}"
    assert ListForm.from_language(form.language()).owner == choice
    assert ListForm(owner="").language() == ""


def test_titles_and_notes_are_trimmed_and_bounded() -> None:
    assert checked_title("  Call   about\nthe renewal ") == "Call about the renewal"
    assert checked_body("  line one\nline two  ") == "line one\nline two"
    for value, rule in (
        (None, "required"),
        ("  ", "required"),
        (3, "string"),
        ("x" * 501, "max_length"),
        ("a\x00", "no_nul"),
    ):
        with pytest.raises(WorkItemError) as caught:
            checked_title(value)
        assert (caught.value.field, caught.value.rule) == ("title", rule)
    with pytest.raises(WorkItemError) as caught:
        checked_body("x" * 20_001)
    assert (caught.value.field, caught.value.rule) == ("body", "max_length")


def test_statuses_subjects_and_due_days() -> None:
    assert [checked_status(s) for s in ("open", "done", "dismissed")] == ["open", "done", "dismissed"]
    assert checked_subject("contact") == "contact"
    assert checked_due("2026-12-24") == date(2026, 12, 24)
    assert checked_due("") is None and checked_due(None) is None
    for check, value, field in (
        (checked_status, "closed", "status"),
        (checked_subject, "accounts", "subject"),
        (checked_due, "2026-02-30", "due_on"),
        (checked_due, 20261224, "due_on"),
        (checked_due, "0001-01-01", "due_on"),
    ):
        with pytest.raises(WorkItemError) as caught:
            check(value)  # type: ignore[operator]
        assert caught.value.field == field
