"""One item -> a message, or a refusal naming field and rule: the rules of docs/wire.md as
plain function calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesmachine_server.domain.messages import Invalid, parse_item

NOW = datetime(2026, 12, 5, 12, 0, 0)


def refusal(item: Any, kind: str) -> tuple[str, str]:
    with pytest.raises(Invalid) as caught:
        parse_item(item, kind, NOW)
    return caught.value.error.field, caught.value.error.rule


def test_each_endpoint_kind_makes_its_message() -> None:
    contact = parse_item({"contact_uid": 42, "params": {"plan": "pro"}}, "contact", NOW)
    assert (contact.kind, contact.contact_uid, contact.params, contact.occurred_at) == (
        "contact",
        "42",
        {"plan": "pro"},
        NOW,
    )
    event = parse_item({"unique_id": "u", "event": "legacy"}, "event", NOW)
    assert (event.kind, event.contact_uid, event.event_name) == ("event", "u", "legacy")
    pageview = parse_item({"contact_uid": "u"}, "pageview", NOW)
    assert (pageview.kind, pageview.event_name) == ("event", "pageview")
    alias = parse_item({"contact_uid": "u", "alias": "u@example.com"}, "alias", NOW)
    assert (alias.kind, alias.alias) == ("alias", "u@example.com")


def test_a_batch_item_names_its_own_method() -> None:
    assert parse_item({"method": "account", "account_uid": "a"}, "batch", NOW).account_uid == "a"
    assert refusal({"account_uid": "a"}, "batch") == ("method", "required")
    assert refusal({"method": "teleport"}, "batch") == ("method", "one_of")


@pytest.mark.parametrize(
    "item,kind,expected",
    [
        ([], "contact", ("body", "object")),
        ({}, "contact", ("contact_uid", "required")),
        ({"contact_uid": ""}, "contact", ("contact_uid", "not_empty")),
        ({"contact_uid": True}, "contact", ("contact_uid", "string")),
        ({"contact_uid": "a\x00b"}, "contact", ("contact_uid", "no_nul")),
        ({"contact_uid": "x" * 10_000}, "contact", ("contact_uid", "max_length")),
        ({"contact_uid": "u", "params": [1]}, "contact", ("params", "object")),
        ({"contact_uid": "u", "params": {"k": "a\x00"}}, "contact", ("params", "no_nul")),
        ({"contact_uid": "u"}, "event", ("event_uid", "required")),
        ({"contact_uid": "u", "event_uid": "e", "created_at": "yesterday"}, "event", ("created_at", "datetime")),
        ({"contact_uid": "u", "event_uid": "e", "created_at": "²"}, "event", ("created_at", "datetime")),
        ({"contact_uid": "u", "params": {"account_uid": {"no": 1}}}, "contact", ("params.account_uid", "string")),
        ({"contact_uid": "u", "params": {"mrr": "lots"}}, "contact", ("params.mrr", "number")),
        ({"contact_uid": "u", "params": {"mrr": -1}}, "contact", ("params.mrr", "min")),
        ({"account_uid": "a", "messageId": ""}, "account", ("messageId", "not_empty")),
    ],
)
def test_bad_items_are_refused_naming_field_and_rule(item: Any, kind: str, expected: tuple[str, str]) -> None:
    assert refusal(item, kind) == expected


@pytest.mark.parametrize(
    "created_at,expected",
    [
        ("2013-01-01T00:00:00.000Z", datetime(2013, 1, 1)),
        ("2013-01-01T01:00:00+01:00", datetime(2013, 1, 1)),
        ("2013-01-01 00:00:00", datetime(2013, 1, 1)),
        (1357000000, datetime(2013, 1, 1, 0, 26, 40)),
        ("1357000000", datetime(2013, 1, 1, 0, 26, 40)),
        (1357000000000, datetime(2013, 1, 1, 0, 26, 40)),  # JavaScript's milliseconds
    ],
)
def test_created_at_in_every_form_clients_send(created_at: Any, expected: datetime) -> None:
    assert (
        parse_item({"contact_uid": "u", "event_uid": "e", "created_at": created_at}, "event", NOW).occurred_at
        == expected
    )


def test_sent_at_corrects_the_clients_clock() -> None:
    # The client's clock is an hour fast: it says it sent at 13:00 what happened at 12:30.
    item = {
        "contact_uid": "u",
        "event_uid": "e",
        "created_at": "2026-12-05T12:30:00Z",
        "sent_at": "2026-12-05T13:00:00Z",
    }
    assert parse_item(item, "event", NOW).occurred_at == datetime(2026, 12, 5, 11, 30)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "method",
        "contact_uid",
        "unique_id",
        "account_uid",
        "event_uid",
        "event",
        "alias",
        "params",
        "created_at",
        "sent_at",
        "messageId",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    item=st.dictionaries(KEYS, JSON, max_size=6),
    kind=st.sampled_from(["contact", "account", "event", "pageview", "alias", "batch"]),
)
def test_any_json_object_is_a_message_or_a_refusal_naming_field_and_rule(item: dict[str, Any], kind: str) -> None:
    try:
        message = parse_item(item, kind, NOW)
    except Invalid as exc:
        assert exc.error.field and exc.error.rule and exc.error.message
        assert exc.error.status in (400, 403)
    else:
        assert message.kind in ("contact", "account", "event", "alias")
        assert message.occurred_at is not None
