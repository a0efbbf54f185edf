"""The Python examples of the API document, as written, against the real server.

Only the credentials change (and the server's address, which the document's code does not
name: it comes from SALESMACHINE_HOST, so the code itself stays exactly as printed).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

import salesmachine
from sm_harness import Project, Server, Stored

CONTACT_PARAMS = {
    "email": "elon@teslamotors.com",
    "name": "Elon Musk",
    "gender": "male",
    "mrr": 99,
    "account_uid": "78910",
}
ACCOUNT_PARAMS = {
    "name": "Tesla Motors",
    "employee_count": 10,
    "website_url": "http://www.teslamotors.com",
    "mrr": 999,
}
EVENT_PARAMS = {"account_uid": "78910", "display_name": "Registration"}
PAGEVIEW_PARAMS = {
    "account_uid": "78910",
    "visit_ip": "0.0.0.0",
    "visit_url": "/home",
    "visit_agent": "Mozilla/5.0 (Windows NT 6.2; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1667.0 Safari/537.36",
}


def contains(stored: dict[str, Any], sent: dict[str, Any]) -> bool:
    """Every key sent is stored with the value sent (the server may add derived keys)."""
    return all(stored.get(key) == value for key, value in sent.items())


@pytest.fixture
def document_host(server: Server, monkeypatch: pytest.MonkeyPatch, module_settings: None) -> None:
    monkeypatch.setenv("SALESMACHINE_HOST", server.url)


def test_every_python_example_is_stored_as_sent(document_host: None, server: Server, fresh_project: Project) -> None:
    YOUR_API_TOKEN, YOUR_API_SECRET = fresh_project.token, fresh_project.secret  # noqa: N806 - the document's names
    stored = Stored(server.db_path, fresh_project.id)
    before = datetime.utcnow() - timedelta(seconds=5)

    # Install
    from salesmachine.client import Client
    smclient = Client(YOUR_API_TOKEN, YOUR_API_SECRET)

    # Contact
    smclient.set_contact("123456", {
        "email": "elon@teslamotors.com",
        "name": "Elon Musk",
        "gender": "male",
        "mrr": 99,
        "account_uid": "78910"
    })

    # Account: the document shows this one through the module-level API.
    salesmachine.key, salesmachine.secret = YOUR_API_TOKEN, YOUR_API_SECRET
    salesmachine.set_account("78910", {
        "name": "Tesla Motors",
        "employee_count": 10,
        "website_url": "http://www.teslamotors.com",
        "mrr": 999,
    })

    # Event
    smclient.track_event("123456", "user_registration", {
        "account_uid" : "78910",
        "display_name" : "Registration"
    })

    # Pageview: the document calls its client `sm` here.
    sm = smclient
    sm.track_pageview("123456", {
        "account_uid" : "78910",
        "visit_ip": "0.0.0.0",
        "visit_url": "/home",
        "visit_agent": "Mozilla/5.0 (Windows NT 6.2; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1667.0 Safari/537.36"
    })

    assert smclient.flush(timeout=10) and salesmachine.flush(timeout=10)
    assert salesmachine.default_client is not None
    assert smclient.host == salesmachine.default_client.host == server.url

    contact = stored.contact("123456")
    assert contact is not None
    assert contains(contact["params"], {k: v for k, v in CONTACT_PARAMS.items() if k != "account_uid"})
    assert contact["accounts"] == {"78910"}

    account = stored.account("78910")
    assert account is not None
    assert contains(account["params"], ACCOUNT_PARAMS)
    assert account["contacts"] == {"123456"}

    event, pageview = stored.events()
    assert (event["name"], event["kind"], event["contact_uid"], event["account_uid"]) == (
        "user_registration", "event", "123456", "78910")
    assert contains(event["params"], {"display_name": "Registration"})
    assert (pageview["name"], pageview["kind"], pageview["contact_uid"], pageview["account_uid"]) == (
        "pageview", "pageview", "123456", "78910")
    assert contains(pageview["params"], {k: v for k, v in PAGEVIEW_PARAMS.items() if k != "account_uid"})
    for row in (event, pageview):
        assert before <= row["occurred_at"] <= datetime.utcnow() + timedelta(seconds=5)
    smclient.shutdown()


def test_alias_merges_two_uids_into_one_contact(document_host: None, server: Server, fresh_project: Project) -> None:
    """The document shows alias over HTTP only; the client adds it with the same fields."""
    from salesmachine.client import Client

    stored = Stored(server.db_path, fresh_project.id)
    smclient = Client(fresh_project.token, fresh_project.secret)
    smclient.set_contact("123456", {"name": "Elon Musk"})
    smclient.set_contact("789", {"email": "elon@teslamotors.com"})
    smclient.alias("123456", "789")
    smclient.track_event("789", "user_registration")
    assert smclient.flush(timeout=10)

    contact = stored.contact("123456")
    assert contact is not None and contact["uids"] == {"123456", "789"}
    assert contains(contact["params"], {"name": "Elon Musk", "email": "elon@teslamotors.com"})
    assert stored.contact("789") == contact
    assert [e["name"] for e in stored.events()] == ["user_registration"]
    smclient.shutdown()


def test_the_default_host_is_ours_never_the_vendors(monkeypatch: pytest.MonkeyPatch) -> None:
    from salesmachine.client import Client

    monkeypatch.delenv("SALESMACHINE_HOST", raising=False)
    assert Client("token", send=False).host == "http://127.0.0.1:8080"
    monkeypatch.setenv("SALESMACHINE_HOST", "sm.internal:9000/")
    assert Client("token", send=False).host == "http://sm.internal:9000"
    assert Client("token", send=False, host="https://sm.example.com/v1/").host == "https://sm.example.com"
    assert Client("token", "secret", "https://sm.example.com", send=False).host == "https://sm.example.com"
