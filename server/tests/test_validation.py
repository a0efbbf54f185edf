"""Bad input: a clear 400 naming the field and the rule; nothing stored but the refusal."""

from __future__ import annotations

import pytest

from tests.support import Project

BAD_SINGLE_CALLS = [
    # (path, body, field, rule)
    ("/v1/contact", {"params": {"name": "x"}}, "contact_uid", "required"),
    ("/v1/contact", {"contact_uid": "", "params": {}}, "contact_uid", "not_empty"),
    ("/v1/contact", {"contact_uid": True}, "contact_uid", "string"),
    ("/v1/contact", {"contact_uid": {"id": 1}}, "contact_uid", "string"),
    ("/v1/contact", {"contact_uid": "x" * 256}, "contact_uid", "max_length"),
    ("/v1/contact", {"contact_uid": "u", "params": {"mrr": "ninety"}}, "params.mrr", "number"),
    ("/v1/contact", {"contact_uid": "u", "params": {"mrr": True}}, "params.mrr", "number"),
    ("/v1/contact", {"contact_uid": "u", "params": {"mrr": -5}}, "params.mrr", "min"),
    ("/v1/account", {"account_uid": "a", "params": {"mrr": [1]}}, "params.mrr", "number"),
    ("/v1/contact", {"contact_uid": "u", "params": ["a"]}, "params", "object"),
    ("/v1/contact", {"contact_uid": "u", "params": "name=x"}, "params", "object"),
    ("/v1/contact", {"contact_uid": "u", "params": {"account_uid": {"x": 1}}}, "params.account_uid", "string"),
    ("/v1/account", {"params": {"name": "x"}}, "account_uid", "required"),
    ("/v1/track/event", {"contact_uid": "u"}, "event_uid", "required"),
    ("/v1/track/event", {"contact_uid": "u", "event_uid": "e", "created_at": "yesterday"}, "created_at", "datetime"),
    ("/v1/track/event", {"contact_uid": "u", "event_uid": "e", "created_at": [2013]}, "created_at", "datetime"),
    ("/v1/track/event", {"contact_uid": "u", "event_uid": "e", "sent_at": "soon"}, "sent_at", "datetime"),
    ("/v1/track/pageview", {"params": {"visit_url": "/"}}, "contact_uid", "required"),
    ("/v1/alias", {"contact_uid": "u"}, "alias", "required"),
    ("/v1/contact", ["not", "an", "object"], "body", "object"),
]


@pytest.mark.parametrize("path,body,field,rule", BAD_SINGLE_CALLS)
def test_bad_single_call_is_400_naming_field_and_rule(
    project: Project, path: str, body: object, field: str, rule: str
) -> None:
    response = project.http.post(path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "bad_request"
    assert error["field"] == field and error["rule"] == rule
    assert error["error"] == error["message"] and field.split(".")[-1] in error["message"]
    assert project.stored.count("contacts") == 0
    assert project.stored.count("accounts") == 0
    assert project.stored.count("events") == 0
    [refusal] = project.stored.rejected()
    assert (refusal.path, refusal.field, refusal.reason) == (path, field, error["message"])


def test_a_batch_stores_good_items_and_names_each_bad_one(project: Project) -> None:
    items = [
        {"method": "contact", "contact_uid": "good-1", "params": {"name": "One"}},
        {"method": "contact", "params": {"name": "no uid"}},
        {"method": "event", "contact_uid": "good-1", "event_uid": "clicked"},
        {"method": "unsubscribe", "contact_uid": "x"},
        {"contact_uid": "no method"},
        "not an object",
        {"method": "account", "account_uid": "acc", "params": {"mrr": "lots"}},
        {"method": "account", "account_uid": "acc", "params": {"mrr": 10}},
    ]
    response = project.http.post("/v1/batch", json=items)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "success" and body["accepted"] == 3
    assert [(r["index"], r["field"], r["rule"]) for r in body["rejected"]] == [
        (1, "contact_uid", "required"),
        (3, "method", "one_of"),
        (4, "method", "required"),
        (5, "body", "object"),
        (6, "params.mrr", "number"),
    ]
    assert all(r["code"] == "bad_request" and r["message"] for r in body["rejected"])
    contact = project.stored.contact("good-1")
    assert contact is not None and [e["name"] for e in contact["events"]] == ["clicked"]
    assert project.stored.account("acc")["params"] == {"mrr": 10}  # type: ignore[index]
    assert [(r.item_index, r.field) for r in project.stored.rejected()] == [
        (1, "contact_uid"),
        (3, "method"),
        (4, "method"),
        (5, "body"),
        (6, "params.mrr"),
    ]
    assert '"method":"unsubscribe"' in project.stored.rejected()[1].raw


def test_a_batch_with_only_bad_items_is_400(project: Project) -> None:
    response = project.http.post("/v1/batch", json=[{"method": "event"}])
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request" and body["accepted"] == 0
    assert body["rejected"][0]["field"] == "contact_uid"
    assert len(project.stored.rejected()) == 1


def test_a_batch_must_be_an_array(project: Project) -> None:
    response = project.http.post("/v1/batch", json={"method": "contact", "contact_uid": "x"})
    assert response.status_code == 400
    assert response.json()["field"] == "body" and response.json()["rule"] == "array"


def test_invalid_json_names_the_parse_error(project: Project) -> None:
    response = project.http.post(
        "/v1/contact", content=b'{"contact_uid": "x", ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["rule"] == "json" and "line 1" in response.json()["message"]


def test_empty_body_is_400(project: Project) -> None:
    response = project.http.post("/v1/contact", content=b"", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_numeric_string_mrr_is_taken_as_the_number(project: Project) -> None:
    assert project.http.post("/v1/contact", json={"contact_uid": "u", "params": {"mrr": "49.5"}}).status_code == 201
    contact = project.stored.contact("u")
    assert contact is not None and contact["params"]["mrr"] == 49.5 and contact["mrr"] == [49.5]
