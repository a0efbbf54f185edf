"""Every request form of docs/wire.md and every error answer, in process: the same cases as
the end-to-end tests/test_wire_forms.py (imported from it, not copied), answered by the same
application without a socket, so a change to the wire is checked in seconds."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fast.conftest import InProcess
from tests.support import Project
from tests.test_wire_forms import ERRORS, FORMS, assert_error, basic


@pytest.mark.parametrize("name", list(FORMS))
def test_every_form_is_accepted_and_stored(inprocess: InProcess, project: Project, name: str) -> None:
    uid = f"form-{list(FORMS).index(name)}"
    request = FORMS[name](project, {"contact_uid": uid, "params": {"via": name}})
    response = inprocess.raw().request(
        request.method,
        request.path,
        headers=request.headers,
        params=request.params,
        content=request.content,
        files=request.files,
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"status": "success"}
    contact = project.stored.contact(uid)
    assert contact is not None and contact["params"] == {"via": name}


@pytest.mark.parametrize("name,build,status,code,headers", ERRORS, ids=[e[0] for e in ERRORS])
def test_each_error_has_its_status_headers_and_three_keys(
    inprocess: InProcess, project: Project, name: str, build: Any, status: int, code: str, headers: dict[str, Any]
) -> None:
    request = build(project)
    response = inprocess.raw().request(
        request.method, request.path, headers=request.headers, params=request.params, content=request.content
    )
    assert_error(response, status, code)
    for header, value in headers.items():
        assert header in response.headers
        if value is not None:
            assert response.headers[header] == value
    assert project.stored.count("contacts") == 0


def test_a_batch_stores_its_good_items_and_names_each_bad_one(project: Project) -> None:
    response = project.http.post(
        "/v1/batch",
        json=[
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme", "mrr": 99}},
            {"method": "event", "contact_uid": "ann", "event_uid": "signed_in", "params": {"account_uid": "acme"}},
            {"method": "event", "event_uid": "no contact"},
            {"method": "teleport", "contact_uid": "ann"},
        ],
    )
    assert response.status_code == 201
    body = response.json()
    assert body["accepted"] == 2
    assert [(r["index"], r["field"], r["rule"]) for r in body["rejected"]] == [
        (2, "contact_uid", "required"),
        (3, "method", "one_of"),
    ]
    assert [row.reason for row in project.stored.rejected()] and project.stored.count("rejected_items") == 2
    account = project.stored.account("acme")
    assert account is not None and account["params"]["name"] == "Acme"


def test_what_was_written_reads_back_through_the_read_api(project: Project) -> None:
    project.http.post("/v1/contact", json={"contact_uid": "c1", "params": {"email": "c1@example.com", "plan": "pro"}})
    project.http.post("/v1/track/event", json={"contact_uid": "c1", "event_uid": "export", "params": {"rows": 3}})
    project.http.post("/v1/alias", json={"contact_uid": "c1", "alias": "c1@example.com"})
    reader = (project.token, project.secret)
    profile = project.http.get("/v1/contacts/c1@example.com", auth=reader)
    assert profile.status_code == 200, profile.text
    assert profile.json()["params"]["plan"] == "pro"
    events = project.http.get("/v1/contacts/c1/events", auth=reader).json()
    assert [event["event_uid"] for event in events["data"]] == ["export"]


def test_ping_answers_with_any_accepted_credential_form(inprocess: InProcess, project: Project) -> None:
    raw = inprocess.raw()
    assert raw.get("/v1/ping", params={"api_token": project.token}).json() == {"status": "success"}
    assert raw.post("/v1/ping", headers=basic(project.token, "")).status_code == 200
    assert raw.post("/v1/ping", headers=basic("not-a-token", "")).status_code == 401
