"""No credential of one project reaches anything of another through the API.

Project B holds data marked with a string found nowhere else. Every credential of project A,
alone and mixed with B's, is tried on every read endpoint (nothing of B may show, and reads
need A's token and secret together), on every write (a uid B also uses is A's own in A), on
alias (aliasing into a uid of B joins nothing of B), and on B's list cursors. Afterwards
everything B's own credentials read is exactly what it was before.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.support import Project, ServerProcess, StoredData, health_settled, make_project, wait_for

MARK = "bbbmarker"  # in every uid, key and value of project B, and in none of A's
B_MRR = 98765
READ_PATHS = [
    "/v1/contacts",
    "/v1/contacts?limit=1",
    f"/v1/contacts?q={MARK}",
    f"/v1/contacts?params.tag={MARK}",
    "/v1/contacts/shared",
    f"/v1/contacts/{MARK}-only",
    "/v1/contacts/shared/events",
    f"/v1/contacts/{MARK}-only/events",
    "/v1/accounts",
    f"/v1/accounts/{MARK}-acct",
    f"/v1/accounts/{MARK}-acct/events",
    "/v1/accounts/shared-acct",
    "/v1/accounts/shared-acct/events",
    "/v1/events",
    "/v1/events?limit=1",
    "/v1/export/contacts",
    "/v1/export/accounts",
    "/v1/export/events",
    "/v1/export/contacts?format=csv",
    "/v1/revenue",
]


@dataclass
class Other:
    token: str
    secret: str
    id: int
    stored: StoredData


@pytest.fixture
def other(server: ServerProcess) -> Iterator[Other]:
    """Project B, with contacts, an account shared by name with A, events and revenue."""
    created, secret = make_project(server.database_url)
    b = Other(created.token, secret, created.id, StoredData(server.database_url, created.id))
    with httpx.Client(base_url=server.base_url, auth=(b.token, ""), timeout=30) as http:
        for path, body in [
            (
                "/v1/contact",
                {"contact_uid": "shared", "params": {"tag": MARK, "mrr": B_MRR, "account_uid": "shared-acct"}},
            ),
            ("/v1/contact", {"contact_uid": f"{MARK}-only", "params": {MARK: MARK, "account_uid": f"{MARK}-acct"}}),
            ("/v1/account", {"account_uid": "shared-acct", "params": {"name": MARK, "mrr": B_MRR}}),
            ("/v1/track/event", {"contact_uid": "shared", "event_uid": f"{MARK}-event", "params": {MARK: 1}}),
            ("/v1/track/event", {"contact_uid": f"{MARK}-only", "event_uid": "login", "messageId": f"{MARK}-m1"}),
            ("/v1/alias", {"contact_uid": f"{MARK}-only", "alias": f"{MARK}-alias"}),
        ]:
            assert http.post(path, json=body).status_code == 201
    # B's health history (profiles' `since`, lists' bands) settles before B is read.
    wait_for(lambda: health_settled(b))
    yield b
    b.stored.close()


def test_no_credential_of_one_project_reaches_another(project: Project, other: Other, server: ServerProcess) -> None:
    a = project
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for path, body in [
            ("/v1/contact", {"contact_uid": "shared", "params": {"tag": "mine"}}),
            ("/v1/account", {"account_uid": "shared-acct", "params": {"name": "mine"}}),
            ("/v1/track/event", {"contact_uid": "shared", "event_uid": "mine"}),
        ]:
            assert http.post(path, json=body, auth=(a.token, "")).status_code == 201
        b_before = _everything(http, other.token, other.secret)
        b_cursor = http.get("/v1/contacts?limit=1", auth=(other.token, other.secret)).json()["next_cursor"]
        assert b_cursor

        # Reads: A's token and secret see only A; any other credential is refused.
        for path in [*READ_PATHS, f"/v1/contacts?limit=1&cursor={b_cursor}", f"/v1/events?limit=1&cursor={b_cursor}"]:
            for answer in (
                http.get(path, auth=(a.token, a.secret)),
                http.get(path, auth=(a.token, a.secret), params={"api_token": other.token}),
            ):
                if answer.status_code in (400, 404):  # may name the uid or parameter asked for
                    assert answer.json()["code"] in ("bad_request", "not_found"), (path, answer.text)
                    continue
                assert answer.status_code == 200, (path, answer.text)
                assert MARK not in answer.text and str(B_MRR) not in answer.text, (path, answer.text[:500])
            for credentials in _refused_read_credentials(a, other):
                refused = http.get(path, headers=credentials)
                assert refused.status_code == 401, (path, credentials, refused.text)

        # Writes with A's credentials, naming B's uids, land in A; mixed credentials are refused.
        for auth in [(a.token, ""), (a.token, a.token), (a.token, a.secret), (a.secret, "")]:
            assert (
                http.post(
                    "/v1/contact",
                    auth=auth,
                    json={
                        "contact_uid": f"{MARK}-only",
                        "params": {"written_by": "a"},
                        "api_token": other.token,
                        "project_id": 1,
                    },
                ).status_code
                == 201
            )
            assert (
                http.post(
                    "/v1/track/event",
                    auth=auth,
                    json={"contact_uid": f"{MARK}-alias", "event_uid": "a-event", "messageId": f"{MARK}-m1"},
                ).status_code
                == 201
            )
            assert (
                http.post(
                    "/v1/batch",
                    auth=auth,
                    json=[
                        {"method": "account", "account_uid": f"{MARK}-acct", "params": {"written_by": "a"}},
                        {"method": "event", "contact_uid": "shared", "event_uid": "a-batch"},
                    ],
                ).status_code
                == 201
            )
        for auth in [(a.token, other.secret), (other.secret, a.secret), (a.token, "wrong")]:
            answer = http.post("/v1/contact", auth=auth, json={"contact_uid": "shared", "params": {"x": 1}})
            assert answer.status_code == 401, (auth, answer.text)

        # Alias into B's uids: joins A's contacts only.
        for body in [
            {"contact_uid": "shared", "alias": f"{MARK}-only"},
            {"contact_uid": f"{MARK}-alias", "alias": "shared"},
        ]:
            assert http.post("/v1/alias", auth=(a.token, ""), json=body).status_code == 201

        # A's own view: what A wrote, merged as A's alias said, without anything of B.
        mine = http.get("/v1/contacts/shared", auth=(a.token, a.secret)).json()
        assert mine["params"]["tag"] == "mine" and mine["params"]["written_by"] == "a"
        assert sorted(mine["aliases"]) == sorted([f"{MARK}-only", f"{MARK}-alias"])
        events = http.get("/v1/contacts/shared/events", auth=(a.token, a.secret)).json()["data"]
        assert {e["event_uid"] for e in events} == {"mine", "a-event", "a-batch"}

        # B reads exactly what it read before A did all that.
        assert _everything(http, other.token, other.secret) == b_before


def _everything(http: httpx.Client, token: str, secret: str) -> dict[str, object]:
    """What a project's credentials read on every read endpoint (volatile fields dropped)."""
    seen: dict[str, object] = {}
    for path in READ_PATHS:
        answer = http.get(path, auth=(token, secret))
        assert answer.status_code in (200, 404), (path, answer.text)
        seen[path] = (answer.status_code, answer.text)
    return seen


def _refused_read_credentials(a: Project, b: Other) -> list[dict[str, str]]:
    def basic(user: str, password: str) -> dict[str, str]:
        return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    return [
        {},
        basic(a.token, ""),  # writing credentials do not read
        basic(a.token, a.token),
        basic(a.secret, ""),
        basic(a.token, b.secret),  # one project's token with another's secret
        basic(b.token, a.secret),
        basic(a.secret, b.secret),
    ]
