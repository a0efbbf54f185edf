"""Every request form of docs/wire.md, sent as the clients in the field send it, and what was stored.

Each case builds one raw HTTP request (credentials, transport, keys) for a contact update of
uid `form-<n>`; the test checks the answer and that the contact is stored with its params.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
import pytest

from tests.support import Project

Build = Callable[[Project, dict], "Req"]


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    files: dict | None = None
    data: dict | None = None


def basic(user: str, password: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def b64(body: dict) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()


JSON = {"Content-Type": "application/json"}

FORMS: dict[str, Build] = {
    # Credentials
    "basic token, empty password (curl -u TOKEN:)": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.token, "") | JSON, content=json.dumps(b).encode()
    ),
    "basic token twice (Ruby client)": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.token, p.token) | JSON, content=json.dumps(b).encode()
    ),
    "basic token and secret (Python, PHP)": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.token, p.secret) | JSON, content=json.dumps(b).encode()
    ),
    "basic secret alone (old PHP client)": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.secret, "") | JSON, content=json.dumps(b).encode()
    ),
    "basic whose credentials end with a newline (Ruby encode64)": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.token, p.token + "\n") | JSON, content=json.dumps(b).encode()
    ),
    "basic base64 broken by white space (a folded header)": lambda p, b: Req(
        "POST",
        "/v1/contact",
        {
            "Authorization": basic(p.token, p.token)["Authorization"][:30]
            + " \t "
            + basic(p.token, p.token)["Authorization"][30:]
        }
        | JSON,
        content=json.dumps(b).encode(),
    ),
    "api_token in the query": lambda p, b: Req(
        "POST", "/v1/contact", JSON, params={"api_token": p.token}, content=json.dumps(b).encode()
    ),
    # Legacy transports
    "GET with api_token, encode=base64, _method=post, data": lambda p, b: Req(
        "GET", "/v1/contact", params={"api_token": p.token, "encode": "base64", "_method": "post", "data": b64(b)}
    ),
    "GET with url-safe base64 and no padding": lambda p, b: Req(
        "GET",
        "/v1/contact",
        params={"api_token": p.token, "data": base64.urlsafe_b64encode(json.dumps(b).encode()).decode().rstrip("=")},
    ),
    "form POST, base64 data": lambda p, b: Req(
        "POST",
        "/v1/contact",
        {"Content-Type": "application/x-www-form-urlencoded"},
        content=urlencode({"api_token": p.token, "encode": "base64", "data": b64(b)}).encode(),
    ),
    "form POST, base64 wrapped in JSON quotes": lambda p, b: Req(
        "POST",
        "/v1/contact",
        {"Content-Type": "application/x-www-form-urlencoded"},
        content=urlencode({"api_token": p.token, "encode": "base64", "data": f'"{b64(b)}"'}).encode(),
    ),
    "form POST, encode=none": lambda p, b: Req(
        "POST",
        "/v1/contact",
        {"Content-Type": "application/x-www-form-urlencoded"},
        content=urlencode({"api_token": p.token, "encode": "none", "data": json.dumps(b)}).encode(),
    ),
    "multipart POST, base64 data": lambda p, b: Req(
        "POST", "/v1/contact", files={"api_token": (None, p.token), "encode": (None, "base64"), "data": (None, b64(b))}
    ),
    "multipart POST, basic auth, encode=none": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.token, ""), files={"encode": (None, "none"), "data": (None, json.dumps(b))}
    ),
    "JSON under curl's default form type": lambda p, b: Req(
        "POST",
        "/v1/contact",
        basic(p.token, "") | {"Content-Type": "application/x-www-form-urlencoded"},
        content=json.dumps(b).encode(),
    ),
    "JSON as text/plain (a browser beacon)": lambda p, b: Req(
        "POST",
        "/v1/contact",
        {"Content-Type": "text/plain;charset=UTF-8"},
        params={"api_token": p.token},
        content=json.dumps(b).encode(),
    ),
    "JSON with no content type": lambda p, b: Req(
        "POST", "/v1/contact", basic(p.token, ""), content=json.dumps(b).encode()
    ),
    # Legacy keys
    "unique_id for contact_uid": lambda p, b: Req(
        "POST",
        "/v1/contact",
        basic(p.token, "") | JSON,
        content=json.dumps({"unique_id": b["contact_uid"], "params": b["params"]}).encode(),
    ),
}


@pytest.mark.parametrize("name", list(FORMS))
def test_every_form_is_accepted_and_stored(project: Project, name: str) -> None:
    uid = f"form-{list(FORMS).index(name)}"
    body = {"contact_uid": uid, "params": {"via": name}}
    request = FORMS[name](project, body)
    with httpx.Client(base_url=project.http.base_url, timeout=30) as raw:
        response = raw.request(
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


def test_legacy_event_key_and_epoch_created_at(project: Project) -> None:
    response = project.http.post(
        "/v1/track/event", json={"unique_id": "old", "event": "legacy", "created_at": 1357000000}
    )
    assert response.status_code == 201
    contact = project.stored.contact("old")
    assert contact is not None
    [event] = contact["events"]
    assert event["name"] == "legacy" and event["occurred_at"].isoformat() == "2013-01-01T00:26:40"


def test_ping_with_get_and_method_get(project: Project) -> None:
    with httpx.Client(base_url=project.http.base_url) as raw:
        assert raw.get("/v1/ping", params={"api_token": project.token, "_method": "get"}).json() == {
            "status": "success"
        }
        assert raw.get("/v1/ping", headers=basic(project.token, "")).status_code == 200


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert body["error"] == body["message"] and body["message"]
    return body


ERRORS = [
    # (name, request builder, status, code, headers that must be present)
    (
        "no credentials",
        lambda p: Req("POST", "/v1/contact", JSON, content=b'{"contact_uid":"x"}'),
        401,
        "unauthorized",
        {"www-authenticate": 'Basic realm="salesmachine"'},
    ),
    (
        "unknown token",
        lambda p: Req("POST", "/v1/contact", basic("nope", "") | JSON, content=b'{"contact_uid":"x"}'),
        401,
        "unauthorized",
        {"www-authenticate": 'Basic realm="salesmachine"'},
    ),
    (
        "token with a wrong password",
        lambda p: Req("POST", "/v1/contact", basic(p.token, "wrong") | JSON, content=b'{"contact_uid":"x"}'),
        401,
        "unauthorized",
        {"www-authenticate": 'Basic realm="salesmachine"'},
    ),
    (
        "unknown api_token",
        lambda p: Req("GET", "/v1/ping", params={"api_token": "nope"}),
        401,
        "unauthorized",
        {"www-authenticate": 'Basic realm="salesmachine"'},
    ),
    ("secret with a password", lambda p: Req("POST", "/v1/ping", basic(p.secret, p.secret)), 401, "unauthorized", {}),
    (
        "broken base64 in Basic",
        lambda p: Req("POST", "/v1/ping", {"Authorization": "Basic !!!"}),
        401,
        "unauthorized",
        {},
    ),
    ("unknown path", lambda p: Req("POST", "/v1/people", basic(p.token, "")), 404, "not_found", {}),
    ("unknown path outside /v1", lambda p: Req("GET", "/wp-login.php"), 404, "not_found", {}),
    (
        "wrong method",
        lambda p: Req("DELETE", "/v1/contact", basic(p.token, "")),
        405,
        "method_not_allowed",
        {"allow": None},
    ),
    ("PUT on batch", lambda p: Req("PUT", "/v1/batch", basic(p.token, "")), 405, "method_not_allowed", {"allow": None}),
    (
        "neither JSON nor a legacy form",
        lambda p: Req(
            "POST",
            "/v1/contact",
            basic(p.token, "") | {"Content-Type": "application/xml"},
            content=b"<contact uid='1'/>",
        ),
        406,
        "not_acceptable",
        {},
    ),
    (
        "a GET write without data",
        lambda p: Req("GET", "/v1/contact", params={"api_token": p.token}),
        400,
        "bad_request",
        {},
    ),
    (
        "bad base64 in data",
        lambda p: Req("GET", "/v1/contact", params={"api_token": p.token, "data": "%%%"}),
        400,
        "bad_request",
        {},
    ),
    (
        "unknown encode",
        lambda p: Req("GET", "/v1/contact", params={"api_token": p.token, "data": "e30", "encode": "rot13"}),
        400,
        "bad_request",
        {},
    ),
    (
        "body over 5 MiB",
        lambda p: Req(
            "POST", "/v1/batch", basic(p.token, "") | JSON, content=b"[" + b'{"method":"event"},' * 300_000 + b"{}]"
        ),
        413,
        "payload_too_large",
        {},
    ),
    (
        "batch over 2,500 items",
        lambda p: Req("POST", "/v1/batch", basic(p.token, "") | JSON, content=json.dumps([{}] * 2501).encode()),
        413,
        "payload_too_large",
        {},
    ),
]


@pytest.mark.parametrize("name,build,status,code,headers", ERRORS, ids=[e[0] for e in ERRORS])
def test_each_error_has_its_status_headers_and_three_keys(
    project: Project,
    name: str,
    build,
    status: int,
    code: str,
    headers: dict,  # type: ignore[no-untyped-def]
) -> None:
    request = build(project)
    with httpx.Client(base_url=project.http.base_url, timeout=30) as raw:
        response = raw.request(
            request.method, request.path, headers=request.headers, params=request.params, content=request.content
        )
    assert_error(response, status, code)
    for header, value in headers.items():
        assert header in response.headers
        if value is not None:
            assert response.headers[header] == value
    assert project.stored.count("contacts") == 0


def test_an_item_over_the_item_limit_is_refused_by_index(project: Project) -> None:
    items = [
        {"method": "event", "contact_uid": "big", "event_uid": "e", "params": {"blob": "x" * 70_000}},
        {"method": "event", "contact_uid": "small", "event_uid": "e"},
    ]
    response = project.http.post("/v1/batch", json=items)
    assert response.status_code == 201
    assert [(r["index"], r["rule"]) for r in response.json()["rejected"]] == [(0, "max_size")]
    assert project.stored.contact("small") is not None and project.stored.contact("big") is None


def test_cors_on_write_paths_and_preflight(project: Project) -> None:
    with httpx.Client(base_url=project.http.base_url) as raw:
        preflight = raw.options(
            "/v1/batch",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert preflight.headers["access-control-allow-headers"] == "content-type"
        posted = raw.post(
            "/v1/track/event",
            params={"api_token": project.token},
            headers={"Origin": "https://app.example"},
            content=b'{"contact_uid":"c","event_uid":"e"}',
        )
        assert posted.status_code == 201 and posted.headers["access-control-allow-origin"] == "*"
        refused = raw.post("/v1/contact", headers={"Origin": "https://app.example"}, content=b"{}")
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"
        assert refused.headers["access-control-expose-headers"] == "Retry-After"  # readable on 429/503
