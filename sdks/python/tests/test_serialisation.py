"""Python values in params reach the server as clean JSON, and times as the wire wants them."""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Callable

from salesmachine.client import Client
from salesmachine.encoding import json_safe, utc_timestamp
from sm_harness import FaultProxy, Stored

PARIS = timezone(timedelta(hours=1))
UID = uuid.UUID("12345678-1234-5678-1234-567812345678")
ISO_MILLIS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Plan(enum.Enum):
    PRO = "pro"


def test_rich_python_values_are_stored_as_plain_json(
    make_client: Callable[..., Client], stored: Stored, uid: Callable[[str], str]
) -> None:
    client = make_client()
    client.set_contact(uid("123456"), {
        "registered_at": datetime(2024, 3, 1, 10, 30, 15, 123456, tzinfo=PARIS),
        "last_login_local": datetime(2024, 3, 2, 8, 0),
        "birthday": date(1971, 6, 28),
        "opens_at": time(9, 30),
        "mrr": Decimal("99"),
        "balance": Decimal("12.50"),
        "external_id": UID,
        "plan": Plan.PRO,
        "tags": ("a", "b"),
        "nested": {"when": date(2024, 1, 1), "amounts": [Decimal("1.25"), 2]},
        "nothing": None,
        "flag": True,
    })
    assert client.flush(timeout=10)

    contact = stored.contact(uid("123456"))
    assert contact is not None
    assert contact["params"] == {
        "registered_at": "2024-03-01T09:30:15.123Z",  # aware: converted to UTC
        "last_login_local": "2024-03-02T08:00:00.000",  # naive: as written, no zone invented
        "birthday": "1971-06-28",
        "opens_at": "09:30:00",
        "mrr": 99,
        "balance": 12.5,
        "external_id": "12345678-1234-5678-1234-567812345678",
        "plan": "pro",
        "tags": ["a", "b"],
        "nested": {"when": "2024-01-01", "amounts": [1.25, 2]},
        "flag": True,
        # "nothing": None is absent: the server removes a key sent as null.
    }


def test_created_at_says_when_it_happened(
    make_client: Callable[..., Client], stored: Stored, uid: Callable[[str], str]
) -> None:
    client = make_client()
    happened = datetime(2023, 5, 17, 12, 0, 0, tzinfo=timezone.utc)
    client.track_event(uid("123456"), "upgraded_to_pro", {"plan": "pro"}, created_at=happened)
    client.track_event(uid("123456"), "naive_means_utc", created_at=datetime(2023, 5, 17, 12, 0, 0))
    assert client.flush(timeout=10)

    events = stored.events(uid("123456"))
    assert [e["name"] for e in events] == ["upgraded_to_pro", "naive_means_utc"]
    for event in events:
        # The server corrects for clock skew with sent_at, so allow the time in flight.
        assert abs(event["occurred_at"] - happened.replace(tzinfo=None)) < timedelta(seconds=5)


def test_each_item_carries_its_id_and_times(make_client: Callable[..., Client], proxy: FaultProxy) -> None:
    client = make_client(host=proxy.url)
    message = client.track_event("123456", "user_registration", {"display_name": "Registration"})
    assert client.flush(timeout=10)

    (request,) = proxy.seen
    assert request.path == "/v1/batch"
    (item,) = request.items
    assert item == {
        "method": "event",
        "contact_uid": "123456",
        "event_uid": "user_registration",
        "params": {"display_name": "Registration"},
        "created_at": message["created_at"],
        "messageId": message["messageId"],
        "sent_at": item["sent_at"],
    }
    assert uuid.UUID(item["messageId"]).version == 4
    assert ISO_MILLIS_Z.match(item["created_at"]) and ISO_MILLIS_Z.match(item["sent_at"])
    assert item["created_at"] <= item["sent_at"]


def test_json_safe_is_usable_on_its_own() -> None:
    assert json_safe({"ids": {1, 2}}) in ({"ids": [1, 2]}, {"ids": [2, 1]})
    assert json_safe({1: "int keys become strings"}) == {"1": "int keys become strings"}
    assert json_safe(Decimal("1E+3")) == 1000 and json_safe(Decimal("-0.5")) == -0.5
    assert utc_timestamp(datetime(2013, 1, 1)) == "2013-01-01T00:00:00.000Z"
