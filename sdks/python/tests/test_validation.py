"""Mistakes are refused at the call, with an exception that names the argument, and nothing
is queued. These need no server: the call never gets that far."""

from __future__ import annotations

from typing import Any

import pytest

from salesmachine.client import Client


@pytest.fixture
def client() -> Client:
    # A real client with a real queue, pointed nowhere: a bad call must not reach it.
    return Client("token", "secret", host="http://127.0.0.1:9", shutdown_timeout=0)


@pytest.mark.parametrize("uid", [None, 1.5, True, ["1"], {"id": 1}, b"123"])
def test_a_uid_must_be_a_str_or_an_int(client: Client, uid: Any) -> None:
    with pytest.raises(TypeError, match="contact_uid must be a str or an int"):
        client.set_contact(uid, {"name": "x"})
    with pytest.raises(TypeError, match="account_uid must be a str or an int"):
        client.set_account(uid)
    with pytest.raises(TypeError, match="alias must be a str or an int"):
        client.alias("123456", uid)
    assert client.queued == 0


@pytest.mark.parametrize("uid", ["", "   "])
def test_a_uid_must_not_be_empty(client: Client, uid: str) -> None:
    with pytest.raises(ValueError, match="contact_uid must not be empty"):
        client.track_pageview(uid)
    with pytest.raises(ValueError, match="contact_uid must not be empty"):
        client.track_event(uid, "signed_up")
    assert client.queued == 0


def test_a_uid_follows_the_servers_limits(client: Client) -> None:
    with pytest.raises(ValueError, match="at most 255 characters"):
        client.set_contact("x" * 256)
    with pytest.raises(ValueError, match="NUL"):
        client.set_contact("a\x00b")


def test_integer_uids_travel_as_strings() -> None:
    message = Client("token", send=False).set_contact(123456)
    assert message["contact_uid"] == "123456"


@pytest.mark.parametrize("params", [["email", "x"], "email=x", 42, ("a", 1)])
def test_params_must_be_a_dict(client: Client, params: Any) -> None:
    with pytest.raises(TypeError, match="params must be a dict"):
        client.set_contact("123456", params)
    with pytest.raises(TypeError, match="params must be a dict"):
        client.track_event("123456", "signed_up", params)
    assert client.queued == 0


@pytest.mark.parametrize("name", [None, "", "  "])
def test_an_event_needs_a_name(client: Client, name: Any) -> None:
    with pytest.raises(ValueError, match="event_uid \\(the event name\\) is required"):
        client.track_event("123456", name, {"display_name": "Registration"})


def test_an_event_name_is_a_str(client: Client) -> None:
    with pytest.raises(TypeError, match="event_uid \\(the event name\\) must be a str"):
        client.track_event("123456", 42)  # type: ignore[arg-type]


def test_values_json_cannot_carry_are_refused_by_name(client: Client) -> None:
    with pytest.raises(TypeError, match=r"params\['avatar'\] is a bytes"):
        client.set_contact("123456", {"avatar": b"\x89PNG"})
    with pytest.raises(ValueError, match=r"params\['mrr'\] is nan"):
        client.set_contact("123456", {"mrr": float("nan")})
    with pytest.raises(ValueError, match=r"params\['plan'\]\['seats'\] is an integer beyond 64 bits"):
        client.set_account("78910", {"plan": {"seats": 2**70}})
    with pytest.raises(TypeError, match="JSON object keys are strings"):
        client.set_account("78910", {("a", "b"): 1})  # type: ignore[dict-item]
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="nested more than"):
        client.set_account("78910", cycle)
    assert client.queued == 0


def test_a_message_over_the_servers_item_limit_is_refused(client: Client) -> None:
    with pytest.raises(ValueError, match="at most 65536 bytes per message"):
        client.set_contact("123456", {"notes": "x" * 70_000})


def test_created_at_and_message_id_are_checked(client: Client) -> None:
    with pytest.raises(TypeError, match="created_at must be a datetime"):
        client.track_event("123456", "signed_up", created_at="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="message_id must not be empty"):
        client.track_event("123456", "signed_up", message_id="")


def test_the_client_itself_is_checked() -> None:
    with pytest.raises(ValueError, match="key \\(the project's API token\\) is required"):
        Client("", "secret")
    with pytest.raises(ValueError, match="host must be an http:// or https:// address"):
        Client("token", host="ftp://example.com")
    with pytest.raises(ValueError, match="not both"):
        Client("token", host="http://a:1", url="http://b:2")
    with pytest.raises(ValueError, match="max_queue_size must be at least 1"):
        Client("token", max_queue_size=0)
    with pytest.raises(ValueError, match="upload_size must be between 1 and 2500"):
        Client("token", upload_size=5000)
    with pytest.raises(TypeError, match="on_error must be a callable"):
        Client("token", on_error="print")  # type: ignore[arg-type]


def test_send_false_builds_messages_without_sending() -> None:
    client = Client("token", send=False)
    message = client.track_pageview("123456", {"visit_url": "/home"})
    assert message["method"] == "event" and message["event_uid"] == "pageview"
    assert client.queued == 0 and client.flush(timeout=0)
