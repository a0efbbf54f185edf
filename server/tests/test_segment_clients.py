"""Segment's published clients, unchanged but for the host, against a real server (issue 21):
`segment-analytics-python` and `rudder-sdk-python` from PyPI, `@segment/analytics-node` from npm
(installed by segment_node/install.sh, which `make test` and .ci/run call). Each sends every
call kind; what it sent reads back through the read API and shows in the dashboard."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from tests.dashboard_support import make_user, signed_in
from tests.support import IN_CI, Project, ServerProcess

NODE_CLIENT = Path(__file__).parent / "segment_node"


def send_python(client_class: Callable[..., Any], base_url: str, write_key: str, prefix: str) -> None:
    """Every call kind, as an application would make them; the client batches and sends them."""
    errors: list[Any] = []
    client = client_class(write_key, host=base_url, on_error=lambda error, _batch: errors.append(error), max_retries=1)
    user = f"{prefix}user"
    client.identify(user, {"email": f"{prefix}user@example.com", "plan": "pro"}, anonymous_id=f"{prefix}anon")
    client.track(user, "Report Exported", {"rows": 3})
    client.page(user, name="Pricing", properties={"url": "https://example.com/pricing"})
    client.screen(user, name="Settings")
    client.group(user, f"{prefix}acme", {"name": "Acme", "mrr": 99})
    client.alias(f"{prefix}old", user)
    client.flush()
    client.join()
    assert errors == []


def send_node(base_url: str, write_key: str, prefix: str) -> None:
    if not (NODE_CLIENT / "node_modules" / "@segment" / "analytics-node").is_dir() or shutil.which("node") is None:
        message = "Segment's node client is not installed: bash server/tests/segment_node/install.sh"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run(
        ["node", "send.mjs", base_url, write_key, prefix], cwd=NODE_CLIENT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


SENDERS: dict[str, Callable[[str, str, str], None]] = {
    "segment-analytics-python": lambda *args: send_python(SegmentClient, *args),
    "rudder-sdk-python": lambda *args: send_python(RudderClient, *args),
    "@segment/analytics-node": send_node,
}


@pytest.fixture
def reader(project: Project) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=str(project.http.base_url), auth=(project.token, project.secret), timeout=30) as client:
        yield client


@pytest.mark.parametrize("client", list(SENDERS))
def test_every_call_kind_of_the_client_lands(
    server: ServerProcess, project: Project, reader: httpx.Client, client: str
) -> None:
    prefix = f"{client.strip('@').replace('/', '-')}-"
    SENDERS[client](server.base_url, project.token, prefix)
    user = f"{prefix}user"
    profile = reader.get(f"/v1/contacts/{user}")
    assert profile.status_code == 200, profile.text
    contact = profile.json()
    assert contact["params"]["email"] == f"{prefix}user@example.com" and contact["params"]["plan"] == "pro"
    assert [account["account_uid"] for account in contact["accounts"]] == [f"{prefix}acme"]
    # identify's anonymousId and alias's previousId name the same contact.
    for other in (f"{prefix}anon", f"{prefix}old"):
        assert reader.get(f"/v1/contacts/{other}").json()["contact_uid"] == contact["contact_uid"]
    account = reader.get(f"/v1/accounts/{prefix}acme").json()
    assert account["params"]["name"] == "Acme" and account["mrr"] == 99
    events = reader.get(f"/v1/contacts/{user}/events").json()["data"]
    assert sorted((event["event_uid"], event["params"].get("name")) for event in events) == [
        ("Report Exported", None),
        ("pageview", "Pricing"),
        ("pageview", "Settings"),
    ]
    assert project.stored.count("rejected_items") == 0


def test_anonymous_pageviews_then_identify_show_on_one_contact(
    server: ServerProcess, project: Project, reader: httpx.Client
) -> None:
    client = SegmentClient(project.token, host=server.base_url, max_retries=1)
    for path in ("/", "/pricing"):
        client.page(anonymous_id="visitor-7", properties={"url": f"https://example.com{path}"})
    client.flush()  # the visitor's pageviews are stored before anyone knows who it is
    assert reader.get("/v1/contacts/visitor-7/events").json()["data"]
    client.identify("user-7", {"email": "seven@example.com"}, anonymous_id="visitor-7")
    client.flush()
    client.join()
    contact = reader.get("/v1/contacts/user-7").json()
    assert contact["params"]["email"] == "seven@example.com"
    assert reader.get("/v1/contacts/visitor-7").json()["contact_uid"] == contact["contact_uid"]
    urls = sorted(event["params"]["visit_url"] for event in reader.get("/v1/contacts/user-7/events").json()["data"])
    assert urls == ["https://example.com/", "https://example.com/pricing"]
    assert project.stored.count("contacts") == 1


def test_what_a_client_sent_shows_on_the_contact_page(browser: Any, server: ServerProcess, project: Project) -> None:
    SENDERS["rudder-sdk-python"](server.base_url, project.token, "shown-")
    with signed_in(server.base_url, make_user(server.database_url, project.id)) as client:
        cookie = client.cookies["sm_session"]
    context = browser.new_context()
    try:
        context.add_cookies([{"name": "sm_session", "value": cookie, "url": server.base_url}])
        page = context.new_page()
        answer = page.goto(f"{server.base_url}/p/{project.id}/contacts/shown-user")
        assert answer is not None and answer.status == 200
        text = page.inner_text("body")
        assert "shown-user@example.com" in text and "Report Exported" in text and "Acme" in text
    finally:
        context.close()
