"""Strings meant to break a query or a page are data like any other: stored as sent and read
back as sent, through every string field. Bytes that are not UTF-8 are refused by name (4xx),
never a 500, wherever they come in: body, header, query, path.

(The dashboard's escaping of the same strings is the dashboard's tests' to prove.)
"""

from __future__ import annotations

import base64
from urllib.parse import quote

import httpx
import pytest

from tests.support import Project, path_part

NASTY = [
    "'; DROP TABLE contacts; --",
    '" OR "1"="1',
    "1' OR '1'='1' /*",
    "Robert'); DELETE FROM events WHERE ('a'='a",
    "$1; SELECT pg_sleep(10); --",
    "%s%s%s %n {0} {} :name ? ?1",
    "\\'; \\\\ \\x00",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(document.cookie)>",
    '"><svg/onload=alert(1)>&amp;&lt;',
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "Ω≈ç√∫˜µ≤≥÷ 𝕳𝖊𝖑𝖑𝖔 \u202e\u200b",
]


def _reader(project: Project) -> httpx.Client:
    return httpx.Client(base_url=str(project.http.base_url), auth=(project.token, project.secret), timeout=30)


@pytest.mark.parametrize("index", range(len(NASTY)))
def test_sql_and_html_in_every_string_field_are_stored_and_read_back_literally(project: Project, index: int) -> None:
    nasty = NASTY[index]
    uid, account_uid, alias, event = f"c {nasty}", f"a {nasty}", f"alias {nasty}", f"e {nasty}"
    writes = [
        ("/v1/account", {"account_uid": account_uid, "params": {"name": nasty, nasty: nasty}}),
        (
            "/v1/contact",
            {
                "contact_uid": uid,
                "messageId": f"m1 {nasty}",
                "params": {"email": nasty, nasty: [nasty, {nasty: nasty}], "account_uid": account_uid},
            },
        ),
        (
            "/v1/track/event",
            {
                "contact_uid": uid,
                "event_uid": event,
                "messageId": f"m2 {nasty}",
                "params": {nasty: nasty, "account_uid": account_uid},
            },
        ),
        (
            "/v1/track/pageview",
            {"contact_uid": uid, "params": {"url": f"https://example.test/?q={nasty}", "title": nasty}},
        ),
        ("/v1/alias", {"contact_uid": uid, "alias": alias}),
    ]
    for path, body in writes:
        answer = project.http.post(path, json=body)
        assert answer.status_code == 201, (path, answer.text)

    with _reader(project) as read:
        contact = read.get(f"/v1/contacts/{quote(uid, safe='')}")
        assert contact.status_code == 200, contact.text
        profile = contact.json()
        assert profile["contact_uid"] == uid
        assert profile["aliases"] == [alias]
        assert profile["params"]["email"] == nasty
        assert profile["params"][nasty] == [nasty, {nasty: nasty}]
        assert [a["account_uid"] for a in profile["accounts"]] == [account_uid]
        assert read.get(f"/v1/contacts/{quote(alias, safe='')}").json()["contact_uid"] == uid

        timeline = read.get(f"/v1/contacts/{quote(uid, safe='')}/events").json()["data"]
        named = {e["event_uid"]: e for e in timeline}
        assert named[event]["params"][nasty] == nasty
        assert named[event]["message_id"] == f"m2 {nasty}"
        assert named["pageview"]["params"]["title"] == nasty

        account = read.get(f"/v1/accounts/{quote(account_uid, safe='')}").json()
        assert account["account_uid"] == account_uid
        assert account["params"] == {"name": nasty, nasty: nasty}

        # As a filter value it selects by equality, not by what it would do in SQL.
        matching = read.get("/v1/contacts", params={"params.email": nasty}).json()["data"]
        assert [c["contact_uid"] for c in matching] == [uid]

    stored = project.stored.contact(uid)
    assert stored is not None and stored["params"]["email"] == nasty


# Uids as clients put them in a path (support.path_part): percent-encoded whole, so that a "/"
# is "%2F" and the uid one segment, even when the rest of it looks like a route.
PATH_UIDS = [
    "acme/eu",
    "a/b/c",
    "/leading",
    "trailing/",
    "a//b",
    "x/events",
    "events",
    "a b",
    "what?x=1",
    "#frag",
    "50%",
    "%2F",
    "a%20b",
    "Ω/≈ 𝕳",
    ".",
    "..",
    "../x",
    "a\\b",
    "+plus+",
    "semi;colon",
    "at@colon:",
]


