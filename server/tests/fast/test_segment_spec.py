"""Segment's spec as our items (domain/segment_spec.py): each message type, the stitching of an
anonymous visitor, time as Segment computes it, and refusals naming Segment's fields."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from salesmachine_server.domain.messages import Invalid
from salesmachine_server.domain.segment_spec import Meant, derived_id, is_segment_alias, is_segment_batch, translate

RECEIVED = datetime(2024, 5, 1, 12, 0, 0)


def kinds(meant: list[Meant]) -> list[tuple[str, str | None]]:
    return [(one.message.kind, one.message.contact_uid or one.message.account_uid) for one in meant]


def refusal(message: object, kind: str | None = None) -> tuple[str, str]:
    with pytest.raises(Invalid) as caught:
        translate(message, RECEIVED, kind)
    return caught.value.error.field, caught.value.error.rule


def test_identify_is_a_contact_with_its_traits_as_params() -> None:
    [contact] = translate(
        {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c", "firstName": "Ann", "lastName": "Lee"}},
        RECEIVED,
    )
    assert contact.message.kind == "contact" and contact.message.contact_uid == "u1"
    assert contact.message.params == {"email": "a@b.c", "firstName": "Ann", "lastName": "Lee", "name": "Ann Lee"}
    assert contact.message.occurred_at == RECEIVED


def test_identify_with_both_ids_aliases_the_anonymous_history_first() -> None:
    meant = translate({"type": "identify", "userId": "u1", "anonymousId": "anon-1", "messageId": "m1"}, RECEIVED)
    assert [one.message.kind for one in meant] == ["alias", "contact"]
    alias = meant[0].message
    assert (alias.contact_uid, alias.alias) == ("u1", "anon-1")
    # One message stored once: each of its items has an id of its own, derived from the message's.
    assert [one.message.message_id for one in meant] == ["m1/alias", "m1"]


def test_identify_company_with_an_id_is_the_contact_account() -> None:
    meant = translate(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"company": {"id": "acme", "name": "Acme", "plan": "pro", "mrr": "49.50"}},
        },
        RECEIVED,
    )
    assert kinds(meant) == [("account", "acme"), ("contact", "u1")]
    assert meant[0].message.params == {"name": "Acme", "plan": "pro", "mrr": 49.5}
    assert meant[1].message.params == {"account_uid": "acme"}


def test_context_group_id_names_the_account() -> None:
    [contact] = translate({"type": "identify", "userId": "u1", "context": {"groupId": "g1"}}, RECEIVED)
    assert contact.message.params == {"account_uid": "g1"}
    [event] = translate({"type": "track", "userId": "u1", "event": "Signed In", "context": {"groupId": "g1"}}, RECEIVED)
    assert event.message.params == {"account_uid": "g1"}


def test_track_is_an_event_with_the_visit_fields_of_its_context() -> None:
    [event] = translate(
        {
            "type": "track",
            "anonymousId": "anon-1",
            "event": "Clicked",
            "properties": {"n": 1},
            "context": {"ip": "1.2.3.4", "userAgent": "Mozilla/5.0", "page": {"url": "https://x/y"}},
        },
        RECEIVED,
    )
    assert (event.message.kind, event.message.contact_uid, event.message.event_name) == ("event", "anon-1", "Clicked")
    assert event.message.params == {
        "n": 1,
        "visit_ip": "1.2.3.4",
        "visit_agent": "Mozilla/5.0",
        "visit_url": "https://x/y",
    }


def test_page_and_screen_are_pageviews() -> None:
    [page] = translate(
        {
            "type": "page",
            "userId": "u1",
            "name": "Pricing",
            "properties": {"title": "Pricing"},
            "context": {"page": {"url": "https://x/pricing", "referrer": "https://google"}},
        },
        RECEIVED,
    )
    assert (page.message.kind, page.message.event_name) == ("event", "pageview")
    assert page.message.params == {
        "title": "Pricing",
        "visit_url": "https://x/pricing",
        "referrer": "https://google",
        "name": "Pricing",
    }
    [screen] = translate({"userId": "u1", "name": "Home"}, RECEIVED, "screen")
    assert (screen.message.event_name, screen.message.params) == ("pageview", {"name": "Home"})


def test_group_is_an_account_and_a_membership() -> None:
    meant = translate(
        {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme", "mrr": 99}, "messageId": "m2"},
        RECEIVED,
    )
    assert kinds(meant) == [("account", "acme"), ("contact", "u1")]
    assert meant[0].message.params == {"name": "Acme", "mrr": 99}
    assert meant[1].message.params == {"account_uid": "acme"}
    assert [one.message.message_id for one in meant] == ["m2", "m2/member"]


def test_alias_makes_previous_id_another_uid_of_user_id() -> None:
    [alias] = translate({"type": "alias", "userId": "u1", "previousId": "old"}, RECEIVED)
    assert (alias.message.kind, alias.message.contact_uid, alias.message.alias) == ("alias", "u1", "old")


def test_time_is_timestamp_else_original_timestamp_corrected_by_sent_at() -> None:
    [given] = translate(
        {
            "type": "track",
            "userId": "u",
            "event": "e",
            "timestamp": "2024-01-01T00:00:00Z",
            "sentAt": "2030-01-01T00:00:00Z",
        },
        RECEIVED,
    )
    assert given.message.occurred_at == datetime(2024, 1, 1)
    # The client's clock is an hour fast: sent 10 s after the event, by its own clock.
    [skewed] = translate(
        {"type": "track", "userId": "u", "event": "e", "originalTimestamp": "2024-05-01T13:00:00Z"},
        RECEIVED,
        batch_sent_at="2024-05-01T13:00:10Z",
    )
    assert skewed.message.occurred_at == RECEIVED - timedelta(seconds=10)


def test_refusals_name_segment_fields_and_rules() -> None:
    assert refusal({"type": "track", "event": "e"}) == ("userId", "required")
    assert refusal({"type": "track", "userId": "u"}) == ("event", "required")
    assert refusal({"type": "teleport", "userId": "u"}) == ("type", "one_of")
    assert refusal({"userId": "u"}) == ("type", "required")
    assert refusal({"type": "group", "userId": "u"}) == ("groupId", "required")
    assert refusal({"type": "alias", "userId": "u"}) == ("previousId", "required")
    assert refusal({"type": "identify", "userId": "u", "traits": {"mrr": -1}}) == ("traits.mrr", "min")
    assert refusal({"type": "identify", "userId": "u", "traits": []}) == ("traits", "object")
    assert refusal({"type": "identify", "userId": True}) == ("userId", "string")
    assert refusal({"type": "track", "userId": "u", "event": "e", "timestamp": "soon"}) == ("timestamp", "datetime")
    assert refusal([1]) == ("body", "object")
    with pytest.raises(Invalid) as caught:
        translate({"type": "identify", "userId": "u", "traits": {"mrr": "lots"}}, RECEIVED)
    assert caught.value.error.message.startswith("traits.mrr must be a number")


def test_the_two_batch_shapes_are_told_apart_by_content() -> None:
    assert is_segment_batch({"batch": [{"type": "track"}]})
    assert not is_segment_batch([{"type": "track"}])  # a bare array is always ours
    assert not is_segment_batch({"batch": [{"method": "event", "type": "x"}]})
    assert not is_segment_batch({"batch": []})
    assert is_segment_alias({"userId": "u", "previousId": "p"})
    assert not is_segment_alias({"contact_uid": "u", "alias": "p"})
    assert not is_segment_alias({})


def test_a_long_message_id_derives_a_bounded_one() -> None:
    assert derived_id("m", "alias") == "m/alias"
    assert len(derived_id("m" * 255, "alias")) <= 255


def test_identify_reads_context_traits_as_rudderstack_sends_them() -> None:
    message = {
        "type": "identify",
        "userId": "u1",
        "context": {"traits": {"email": "a@b.c", "plan": "free"}},
        "traits": {"plan": "pro"},
    }
    [contact] = translate(message, RECEIVED)
    assert contact.message.params == {"email": "a@b.c", "plan": "pro"}
