"""Every curl example of the API document, run with the real curl, as written.

Only the host and the token are replaced. Two examples are not valid as printed, and each
gets the answer a user should see:
- the pageview example lacks its closing brace: a 400 that names the JSON error; corrected, 201;
- the batch example continues its lines with '/' instead of '\\': we send it as intended.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.support import Project

PING = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' \\
'https://api.salesmachine.io/v1/ping'"""

CONTACT = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' \\
-d '{"contact_uid":"123456", "params" : { "email":"elon@teslamotors.com", "name":"Elon Musk", "gender":"male", "mrr": 99, "account_uid":"78910" }}' \\
'https://api.salesmachine.io/v1/contact'"""

ACCOUNT = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' \\
-d '{"account_uid":"78910", "params" : {"name":"Tesla Motors", "employee_count":12000,"mrr":999}}' \\
'https://api.salesmachine.io/v1/account'"""

EVENT = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' \\
-d '{"contact_uid":"123456", "event_uid" : "user_registration", "params" : {"account_uid" : "78910", "display_name" : "Registration"}}' \\
'https://api.salesmachine.io/v1/track/event'"""

PAGEVIEW_AS_PRINTED = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' \\
-d '{"contact_uid":"123456", "event_uid" : "pageview", "params" : {"account_uid" : "78910", "visit_url" : "http://myproduct.com/onboarding", "visit_ip" : "XX.XX.XX.XX", "visit_agent" : "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/43.0.2357.130 Safari/537.36"}' \\
'https://api.salesmachine.io/v1/track/event'"""

ALIAS = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' \\
-d '{"contact_uid":"123456", "alias" : "789"}' \\
'https://api.salesmachine.io/v1/alias'"""

BATCH_AS_PRINTED = """curl -X POST -H "Content-Type: application/json" -u 'YOUR_API_TOKEN:' /
-d '[{"account_uid":"78910", "params" : {"display_name":"Acme", "employee_count":12}, "method":"account"}, {"contact_uid":"123456", "event_uid" : "user_registration", "params" : {"account_uid" : "78910", "display_name" : "Registration"}, "method":"event"}, {"contact_uid":"123456", "event_uid" : "payment", "params" : {"account_uid" : "78910", "display_name" : "Payment"}, "method":"event"}]' /
'https://api.salesmachine.io/v1/batch'"""

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def run_curl(example: str, project: Project) -> tuple[int, dict]:
    command = example.replace("YOUR_API_TOKEN", project.token).replace(
        "https://api.salesmachine.io", str(project.http.base_url).rstrip("/")
    )
    # bash reads the example as a user's shell would, line continuations included.
    script = command + " -s -w '\\n%{http_code}'"
    output = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30).stdout
    body, _, status = output.rpartition("\n")
    return int(status), json.loads(body)


def test_ping(project: Project) -> None:
    assert run_curl(PING, project) == (200, {"status": "success"})


def test_contact_example_stores_the_contact_its_account_and_mrr(project: Project) -> None:
    assert run_curl(CONTACT, project) == (201, {"status": "success"})
    contact = project.stored.contact("123456")
    assert contact is not None
    assert contact["params"] == {"email": "elon@teslamotors.com", "name": "Elon Musk", "gender": "male", "mrr": 99}
    assert contact["accounts"] == {"78910"}
    assert contact["mrr"] == [99]


def test_account_example(project: Project) -> None:
    assert run_curl(ACCOUNT, project) == (201, {"status": "success"})
    account = project.stored.account("78910")
    assert account is not None
    assert account["params"] == {"name": "Tesla Motors", "employee_count": 12000, "mrr": 999}
    assert account["mrr"] == [999]


def test_event_example(project: Project) -> None:
    assert run_curl(EVENT, project) == (201, {"status": "success"})
    contact = project.stored.contact("123456")
    assert contact is not None
    [event] = contact["events"]
    assert event["name"] == "user_registration"
    assert event["kind"] == "event"
    assert event["params"] == {"account_uid": "78910", "display_name": "Registration"}
    assert event["account_uid"] == "78910"
    assert contact["accounts"] == {"78910"}


def test_pageview_example_as_printed_is_refused_naming_the_json_error(project: Project) -> None:
    status, body = run_curl(PAGEVIEW_AS_PRINTED, project)
    assert status == 400
    assert body["code"] == "bad_request"
    assert body["field"] == "body" and body["rule"] == "json"
    assert "not valid JSON" in body["error"] and body["error"] == body["message"]
    assert project.stored.contact("123456") is None


def test_pageview_example_corrected(project: Project) -> None:
    corrected = PAGEVIEW_AS_PRINTED.replace("Safari/537.36\"}'", "Safari/537.36\"}}'")
    assert run_curl(corrected, project) == (201, {"status": "success"})
    contact = project.stored.contact("123456")
    assert contact is not None
    [event] = contact["events"]
    assert event["name"] == "pageview" and event["kind"] == "pageview"
    assert event["params"]["visit_url"] == "http://myproduct.com/onboarding"
    assert event["params"]["visit_agent"].startswith("Mozilla/5.0 (X11; Linux x86_64)")


def test_alias_example(project: Project) -> None:
    assert run_curl(ALIAS, project) == (201, {"status": "success"})
    contact = project.stored.contact("789")
    assert contact is not None
    assert contact["uids"] == {"123456", "789"}


def test_batch_example(project: Project) -> None:
    as_intended = BATCH_AS_PRINTED.replace("' /\n", "' \\\n")
    status, body = run_curl(as_intended, project)
    assert (status, body) == (201, {"status": "success", "accepted": 3})
    account = project.stored.account("78910")
    assert account is not None
    assert account["params"] == {"display_name": "Acme", "employee_count": 12}
    assert account["contacts"] == {"123456"}
    contact = project.stored.contact("123456")
    assert contact is not None
    assert [e["name"] for e in contact["events"]] == ["user_registration", "payment"]
    assert {e["account_uid"] for e in contact["events"]} == {"78910"}