def test_any_uid_is_read_back_through_its_percent_encoded_path(project: Project) -> None:
    items = []
    for n, uid in enumerate(PATH_UIDS):
        items += [
            {"method": "account", "account_uid": uid, "params": {"n": n}},
            {"method": "contact", "contact_uid": uid, "params": {"n": n, "account_uid": uid}},
            {"method": "event", "contact_uid": uid, "event_uid": f"e{n}", "params": {"account_uid": uid}},
        ]
    answer = project.http.post("/v1/batch", json=items)
    assert answer.status_code == 201 and answer.json()["accepted"] == len(items), answer.text
    with _reader(project) as read:
        for n, uid in enumerate(PATH_UIDS):
            for kind in ("contacts", "accounts"):
                profile = read.get(f"/v1/{kind}/{path_part(uid)}")
                assert profile.status_code == 200, (uid, kind, profile.text)
                assert profile.json()[f"{kind[:-1]}_uid"] == uid
                assert profile.json()["params"]["n"] == n
                timeline = read.get(f"/v1/{kind}/{path_part(uid)}/events")
                assert timeline.status_code == 200, (uid, kind, timeline.text)
                assert [e["event_uid"] for e in timeline.json()["data"]] == [f"e{n}"], (uid, kind)
        # "x/events" is a uid, not the timeline of "x"; "events" is a uid, not a missing one.
        assert read.get("/v1/contacts/x/events").status_code == 404
        assert read.get("/v1/contacts/x%2Fevents").json()["contact_uid"] == "x/events"
        assert read.get("/v1/contacts/events/events").json()["data"][0]["contact_uid"] == "events"
        # Lower-case escapes and escapes of characters that need none are the same uid.
        assert read.get("/v1/accounts/acme%2feu").json()["account_uid"] == "acme/eu"
        assert read.get("/v1/accounts/%61cme%2Feu").json()["account_uid"] == "acme/eu"
        # A slash left unencoded separates segments: a path no route takes.
        unencoded = read.get("/v1/contacts/a/b/c")
        assert unencoded.status_code == 404 and unencoded.json()["message"] == "no such endpoint"
        missing = read.get("/v1/contacts/nobody%2Fhere")
        assert missing.status_code == 404 and missing.json()["message"] == "no contact has the uid 'nobody/here'"


INVALID_UTF8 = b"\xff\xfe\xc3\x28\xed\xa0\x80"


def test_bytes_that_are_not_utf8_are_refused_by_name_wherever_they_come(project: Project) -> None:
    base = str(project.http.base_url)
    token = project.token.encode()
    auth = b"Basic " + base64.b64encode(token + b":")
    cases: list[tuple[str, str, dict[bytes, bytes] | dict[str, str], bytes]] = [
        (
            "POST",
            "/v1/contact",
            {b"authorization": auth, b"content-type": b"application/json"},
            b'{"contact_uid":"' + INVALID_UTF8 + b'","params":{}}',
        ),
        (
            "POST",
            "/v1/batch",
            {b"authorization": auth, b"content-type": b"application/json"},
            b'[{"method":"event","contact_uid":"u","event_uid":"' + INVALID_UTF8 + b'"}]',
        ),
        ("POST", "/v1/contact", {b"authorization": b"Basic " + base64.b64encode(INVALID_UTF8 + b":")}, b"{}"),
        ("POST", "/v1/contact", {b"authorization": b"Basic " + INVALID_UTF8}, b"{}"),
        (
            "POST",
            "/v1/contact",
            {b"content-type": b"application/x-www-form-urlencoded"},
            b"api_token=" + token + b"&data=" + quote(INVALID_UTF8).encode(),
        ),
        (
            "POST",
            "/v1/contact",
            {b"content-type": b"application/x-www-form-urlencoded"},
            b"api_token=" + token + b"&encode=base64&data=" + base64.b64encode(INVALID_UTF8),
        ),
        (
            "GET",
            "/v1/contact?api_token="
            + project.token
            + "&data="
            + quote(base64.b64encode(b'{"contact_uid":"' + INVALID_UTF8 + b'"}'))
            + "&encode=base64&_method=post",
            {},
            b"",
        ),
        ("GET", "/v1/ping?api_token=%FF%FE", {}, b""),
    ]
    with httpx.Client(base_url=base, timeout=30) as http:
        for method, path, headers, body in cases:
            answer = http.request(method, path, headers=headers, content=body)
            assert 400 <= answer.status_code < 500, (path, headers, body, answer.status_code, answer.text)
            assert set(answer.json()) >= {"error", "code", "message"}, answer.text
        with _reader(project) as read:
            for path in (
                "/v1/contacts/%FF%FE",
                "/v1/accounts/%C3%28/events",
                "/v1/contacts?q=%FF",
                "/v1/contacts?params.%FF=%FE",
            ):
                answer = read.get(path)
                assert answer.status_code in (200, 400, 404), (path, answer.status_code, answer.text)
                assert "Traceback" not in answer.text
            for path, rule in (
                ("/v1/contacts/%FF%FE", "utf8"),
                ("/v1/contacts/a%ED%A0%80", "utf8"),
                ("/v1/accounts/%C3%28/events", "utf8"),
                ("/v1/contacts/a%00b", "no_nul"),
                ("/v1/accounts/%00/events", "no_nul"),
            ):
                answer = read.get(path)
                assert answer.status_code == 400, (path, answer.text)
                assert answer.json()["field"] == "uid" and answer.json()["rule"] == rule, answer.text
