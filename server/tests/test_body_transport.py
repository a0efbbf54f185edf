"""The body of a write, before it becomes items: credentials first, bounded forms, and every
refusal of the body itself kept where the developer looks (rejected_items, the Live page).

A body refused whole (not UTF-8, not JSON, too deep, too large, a batch that is no array) is
kept like a refused item once the project is known: its text cut to the item limit, its reason
naming the rule. A UTF-8 byte-order mark before JSON is accepted. Without valid credentials
nothing is decoded, and nothing is kept (no project to keep it for).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.dashboard_support import make_user, signed_in
from tests.support import Project, ServerProcess

JSON = {"content-type": "application/json"}
BOM = b"\xef\xbb\xbf"
MAX_ITEM_BYTES = 64 * 1024


def basic(username: str, password: str = "") -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def b64(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


# (name, path, request keywords, status, field, rule, a piece of what was sent that the kept raw shows)
BODY_REFUSALS: list[tuple[str, str, dict[str, Any], int, str, str, str]] = [
    (
        "invalid UTF-8",
        "/v1/contact",
        {"content": b'{"contact_uid":"caf\xe9"}', "headers": JSON},
        400,
        "body",
        "json",
        '{"contact_uid":"caf',
    ),
    (
        "a NUL byte (PostgreSQL's text refuses it)",
        "/v1/contact",
        {"content": b'{"contact_uid":"a\x00b"}', "headers": JSON},
        400,
        "body",
        "json",
        '"a\\x00b"',
    ),
    (
        "truncated JSON",
        "/v1/contact",
        {"content": b'{"contact_uid":"trunc', "headers": JSON},
        400,
        "body",
        "json",
        '{"contact_uid":"trunc',
    ),
    (
        "trailing garbage",
        "/v1/track/event",
        {"content": b'{"contact_uid":"c","event_uid":"e"} tail', "headers": JSON},
        400,
        "body",
        "json",
        '"event_uid":"e"} tail',
    ),
    (
        "nesting over 1,024",
        "/v1/contact",
        {"content": b'{"contact_uid":"deep","params":{"x":' + b"[" * 1100 + b"]" * 1100 + b"}}", "headers": JSON},
        400,
        "body",
        "json",
        '{"contact_uid":"deep"',
    ),
    (
        "1e400",
        "/v1/contact",
        {"content": b'{"contact_uid":"inf","params":{"x":1e400}}', "headers": JSON},
        400,
        "body",
        "json",
        '"x":1e400',
    ),
    ("an empty body", "/v1/contact", {"content": b"  ", "headers": JSON}, 400, "body", "required", ""),
    (
        "neither JSON nor a form",
        "/v1/contact",
        {"content": b"<contact uid='1'/>", "headers": {"content-type": "application/xml"}},
        406,
        "body",
        "json",
        "<contact uid='1'/>",
    ),
    (
        "bad base64 in a GET's data",
        "/v1/contact",
        {"params": {"data": "%%%not-base64"}},
        400,
        "data",
        "base64",
        "%%%not-base64",
    ),
    (
        "an unknown encode",
        "/v1/contact",
        {"params": {"data": "e30", "encode": "rot13"}},
        400,
        "encode",
        "one_of",
        "e30",
    ),
    (
        "JSON that is not JSON in a form's data",
        "/v1/contact",
        {
            "content": urlencode({"encode": "none", "data": '{"contact_uid":'}).encode(),
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        400,
        "data",
        "json",
        '{"contact_uid":',
    ),
    (
        "a batch that is not an array",
        "/v1/batch",
        {"content": b'{"contact_uid":"x"}', "headers": JSON},
        400,
        "body",
        "array",
        '{"contact_uid":"x"}',
    ),
    (
        "a batch over 2,500 items",
        "/v1/batch",
        {"content": json.dumps([{}] * 2501).encode(), "headers": JSON},
        413,
        "batch",
        "max_items",
        "[{}, {}",
    ),
    (
        "a body over 5 MiB",
        "/v1/contact",
        {"content": b'{"contact_uid":"big","params":{"x":"' + b"x" * (5 * 1024 * 1024) + b'"}}', "headers": JSON},
        413,
        "body",
        "max_size",
        "",
    ),
]


def send(project: Project, path: str, request: dict[str, Any]) -> httpx.Response:
    """A request as a client with the project's token sends it: Basic, or api_token in the query
    when the body is a form or there is none."""
    params = dict(request.get("params", {}))
    headers = dict(request.get("headers", {}))
    if "params" in request or headers.get("content-type", "").startswith("application/x-www-form"):
        params["api_token"] = project.token
        method = "GET" if "content" not in request else "POST"
    else:
        headers |= basic(project.token)
        method = "POST"
    with httpx.Client(base_url=project.http.base_url, timeout=60) as raw:
        return raw.request(method, path, params=params, headers=headers, content=request.get("content"))


@pytest.mark.parametrize("name,path,request_,status,field,rule,shown", BODY_REFUSALS, ids=[r[0] for r in BODY_REFUSALS])
def test_a_refused_body_is_kept_with_its_rule(
    project: Project, name: str, path: str, request_: dict[str, Any], status: int, field: str, rule: str, shown: str
) -> None:
    answer = send(project, path, request_)
    assert answer.status_code == status, answer.text[:300]
    assert (answer.json()["field"], answer.json()["rule"]) == (field, rule), answer.text[:300]
    [kept] = project.stored.rejected()
    assert kept.path == path and kept.item_index is None
    assert kept.code == answer.json()["code"] and kept.field == field
    assert f"rule: {rule}" in kept.reason, kept.reason
    assert shown in kept.raw, kept.raw[:200]
    assert len(kept.raw) <= MAX_ITEM_BYTES
    assert project.stored.count("contacts") == 0


def test_refused_bodies_show_on_the_live_page(server: ServerProcess, project: Project) -> None:
    for _name, path, request, *_ in BODY_REFUSALS[:4]:
        send(project, path, request)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        feed = browser.get(f"/p/{project.id}/live/feed").json()
        page = browser.get(f"/p/{project.id}/live").text
    assert len(feed["rejected"]) == 4
    assert all("rule: json" in r["reason"] and r["field"] == "body" for r in feed["rejected"])
    assert "rule: json" in page and "trunc" in page


def test_wrong_credentials_are_refused_before_the_body_is_read(project: Project) -> None:
    """401, not the body's own fault: the body of a stranger is not decoded (nor kept)."""
    with httpx.Client(base_url=project.http.base_url, timeout=30) as raw:
        wrong = raw.post("/v1/contact", content=b'{"contact_uid":', headers=JSON | basic("no-such-token"))
        assert wrong.status_code == 401, wrong.text
        none = raw.post("/v1/contact", content=b"\xff\xfe not json", headers={"content-type": "text/plain"})
        assert none.status_code == 401, none.text
        # A form may carry the token itself: it is read (bounded), then refused for want of one.
        form = raw.post(
            "/v1/contact",
            content=b"encode=none&data=%7B%7D",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 401, form.text
    assert project.stored.rejected() == []


def test_a_utf8_byte_order_mark_before_json_is_accepted(project: Project) -> None:
    with httpx.Client(base_url=project.http.base_url, timeout=30) as raw:
        for i, content_type in enumerate(["application/json", "text/plain;charset=UTF-8", None]):
            body = BOM + json.dumps({"contact_uid": f"bom-{i}", "params": {"n": i}}).encode()
            headers = basic(project.token) | ({"content-type": content_type} if content_type else {})
            answer = raw.post("/v1/contact", content=body, headers=headers)
            assert answer.status_code == 201, answer.text
        batch = BOM + json.dumps([{"method": "contact", "contact_uid": "bom-batch"}]).encode()
        assert raw.post("/v1/batch", content=batch, headers=JSON | basic(project.token)).status_code == 201
        legacy = {"api_token": project.token, "encode": "none", "data": (BOM.decode() + '{"contact_uid":"bom-form"}')}
        assert raw.post("/v1/contact", data=legacy).status_code == 201
        based = base64.b64encode(BOM + b'{"contact_uid":"bom-get"}').decode()
        assert raw.get("/v1/contact", params={"api_token": project.token, "data": based}).status_code == 201
    for uid in ("bom-0", "bom-1", "bom-2", "bom-batch", "bom-form", "bom-get"):
        assert project.stored.contact(uid) is not None, uid
    assert project.stored.rejected() == []


@pytest.mark.parametrize("transport", ["multipart", "urlencoded"])
def test_a_form_with_too_many_fields_is_refused_by_name(project: Project, transport: str) -> None:
    fields = [("api_token", project.token), ("data", b64({"contact_uid": "many"}))] + [("f", "x")] * 10_000
    with httpx.Client(base_url=project.http.base_url, timeout=60) as raw:
        if transport == "multipart":
            body = (
                b"".join(
                    b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v.encode())
                    for k, v in fields
                )
                + b"--b--\r\n"
            )
            answer = raw.post("/v1/contact", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
        else:
            answer = raw.post(
                "/v1/contact",
                content=urlencode(fields).encode(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
    assert answer.status_code == 400, answer.text[:300]
    assert (answer.json()["field"], answer.json()["rule"]) == ("body", "max_fields")
    assert project.stored.contact("many") is None


def test_multipart_fields_are_read_as_sent(project: Project) -> None:
    """What the bounded multipart reader must get right: quoted and bare boundaries, a value
    holding the boundary mid-line, extra fields and a file part, preamble and epilogue."""
    data = json.dumps({"contact_uid": "mp", "params": {"note": "a --xyz b\r\n-- not a boundary"}})
    body = (
        b'preamble\r\n--xyz\r\nContent-Disposition: form-data; name="api_token"\r\n\r\n'
        + project.token.encode()
        + b"\r\n--xyz\r\nContent-Disposition: form-data; name=encode\r\n\r\nnone"
        + b'\r\n--xyz\r\nContent-Disposition: form-data; name="upload"; filename="data.txt"\r\n'
        + b"Content-Type: text/plain\r\n\r\nnot the data field"
        + b'\r\n--xyz\r\nContent-Disposition: form-data; name="data"\r\n\r\n'
        + data.encode()
        + b"\r\n--xyz--\r\nepilogue"
    )
    with httpx.Client(base_url=project.http.base_url, timeout=30) as raw:
        for content_type in ('multipart/form-data; boundary="xyz"', "multipart/form-data; charset=utf-8; boundary=xyz"):
            answer = raw.post("/v1/contact", content=body, headers={"content-type": content_type})
            assert answer.status_code == 201, answer.text
        no_boundary = raw.post("/v1/contact", content=body, headers={"content-type": "multipart/form-data"})
        assert no_boundary.status_code == 400 and no_boundary.json()["rule"] == "multipart", no_boundary.text
    contact = project.stored.contact("mp")
    assert contact is not None and contact["params"] == {"note": "a --xyz b\r\n-- not a boundary"}
