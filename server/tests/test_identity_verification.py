"""Identity verification (off by default): token-only writes must prove the contact."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import httpx
import pytest

from tests.support import Project, ServerProcess, StoredData, make_project


def user_hash(secret: str, uid: str) -> str:
    """What the customer's backend computes and puts in the page, as with Intercom."""
    return hmac.new(secret.encode(), uid.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def verified(server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(server.database_url, identity_verification=True)
    stored = StoredData(server.database_url, created.id)
    with httpx.Client(base_url=server.base_url, params={"api_token": created.token}, timeout=30) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()


def test_off_by_default_token_alone_may_do_everything(project: Project) -> None:
    assert project.http.post("/v1/contact", json={"contact_uid": "u", "params": {"mrr": 10}}).status_code == 201
    assert project.http.post("/v1/alias", json={"contact_uid": "u", "alias": "v"}).status_code == 201


def test_on_a_token_only_write_needs_the_right_user_hash(verified: Project) -> None:
    event = {"contact_uid": "u1", "event_uid": "clicked"}
    missing = verified.http.post("/v1/track/event", json=event)
    assert missing.status_code == 403
    assert missing.json()["field"] == "user_hash" and missing.json()["rule"] == "identity_verification"
    assert missing.json()["code"] == "forbidden"
    wrong = verified.http.post("/v1/track/event", json=event | {"user_hash": user_hash(verified.secret, "u2")})
    assert wrong.status_code == 403
    right = verified.http.post("/v1/track/event", json=event | {"user_hash": user_hash(verified.secret, "u1")})
    assert right.status_code == 201
    contact = verified.stored.contact("u1")
    assert contact is not None and [e["name"] for e in contact["events"]] == ["clicked"]
    assert [r.field for r in verified.stored.rejected()] == ["user_hash", "user_hash"]


def test_on_token_only_writes_may_not_set_mrr_or_alias(verified: Project) -> None:
    proof = {"user_hash": user_hash(verified.secret, "u1")}
    mrr = verified.http.post("/v1/contact", json={"contact_uid": "u1", "params": {"mrr": 5}} | proof)
    assert mrr.status_code == 403 and mrr.json()["field"] == "params.mrr"
    alias = verified.http.post("/v1/alias", json={"contact_uid": "u1", "alias": "admin"} | proof)
    assert alias.status_code == 403 and alias.json()["field"] == "alias"
    assert verified.stored.contact("admin") is None


def test_on_a_token_only_account_call_names_the_verified_contact(verified: Project) -> None:
    account = {"account_uid": "acme", "params": {"name": "Acme"}}
    assert verified.http.post("/v1/account", json=account).status_code == 403
    proven = account | {"contact_uid": "u1", "user_hash": user_hash(verified.secret, "u1")}
    assert verified.http.post("/v1/account", json=proven).status_code == 201


def test_on_a_batch_refuses_unproven_items_by_index(verified: Project) -> None:
    items = [
        {"method": "event", "contact_uid": "u1", "event_uid": "ok", "user_hash": user_hash(verified.secret, "u1")},
        {"method": "event", "contact_uid": "u2", "event_uid": "forged", "user_hash": user_hash(verified.secret, "u1")},
    ]
    response = verified.http.post("/v1/batch", json=items)
    assert response.status_code == 201
    assert [(r["index"], r["code"], r["field"]) for r in response.json()["rejected"]] == [(1, "forbidden", "user_hash")]


def test_on_writes_with_the_secret_are_unaffected(verified: Project) -> None:
    with httpx.Client(base_url=verified.http.base_url, auth=(verified.token, verified.secret)) as http:
        assert http.post("/v1/contact", json={"contact_uid": "u", "params": {"mrr": 10}}).status_code == 201
        assert http.post("/v1/alias", json={"contact_uid": "u", "alias": "v"}).status_code == 201
    with httpx.Client(base_url=verified.http.base_url, auth=(verified.secret, "")) as http:
        assert http.post("/v1/track/event", json={"contact_uid": "u", "event_uid": "e"}).status_code == 201
    contact = verified.stored.contact("v")
    assert contact is not None and contact["params"] == {"mrr": 10} and len(contact["events"]) == 1
