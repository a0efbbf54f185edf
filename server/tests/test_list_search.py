"""Lists: `q` on accounts finds the domain each account shows (from its params or its
contacts' company e-mail addresses), and `account_uid` filters the contacts list by membership."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support import Project, ServerProcess


def reader(server: ServerProcess, project: Project) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, auth=(project.token, project.secret), timeout=30)


def send(project: Project, items: list[dict[str, Any]]) -> None:
    answer = project.http.post("/v1/batch", json=items)
    assert answer.status_code == 201 and answer.json()["accepted"] == len(items), answer.text


def uids(answer: httpx.Response, key: str) -> list[str]:
    assert answer.status_code == 200, answer.text
    return sorted(row[key] for row in answer.json()["data"])


def test_accounts_q_matches_the_domain_each_account_shows(server: ServerProcess, project: Project) -> None:
    send(
        project,
        [
            {
                "method": "account",
                "account_uid": "a-url",
                "params": {"name": "Rockets", "website_url": "https://www.AcmeRockets.io/pricing"},
            },
            {
                "method": "account",
                "account_uid": "a-site",
                "params": {"name": "Site", "website": "http://umbrella-corp.net"},
            },
            {"method": "account", "account_uid": "a-mail", "params": {"name": "Mail"}},
            {
                "method": "contact",
                "contact_uid": "c-jane",
                "params": {"email": "jane@Hooli-Labs.com", "account_uid": "a-mail"},
            },
            {
                "method": "contact",
                "contact_uid": "c-joe",
                "params": {"email": "joe@gmail.com", "account_uid": "a-mail"},
            },
            {"method": "account", "account_uid": "a-free", "params": {"name": "Free"}},
            {
                "method": "contact",
                "contact_uid": "c-zeb",
                "params": {"email": "zebulon@gmail.com", "account_uid": "a-free"},
            },
        ],
    )
    with reader(server, project) as http:
        shown = {row["account_uid"]: row["domain"] for row in http.get("/v1/accounts?limit=100").json()["data"]}
        assert shown == {
            "a-url": "acmerockets.io",
            "a-site": "umbrella-corp.net",
            "a-mail": "hooli-labs.com",
            "a-free": None,
        }
        for q, expected in [
            ("acmerockets.io", ["a-url"]),
            ("ACMEROCKETS", ["a-url"]),
            ("umbrella-corp", ["a-site"]),
            ("hooli-labs.com", ["a-mail"]),
            ("hooli", ["a-mail"]),
        ]:
            assert uids(http.get("/v1/accounts", params={"q": q}), "account_uid") == expected, q
        # A free-mail provider is no company's domain, and the part before @ is a person's.
        assert uids(http.get("/v1/accounts", params={"q": "gmail"}), "account_uid") == []
        assert uids(http.get("/v1/accounts", params={"q": "zebulon"}), "account_uid") == []
        # Still found by uid and name, and combined with filters.
        assert uids(http.get("/v1/accounts", params={"q": "rockets"}), "account_uid") == ["a-url"]
        assert uids(http.get("/v1/accounts?q=hooli&name=Other"), "account_uid") == []


def test_contacts_list_filters_on_account_uid(server: ServerProcess, project: Project) -> None:
    send(
        project,
        [
            {"method": "account", "account_uid": "acme", "params": {"name": "Acme"}},
            {"method": "account", "account_uid": "globex", "params": {"name": "Globex"}},
            {"method": "contact", "contact_uid": "u1", "params": {"name": "One", "account_uid": "acme"}},
            {"method": "contact", "contact_uid": "u2", "params": {"name": "Two", "account_uid": "acme"}},
            {"method": "contact", "contact_uid": "u3", "params": {"name": "Three", "account_uid": "globex"}},
            {"method": "contact", "contact_uid": "u4", "params": {"name": "Four"}},
        ],
    )
    with reader(server, project) as http:

        def contacts(query: str) -> list[str]:
            return uids(http.get(f"/v1/contacts?{query}"), "contact_uid")

        assert contacts("account_uid=acme") == ["u1", "u2"]
        assert contacts("account_uid=globex&q=three") == ["u3"]
        assert contacts("account_uid!=acme") == ["u3", "u4"]
        assert contacts("account_uid=") == ["u4"]  # in no account
        assert contacts("account_uid!=") == ["u1", "u2", "u3"]  # in some account
        assert contacts("account_uid=no-such-account") == []
        # Keyset pages through a filtered list.
        first = http.get("/v1/contacts?account_uid=acme&limit=1&sort=contact_uid").json()
        second = http.get(
            f"/v1/contacts?account_uid=acme&limit=1&sort=contact_uid&cursor={first['next_cursor']}"
        ).json()
        assert [first["data"][0]["contact_uid"], second["data"][0]["contact_uid"]] == ["u1", "u2"]
        refused = http.get("/v1/contacts?account_uid>acme")
        assert refused.status_code == 400, refused.text
        assert refused.json()["field"] == "account_uid" and refused.json()["rule"] == "operator"
        # On the accounts list it is the account's own uid.
        assert uids(http.get("/v1/accounts?account_uid=globex"), "account_uid") == ["globex"]
