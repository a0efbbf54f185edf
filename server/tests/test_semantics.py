"""docs/wire.md, Semantics: what each call does to the stored contacts, accounts and events."""

from __future__ import annotations

import uuid
from datetime import datetime

from tests.support import Project


def post(project: Project, path: str, body: object, status: int = 201) -> dict:
    response = project.http.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()


def batch(project: Project, items: list[dict], status: int = 201) -> dict:
    return post(project, "/v1/batch", items, status)


def test_params_are_merged_and_null_removes_a_key(project: Project) -> None:
    post(project, "/v1/contact", {"contact_uid": "u1", "params": {"email": "a@x.io", "name": "Ann", "plan": "free"}})
    post(project, "/v1/contact", {"contact_uid": "u1", "params": {"plan": "pro", "name": None}})
    contact = project.stored.contact("u1")
    assert contact is not None
    assert contact["params"] == {"email": "a@x.io", "plan": "pro"}


def test_account_params_are_merged_the_same_way(project: Project) -> None:
    post(project, "/v1/account", {"account_uid": "acme", "params": {"name": "Acme", "seats": 3}})
    post(project, "/v1/account", {"account_uid": "acme", "params": {"seats": None, "domain": "acme.io"}})
    account = project.stored.account("acme")
    assert account is not None and account["params"] == {"name": "Acme", "domain": "acme.io"}


def test_a_contact_can_belong_to_several_accounts_created_empty_when_named(project: Project) -> None:
    post(project, "/v1/contact", {"contact_uid": "u1", "params": {"account_uid": "a1"}})
    post(project, "/v1/contact", {"contact_uid": "u1", "params": {"account_uid": "a2"}})
    post(project, "/v1/contact", {"contact_uid": "u1", "params": {"account_uid": ["a2", "a3"]}})
    contact = project.stored.contact("u1")
    assert contact is not None
    assert contact["accounts"] == {"a1", "a2", "a3"}
    assert contact["params"] == {}  # account_uid is a link, not an attribute
    account = project.stored.account("a3")
    assert account is not None and account["params"] == {} and account["contacts"] == {"u1"}


def test_an_event_for_an_unknown_contact_creates_it(project: Project) -> None:
    post(project, "/v1/track/event", {"contact_uid": "new", "event_uid": "signed_up"})
    contact = project.stored.contact("new")
    assert contact is not None
    assert [e["name"] for e in contact["events"]] == ["signed_up"]
    assert contact["last_seen_at"] is not None


def test_event_attribution_to_accounts(project: Project) -> None:
    post(project, "/v1/contact", {"contact_uid": "solo", "params": {"account_uid": "only"}})
    post(project, "/v1/track/event", {"contact_uid": "solo", "event_uid": "e1"})
    post(project, "/v1/contact", {"contact_uid": "multi", "params": {"account_uid": ["x", "y"]}})
    post(project, "/v1/track/event", {"contact_uid": "multi", "event_uid": "e2"})
    post(project, "/v1/track/event", {"contact_uid": "multi", "event_uid": "e3", "params": {"account_uid": "y"}})
    post(project, "/v1/track/event", {"contact_uid": "loner", "event_uid": "e4"})

    solo, multi, loner = (project.stored.contact(uid) for uid in ("solo", "multi", "loner"))
    assert solo and multi and loner
    assert [e["account_uid"] for e in solo["events"]] == ["only"]  # the contact's one account
    assert [e["account_uid"] for e in multi["events"]] == [None, "y"]  # ambiguous, then explicit
    assert [e["account_uid"] for e in loner["events"]] == [None]


def test_pageview_endpoint_and_batch_pageview_method(project: Project) -> None:
    post(project, "/v1/track/pageview", {"contact_uid": "v", "params": {"visit_url": "/home"}})
    batch(project, [{"method": "pageview", "contact_uid": "v", "params": {"visit_url": "/pricing"}}])
    contact = project.stored.contact("v")
    assert contact is not None
    assert [(e["name"], e["kind"], e["params"]["visit_url"]) for e in contact["events"]] == [
        ("pageview", "pageview", "/home"),
        ("pageview", "pageview", "/pricing"),
    ]


def test_mrr_is_recorded_as_a_history_with_the_time_it_took_effect(project: Project) -> None:
    for created_at, mrr in [
        ("2024-01-01T00:00:00Z", 100),
        ("2024-02-01T00:00:00Z", 100),
        ("2024-03-01T00:00:00Z", 250),
        ("2024-04-01T00:00:00Z", None),
    ]:
        post(project, "/v1/account", {"account_uid": "acme", "created_at": created_at, "params": {"mrr": mrr}})
    account = project.stored.account("acme")
    assert account is not None
    assert account["mrr_history"] == [
        (100, datetime(2024, 1, 1)),  # unchanged in February: no new row
        (250, datetime(2024, 3, 1)),
        (None, datetime(2024, 4, 1)),  # removed
    ]
    assert "mrr" not in account["params"]


