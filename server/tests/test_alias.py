"""Alias: two uids, one contact, with everything both had (docs/wire.md, Semantics)."""

from __future__ import annotations

from datetime import datetime

from tests.support import Project
from tests.test_semantics import post


def alias(project: Project, contact_uid: str, other: str) -> None:
    post(project, "/v1/alias", {"contact_uid": contact_uid, "alias": other})


def test_alias_when_neither_contact_exists(project: Project) -> None:
    alias(project, "a", "b")
    a, b = project.stored.contact("a"), project.stored.contact("b")
    assert a is not None and b is not None
    assert a["id"] == b["id"] and a["uids"] == {"a", "b"} and a["contact_uid"] == "a"


def test_alias_when_only_the_contact_uid_exists(project: Project) -> None:
    post(project, "/v1/contact", {"contact_uid": "a", "params": {"name": "Ann"}})
    alias(project, "a", "b")
    b = project.stored.contact("b")
    assert b is not None and b["uids"] == {"a", "b"} and b["params"] == {"name": "Ann"}


def test_alias_when_only_the_alias_exists(project: Project) -> None:
    post(project, "/v1/track/event", {"contact_uid": "anon-1", "event_uid": "visited"})
    alias(project, "user-1", "anon-1")
    contact = project.stored.contact("user-1")
    assert contact is not None
    assert contact["uids"] == {"user-1", "anon-1"}
    assert contact["contact_uid"] == "anon-1"  # the first uid it was known by
    assert [e["name"] for e in contact["events"]] == ["visited"]


def test_alias_when_both_exist_merges_fields_events_memberships_and_revenue(project: Project) -> None:
    post(
        project,
        "/v1/contact",
        {
            "contact_uid": "anon",
            "created_at": "2024-01-01T00:00:00Z",
            "params": {"name": "anonymous", "browser": "firefox", "account_uid": "acc-1"},
        },
    )
    post(project, "/v1/track/pageview", {"contact_uid": "anon", "created_at": "2024-01-01T00:05:00Z"})
    post(
        project,
        "/v1/contact",
        {
            "contact_uid": "user",
            "created_at": "2024-02-01T00:00:00Z",
            "params": {"name": "Ann", "email": "ann@x.io", "mrr": 50, "account_uid": "acc-2"},
        },
    )
    post(project, "/v1/track/event", {"contact_uid": "user", "event_uid": "paid", "created_at": "2024-02-02T00:00:00Z"})

    alias(project, "user", "anon")

    merged = project.stored.contact("anon")
    assert merged is not None and merged == project.stored.contact("user")
    assert merged["params"] == {"name": "Ann", "email": "ann@x.io", "browser": "firefox", "mrr": 50}
    assert merged["accounts"] == {"acc-1", "acc-2"}
    assert [e["name"] for e in merged["events"]] == ["pageview", "paid"]
    assert merged["mrr"] == [50]
    assert merged["contact_uid"] == "anon"
    assert merged["first_seen_at"] == datetime(2024, 1, 1)
    assert merged["last_seen_at"] == datetime(2024, 2, 2)
    assert project.stored.count("contacts") == 1
    assert project.stored.account("acc-1")["contacts"] == {"anon"}  # type: ignore[index]


def test_alias_chains_are_transitive(project: Project) -> None:
    for uid in ("A", "B", "C"):
        post(project, "/v1/track/event", {"contact_uid": uid, "event_uid": f"by-{uid}"})
    alias(project, "A", "B")
    alias(project, "B", "C")
    contact = project.stored.contact("C")
    assert contact is not None
    assert contact["uids"] == {"A", "B", "C"}
    assert sorted(e["name"] for e in contact["events"]) == ["by-A", "by-B", "by-C"]
    assert project.stored.count("contacts") == 1
    # Later calls with any of the three uids reach the same contact.
    post(project, "/v1/track/event", {"contact_uid": "B", "event_uid": "later"})
    assert len(project.stored.contact("A")["events"]) == 4  # type: ignore[index]


def test_alias_is_idempotent_and_self_alias_is_a_no_op(project: Project) -> None:
    alias(project, "a", "b")
    alias(project, "a", "b")
    alias(project, "b", "a")
    alias(project, "a", "a")
    contact = project.stored.contact("a")
    assert contact is not None and contact["uids"] == {"a", "b"}
    assert project.stored.count("contacts") == 1
    alias(project, "solo", "solo")
    assert project.stored.contact("solo") is None