def test_created_at_is_honoured_in_every_accepted_form(project: Project) -> None:
    forms = {
        "iso-millis-z": ("2013-01-01T00:00:00.000Z", datetime(2013, 1, 1)),
        "iso-no-zone": ("2013-01-02T10:30:00", datetime(2013, 1, 2, 10, 30)),
        "iso-offset": ("2013-01-03T10:00:00+02:00", datetime(2013, 1, 3, 8, 0)),
        "date-only": ("2013-01-04", datetime(2013, 1, 4)),
        "epoch-seconds": (1357430400, datetime(2013, 1, 6)),
        "epoch-millis": (1357516800000, datetime(2013, 1, 7)),
    }
    for name, (value, _) in forms.items():
        post(project, "/v1/track/event", {"contact_uid": "t", "event_uid": name, "created_at": value})
    contact = project.stored.contact("t")
    assert contact is not None
    assert {e["name"]: e["occurred_at"] for e in contact["events"]} == {k: v for k, (_, v) in forms.items()}
    assert contact["first_seen_at"] == datetime(2013, 1, 1)
    assert contact["last_seen_at"] == datetime(2013, 1, 7)


def test_an_event_earlier_in_the_day_lowers_first_seen_and_a_later_one_raises_last_seen(project: Project) -> None:
    # Each read waits for the writes before it, so each event is applied in a group of its own,
    # to a contact already stored (on SQLite, first_seen_at is set only where it is lowered).
    def event(name: str, at: str) -> dict:
        post(project, "/v1/track/event", {"contact_uid": "o", "event_uid": name, "created_at": at})
        contact = project.stored.contact("o")
        assert contact is not None
        return contact

    assert event("noon", "2024-03-05T12:00:00Z")["first_seen_at"] == datetime(2024, 3, 5, 12)
    contact = event("morning", "2024-03-05T08:00:00Z")
    assert (contact["first_seen_at"], contact["last_seen_at"]) == (datetime(2024, 3, 5, 8), datetime(2024, 3, 5, 12))
    contact = event("evening", "2024-03-05T18:00:00Z")
    assert (contact["first_seen_at"], contact["last_seen_at"]) == (datetime(2024, 3, 5, 8), datetime(2024, 3, 5, 18))
    contact = event("late entry", "2024-03-05T10:00:00Z")
    assert (contact["first_seen_at"], contact["last_seen_at"]) == (datetime(2024, 3, 5, 8), datetime(2024, 3, 5, 18))


def test_sent_at_corrects_the_client_clock(project: Project) -> None:
    # The client's clock is ten years behind: the event happened 60 s before it was sent.
    post(
        project,
        "/v1/track/event",
        {
            "contact_uid": "skew",
            "event_uid": "e",
            "created_at": "2015-01-01T00:00:00Z",
            "sent_at": "2015-01-01T00:01:00Z",
        },
    )
    contact = project.stored.contact("skew")
    assert contact is not None
    [event] = contact["events"]
    age = (datetime.utcnow() - event["occurred_at"]).total_seconds()
    assert 55 < age < 120


def test_a_duplicate_message_id_is_acknowledged_and_not_applied_twice(project: Project) -> None:
    message_id = str(uuid.uuid4())
    event = {"contact_uid": "d", "event_uid": "paid", "messageId": message_id}
    post(project, "/v1/track/event", event)
    post(project, "/v1/track/event", event)
    assert batch(
        project,
        [
            event | {"method": "event"},
            {"method": "event", "contact_uid": "d", "event_uid": "paid", "message_id": "other"},
        ],
    ) == {"status": "success", "accepted": 2, "duplicates": 1}
    contact = project.stored.contact("d")
    assert contact is not None
    assert [e["message_id"] for e in contact["events"]] == [message_id, "other"]


def test_message_ids_are_per_project(project: Project, server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from tests.support import make_project

    other, _ = make_project(server.database_url)
    event = {"contact_uid": "d", "event_uid": "paid", "messageId": "same-id"}
    post(project, "/v1/track/event", event)
    response = httpx.post(f"{server.base_url}/v1/track/event", json=event, auth=(other.token, ""))
    assert response.status_code == 201
    other_events = project.stored.rows("SELECT count(*) FROM events WHERE project_id = :other", other=other.id)[0][0]
    assert other_events == 1


def test_items_of_one_batch_are_applied_in_order(project: Project) -> None:
    batch(
        project,
        [
            {"method": "contact", "contact_uid": "o", "params": {"plan": "free", "seats": 1}},
            {"method": "contact", "contact_uid": "o", "params": {"plan": "pro"}},
            {"method": "contact", "contact_uid": "o", "params": {"seats": None}},
            {"method": "alias", "contact_uid": "o", "alias": "o2"},
            {"method": "event", "contact_uid": "o2", "event_uid": "after_alias"},
        ],
    )
    contact = project.stored.contact("o")
    assert contact is not None
    assert contact["params"] == {"plan": "pro"}
    assert contact["uids"] == {"o", "o2"}
    assert [e["name"] for e in contact["events"]] == ["after_alias"]


def test_unknown_top_level_keys_are_ignored(project: Project) -> None:
    post(project, "/v1/contact", {"contact_uid": "k", "params": {"a": 1}, "library": {"name": "x"}, "foo": 2})
    contact = project.stored.contact("k")
    assert contact is not None and contact["params"] == {"a": 1}


def test_legacy_keys_event_and_unique_id(project: Project) -> None:
    post(project, "/v1/track/event", {"unique_id": 42, "event": "legacy"})
    contact = project.stored.contact("42")
    assert contact is not None and [e["name"] for e in contact["events"]] == ["legacy"]
