"""Deliveries end to end, on SQLite and PostgreSQL: a real server sends to receivers this test
starts (an HTTP endpoint checking signatures with docs/deliveries.md's own snippet, a
Slack-shaped endpoint, aiosmtpd), deliveries queued by `salesmachine deliveries test` as a user
queues them, and the log read back through `GET /v1/deliveries` and the dashboard.

The server here has a database of its own (the session's server would send these deliveries too,
and refuses 127.0.0.1), allows private networks (the receivers are on 127.0.0.1), and retries
after half a second instead of thirty, for a window of a few seconds instead of a day.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.delivery_receivers import HttpReceiver, SmtpReceiver, documented_verify
from tests.support import ServerProcess, StoredData, make_project, postgres_database

RETRY_WINDOW = 5.0
FAST_RETRIES = {
    "SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS": "1",
    "SALESMACHINE_DELIVERY_CHECK_SECONDS": "0.5",
    "SALESMACHINE_DELIVERY_BACKOFF_BASE_SECONDS": "0.5",
    "SALESMACHINE_DELIVERY_BACKOFF_MAX_SECONDS": "1",
    "SALESMACHINE_DELIVERY_RETRY_WINDOW_SECONDS": str(RETRY_WINDOW),
    "SALESMACHINE_DELIVERY_TIMEOUT_SECONDS": "3",
}
SECRET = "whsec_test_5f0c2b"

# A CA of this run, which the server trusts beside the public ones (SALESMACHINE_DELIVERY_CA_FILE),
# and a certificate it issued for "localhost" only: connecting to 127.0.0.1 verifies the name.
CA = trustme.CA()
CA_FILE = Path(tempfile.mkdtemp(prefix="sm-ca-")) / "ca.pem"
CA.cert_pem.write_to_path(str(CA_FILE))
FAST_RETRIES["SALESMACHINE_DELIVERY_CA_FILE"] = str(CA_FILE)


def server_tls(name: str = "localhost") -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    CA.issue_cert(name).configure_cert(context)
    return context


@dataclass
class Sender:
    """The server, and a project of its own with token and secret."""

    server: ServerProcess
    name: str
    project_id: int
    token: str
    secret: str

    @property
    def url(self) -> str:
        return self.server.database_url

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.base_url, auth=(self.token, self.secret), timeout=30)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`salesmachine deliveries test --project ... ARGS`, as a user types it."""
        command = [sys.executable, "-m", "salesmachine_server", "deliveries", "test", "--project", self.name]
        return subprocess.run(
            [*command, "--database", self.url, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **FAST_RETRIES, **(env or {})},
        )

    def deliveries(self, **params: Any) -> dict[str, Any]:
        with self.api() as api:
            answer = api.get("/v1/deliveries", params=params)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def delivery(self, delivery_id: int) -> dict[str, Any]:
        return next(d for d in self.deliveries(limit=1000)["data"] if d["id"] == delivery_id)

    def wait_until(self, delivery_id: int, status: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.delivery(delivery_id)
            if found["status"] == status:
                return found
            assert time.monotonic() < deadline, f"delivery {delivery_id} is still {found}"
            time.sleep(0.2)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sender(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sender]:
    folder = tmp_path_factory.mktemp("deliveries")
    with _database(request.param, folder) as url:
        project, secret = make_project(url)
        process = ServerProcess(url, folder / "server.log", env=FAST_RETRIES).start()
        try:
            yield Sender(process, project.name, project.id, project.token, secret)
        finally:
            process.stop()


def _database(engine: str, folder: Path) -> Any:
    if engine == "sqlite":
        from contextlib import nullcontext

        return nullcontext(f"sqlite:///{folder}/deliveries.db")
    return postgres_database()


def _queued_id(result: subprocess.CompletedProcess[str]) -> int:
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("delivery "), result.stdout
    return int(result.stdout.split()[1])


def _assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a secret is shown: {secret!r}"


# ---- webhooks ---------------------------------------------------------------------------------


def test_a_webhook_arrives_signed_and_verified_as_a_receiver_checks_it(sender: Sender) -> None:
    receiver = HttpReceiver().start()
    try:
        result = sender.cli("--webhook", receiver.url("/cs?token=abc"), "--secret", SECRET, "--wait", "30")
        assert result.returncode == 0, result.stderr + result.stdout
        printed = json.loads(result.stdout)
        assert printed["status"] == "delivered" and printed["attempts"] == 1
    finally:
        receiver.stop()
    assert len(receiver.received) == 1
    got = receiver.received[0]
    verify = documented_verify()
    assert verify(SECRET, got.headers["salesmachine-signature"], got.body), got.headers
    # A receiver refuses a wrong secret, a changed body, and a stale time (a replay).
    assert not verify("whsec_other", got.headers["salesmachine-signature"], got.body)
    assert not verify(SECRET, got.headers["salesmachine-signature"], got.body + b" ")
    stale = f"t={int(time.time()) - 301},{got.headers['salesmachine-signature'].split(',')[1]}"
    assert not verify(SECRET, stale, got.body)
    assert got.path == "/cs?token=abc"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["salesmachine-delivery"] == str(printed["id"])
    body = json.loads(got.body)
    assert body["type"] == "test" and body["project"] == sender.name

    shown = sender.delivery(printed["id"])
    assert shown["channel"] == "webhook" and shown["status"] == "delivered" and shown["delivered_at"]
    assert shown["target"] == {"url": f"http://127.0.0.1:{receiver.port}/cs?…", "to": None, "signed": True}
    [attempt] = shown["attempt_log"]
    assert attempt["response_status"] == 200 and attempt["response_body"] == "ok" and attempt["error"] is None
    assert attempt["request"]["headers"]["Salesmachine-Signature"] == got.headers["salesmachine-signature"]
    assert json.loads(attempt["request"]["body"]) == body
    assert attempt["request"]["address"] == "127.0.0.1"
    _assert_no_secret(json.dumps(sender.deliveries()), SECRET, "token=abc")


def test_a_receiver_answering_500_then_200_gets_the_message_once_after_a_retry(sender: Sender) -> None:
    receiver = HttpReceiver(answers=[500]).start()
    try:
        delivery_id = _queued_id(sender.cli("--webhook", receiver.url(), "--secret", SECRET))
        shown = sender.wait_until(delivery_id, "delivered")
    finally:
        receiver.stop()
    # Two requests, one accepted: the message arrived once; the same delivery id both times.
    assert [r.headers["salesmachine-delivery"] for r in receiver.received] == [str(delivery_id)] * 2
    assert shown["attempts"] == 2
    first, second = shown["attempt_log"]
    assert (first["response_status"], first["error"]) == (500, "the receiver answered 500")
    assert first["response_body"] == "not now"
    assert (second["response_status"], second["error"]) == (200, None)
    # Retried after the backoff (base 0.5 s, less up to half of it as jitter), not at once.
    waited = receiver.received[1].at - receiver.received[0].at
    assert waited >= 0.25, waited


def test_a_delivery_never_accepted_is_failed_after_its_window_and_says_why(sender: Sender) -> None:
    receiver = HttpReceiver(then=503).start()
    try:
        delivery_id = _queued_id(sender.cli("--webhook", receiver.url(), "--secret", SECRET))
        shown = sender.wait_until(delivery_id, "failed", timeout=RETRY_WINDOW + 20)
    finally:
        receiver.stop()
    attempts = shown["attempts"]
    assert attempts >= 3 and len(shown["attempt_log"]) == attempts == len(receiver.received)
    assert shown["last_error"] == f"gave up after {attempts} attempts: the receiver answered 503"
    assert shown["next_attempt_at"] is None
    # Retried until the end of the window (from when it was queued): the last attempt at or after it.
    queued_at = datetime.fromisoformat(shown["created_at"].replace("Z", "+00:00")).timestamp()
    assert receiver.received[-1].at >= queued_at + RETRY_WINDOW - 0.05, (receiver.received[-1].at, queued_at)
    assert sender.deliveries(status="failed")["data"][0]["id"] == delivery_id


def test_a_slack_message_arrives_as_slack_takes_it(sender: Sender) -> None:
    receiver = HttpReceiver().start()
    try:
        result = sender.cli("--slack", receiver.url("/services/T000/B000/XXXXsecret"), "--wait", "30")
        assert result.returncode == 0, result.stderr + result.stdout
    finally:
        receiver.stop()
    [got] = receiver.received
    body = json.loads(got.body)
    assert list(body) == ["text"] and sender.name in body["text"]
    assert got.headers["content-type"] == "application/json"
    assert "salesmachine-signature" not in got.headers
    shown = sender.delivery(json.loads(result.stdout)["id"])
    assert shown["channel"] == "slack" and shown["target"]["signed"] is False


def test_an_https_webhook_is_verified_against_its_name_while_sent_to_the_address_checked(sender: Sender) -> None:
    receiver = HttpReceiver(tls=server_tls("localhost")).start()
    impostor = HttpReceiver(tls=server_tls("someone-else.example")).start()
    try:
        result = sender.cli("--webhook", receiver.url("/tls", host="localhost"), "--secret", SECRET, "--wait", "30")
        assert result.returncode == 0, result.stderr + result.stdout
        refused = sender.cli("--webhook", impostor.url("/tls", host="localhost"), "--secret", SECRET, "--wait", "30")
    finally:
        receiver.stop()
        impostor.stop()
    [got] = receiver.received
    assert got.headers["host"] == f"localhost:{receiver.port}"
    assert documented_verify()(SECRET, got.headers["salesmachine-signature"], got.body)
    [attempt] = json.loads(result.stdout)["attempt_log"]
    assert attempt["request"]["address"] == "127.0.0.1" and attempt["response_status"] == 200
    # A certificate for another name is refused: not delivered, retried, the reason logged.
    assert refused.returncode == 1 and impostor.received == []
    shown = json.loads(refused.stdout)
    assert shown["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in shown["attempt_log"][0]["error"]


# ---- e-mail -----------------------------------------------------------------------------------


def test_an_email_goes_through_the_projects_smtp_server(sender: Sender) -> None:
    smtp = SmtpReceiver(username="alerts", password="pw-0b7e").start()
    try:
        with sender.api() as api:
            assert api.get("/v1/settings/smtp").json() == {
                "configured": False,
                "host": None,
                "port": None,
                "username": None,
                "password_set": False,
                "from": None,
                "security": None,
            }
            refused = api.put("/v1/settings/smtp", json={"host": "127.0.0.1", "port": 70000})
            assert refused.status_code == 400 and refused.json()["field"] in ("from", "port"), refused.text
            refused = api.put(
                "/v1/settings/smtp", json={"host": "127.0.0.1", "from": "a@example.com", "security": "tls13"}
            )
            assert (refused.status_code, refused.json()["field"], refused.json()["rule"]) == (400, "security", "one_of")
            bad = api.put("/v1/settings/smtp", content=b"[1]", headers={"content-type": "application/json"})
            assert (bad.status_code, bad.json()["rule"]) == (400, "object")
            bad = api.put("/v1/settings/smtp", content=b"{nope", headers={"content-type": "application/json"})
            assert (bad.status_code, bad.json()["field"], bad.json()["rule"]) == (400, "body", "json")
            huge = api.put("/v1/settings/smtp", json={"host": "x" * 20_000})
            assert (huge.status_code, huge.json()["rule"]) == (413, "max_bytes")
            document = {
                "host": "127.0.0.1",
                "port": smtp.port,
                "username": "alerts",
                "password": "pw-0b7e",
                "from": "Salesmachine <alerts@example.com>",
                "security": "none",
            }
            saved = api.put("/v1/settings/smtp", json=document)
            assert saved.status_code == 200, saved.text
            assert saved.json()["password_set"] is True and "pw-0b7e" not in saved.text
            # A change without the password keeps it.
            kept = api.put("/v1/settings/smtp", json={"username": "alerts"})
            assert kept.json()["password_set"] is True
            shown = api.get("/v1/settings/smtp")
            assert "pw-0b7e" not in shown.text and shown.json()["host"] == "127.0.0.1"
        result = sender.cli("--email", "csm@example.com", "--wait", "30")
        assert result.returncode == 0, result.stderr + result.stdout
    finally:
        smtp.stop()
    [(mail_from, recipients, message)] = smtp.messages
    assert smtp.logins == ["alerts"]
    assert mail_from == "alerts@example.com" and recipients == ["csm@example.com"]
    assert message["Subject"] == f"Salesmachine test e-mail ({sender.name})"
    assert message["X-Salesmachine-Delivery"] == str(json.loads(result.stdout)["id"])
    assert "A test e-mail from Salesmachine" in message.get_payload()
    shown_delivery = sender.delivery(json.loads(result.stdout)["id"])
    [attempt] = shown_delivery["attempt_log"]
    assert attempt["response_status"] == 250 and "accepted" in attempt["response_body"]
    assert attempt["request"]["smtp"] == f"127.0.0.1:{smtp.port} (none)"
    _assert_no_secret(json.dumps(sender.deliveries()), "pw-0b7e")


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_an_email_goes_over_tls_as_the_settings_say(sender: Sender, security: str) -> None:
    context = server_tls("localhost")
    smtp = SmtpReceiver(
        username="tls-user",
        password="tls-pw",
        starttls=context if security == "starttls" else None,
        implicit_tls=context if security == "ssl" else None,
    ).start()
    try:
        document = {
            "host": "localhost",
            "port": smtp.port,
            "username": "tls-user",
            "password": "tls-pw",
            "from": "alerts@example.com",
            "security": security,
        }
        with sender.api() as api:
            assert api.put("/v1/settings/smtp", json=document).status_code == 200
        result = sender.cli("--email", f"{security}@example.com", "--wait", "30")
        assert result.returncode == 0, result.stderr + result.stdout
    finally:
        smtp.stop()
    [(_, recipients, _)] = smtp.messages
    assert recipients == [f"{security}@example.com"] and smtp.logins == ["tls-user"]


def test_an_email_without_an_smtp_server_is_retried_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nosmtp.db"
    project, secret = make_project(url)
    process = ServerProcess(url, tmp_path / "server.log", env=FAST_RETRIES).start()
    try:
        sender = Sender(process, project.name, project.id, project.token, secret)
        delivery_id = _queued_id(sender.cli("--email", "csm@example.com"))
        shown = sender.wait_until(delivery_id, "failed", timeout=RETRY_WINDOW + 20)
    finally:
        process.stop()
    assert shown["attempts"] >= 2
    assert shown["last_error"].endswith(
        "no SMTP server is configured for this project (Settings, or PUT /v1/settings/smtp)"
    )


def test_erasing_a_person_removes_what_was_sent_about_them_and_stops_what_was_to_be(sender: Sender) -> None:
    """Deliveries queued as a playbook queues them (deliver/queue.enqueue, in a transaction of
    its own here), one sent and one that cannot be yet; the erasure takes both, and their attempts."""
    from salesmachine_server.deliver.queue import enqueue
    from salesmachine_server.store.db.engine import open_engines

    uid = "erase-deliveries-3c9"
    with httpx.Client(base_url=sender.server.base_url, auth=(sender.token, ""), timeout=30) as writer:
        assert writer.post("/v1/contact", json={"contact_uid": uid}).status_code == 201
    receiver = HttpReceiver().start()
    engines = open_engines(sender.url)
    try:
        with engines.writer.begin() as conn:
            sent = enqueue(
                conn,
                sender.project_id,
                channel="webhook",
                target={"url": receiver.url(), "secret": SECRET},
                payload={"playbook": "Payment failed", "contact_uid": uid},
            )
            waiting = enqueue(
                conn,
                sender.project_id,
                channel="email",
                target={"to": "csm@example.com"},
                payload={"subject": "About", "text": "t", "customer": {"uid": uid}},
            )
        sender.wait_until(sent, "delivered")
    finally:
        engines.dispose()
        receiver.stop()
    with sender.api() as api:
        receipt = api.delete(f"/v1/contacts/{uid}")
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["removed"]["deliveries"] == 2
    left = {d["id"] for d in sender.deliveries(limit=1000)["data"]}
    assert not {sent, waiting} & left
    stored = StoredData(sender.url, sender.project_id)
    try:
        attempts = stored.rows(
            "SELECT count(*) FROM delivery_attempts WHERE delivery_id IN (:a, :b)", a=sent, b=waiting
        )
    finally:
        stored.close()
    assert attempts[0][0] == 0


# ---- the log ----------------------------------------------------------------------------------


def test_the_log_filters_pages_and_refuses_bad_parameters_by_name(sender: Sender) -> None:
    receiver = HttpReceiver().start()
    try:
        ids = [_queued_id(sender.cli("--slack", receiver.url(f"/page/{i}"))) for i in range(3)]
        for delivery_id in ids:
            sender.wait_until(delivery_id, "delivered")
    finally:
        receiver.stop()
    first = sender.deliveries(channel="slack", limit=2)
    assert [d["id"] for d in first["data"]][:2] == sorted(ids, reverse=True)[:2]
    second = sender.deliveries(channel="slack", limit=2, cursor=first["next_cursor"])
    assert ids[0] in [d["id"] for d in second["data"]]
    assert all(d["status"] == "delivered" for d in sender.deliveries(status="delivered")["data"])
    assert sender.deliveries(playbook_id=999)["data"] == []
    with sender.api() as api:
        for params, field, rule in [
            ({"status": "lost"}, "status", "one_of"),
            ({"channel": "fax"}, "channel", "one_of"),
            ({"playbook_id": "x"}, "playbook_id", "integer"),
            ({"limit": "0"}, "limit", "range"),
            ({"cursor": "nope"}, "cursor", "cursor"),
            ({"sort": "id"}, "sort", "known"),
        ]:
            answer = api.get("/v1/deliveries", params=params)
            assert answer.status_code == 400, answer.text
            assert (answer.json()["field"], answer.json()["rule"]) == (field, rule)
    # A test names one endpoint, and a webhook its secret.
    both = sender.cli("--slack", receiver.url(), "--email", "a@example.com")
    assert both.returncode == 2 and "give one of --webhook URL, --slack URL or --email ADDRESS" in both.stderr
    unsigned = sender.cli("--webhook", receiver.url())
    assert unsigned.returncode == 2 and "--webhook needs --secret" in unsigned.stderr
    # The token alone does not read the log.
    token_only = httpx.get(f"{sender.server.base_url}/v1/deliveries", auth=(sender.token, ""), timeout=10)
    assert token_only.status_code == 401


def test_the_dashboard_shows_the_log_resends_and_sends_a_test(sender: Sender) -> None:
    receiver = HttpReceiver(answers=[500]).start()
    email = make_user(sender.url, sender.project_id)
    try:
        with signed_in(sender.server.base_url, email) as browser:
            page = browser.get(f"/p/{sender.project_id}/deliveries")
            assert page.status_code == 200
            csrf = csrf_of(page.text)
            queued = browser.post(
                f"/p/{sender.project_id}/deliveries/test",
                data={"csrf": csrf, "channel": "webhook", "url": receiver.url(), "secret": SECRET},
            )
            assert queued.status_code == 303, queued.text
            delivery_id = int(queued.headers["location"].split("queued=")[1])
            sender.wait_until(delivery_id, "delivered")
            page = browser.get(f"/p/{sender.project_id}/deliveries")
            assert f'data-delivery="{delivery_id}" data-status="delivered"' in page.text
            assert "the receiver answered 500" in page.text and SECRET not in page.text
            # Resend: sent again, a third attempt in the log.
            resent = browser.post(f"/p/{sender.project_id}/deliveries/{delivery_id}/resend", data={"csrf": csrf})
            assert resent.status_code == 303
            deadline = time.monotonic() + 30
            while sender.delivery(delivery_id)["attempts"] < 3:
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert len(receiver.received) == 3
            # Without the CSRF token: refused, nothing resent.
            forged = browser.post(f"/p/{sender.project_id}/deliveries/{delivery_id}/resend", data={})
            assert forged.status_code == 403
            missing = browser.post(f"/p/{sender.project_id}/deliveries/999999/resend", data={"csrf": csrf})
            assert missing.status_code == 404
            # A test to a metadata address is refused on the form, by name.
            refused = browser.post(
                f"/p/{sender.project_id}/deliveries/test",
                data={"csrf": csrf, "channel": "webhook", "url": "http://169.254.169.254/latest", "secret": "s"},
            )
            assert refused.status_code == 400 and "a cloud metadata address" in refused.text
            refused = browser.post(
                f"/p/{sender.project_id}/deliveries/test",
                data={"csrf": csrf, "channel": "webhook", "url": receiver.url(), "secret": ""},
            )
            assert refused.status_code == 400 and "target.secret is required" in refused.text
    finally:
        receiver.stop()
    time.sleep(1)
    assert len(receiver.received) == 3


def test_the_settings_page_sets_the_smtp_server_and_never_shows_the_password(sender: Sender) -> None:
    email = make_user(sender.url, sender.project_id)
    with signed_in(sender.server.base_url, email) as browser:
        page = browser.get(f"/p/{sender.project_id}/settings")
        assert 'id="smtp-settings"' in page.text
        csrf = csrf_of(page.text)
        form = {
            "csrf": csrf,
            "host": "smtp.example.com",
            "port": "465",
            "security": "ssl",
            "username": "alerts",
            "password": "form-pw-91c",
            "from": "alerts@example.com",
        }
        saved = browser.post(f"/p/{sender.project_id}/settings/smtp", data=form)
        assert saved.status_code == 303, saved.text
        page = browser.get(f"/p/{sender.project_id}/settings")
        assert "form-pw-91c" not in page.text and "set: leave empty to keep it" in page.text
        again = browser.post(f"/p/{sender.project_id}/settings/smtp", data={**form, "password": ""})
        assert again.status_code == 303
        refused = browser.post(f"/p/{sender.project_id}/settings/smtp", data={**form, "port": "0", "from": "nobody"})
        assert refused.status_code == 400
        assert "port must be a whole number from 1 to 65535" in refused.text
        assert "from must be an e-mail address" in refused.text
    with sender.api() as api:
        shown = api.get("/v1/settings/smtp").json()
    assert shown == {
        "configured": True,
        "host": "smtp.example.com",
        "port": 465,
        "username": "alerts",
        "password_set": True,
        "from": "alerts@example.com",
        "security": "ssl",
    }


# ---- in the browser ---------------------------------------------------------------------------

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_a_csm_reads_the_delivery_log_resends_a_failed_alert_and_sends_a_test(
    sender: Sender, browser: Any, tmp_path: Path
) -> None:
    """Playwright in Chromium: the log of a project with a delivered webhook (after a 500), a
    Slack message, and a webhook failed after its window; Resend delivers the failed one once
    its receiver is back; the test form queues one more. The screenshot is docs/deliveries.md's."""
    project, secret = make_project(sender.url)
    mine = Sender(sender.server, project.name, project.id, project.token, secret)
    flaky, slack, down = HttpReceiver(answers=[500]).start(), HttpReceiver().start(), HttpReceiver(then=503).start()
    email = make_user(sender.url, project.id)
    update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and sender.url.startswith("sqlite")
    folder = SCREENSHOTS if update else tmp_path
    try:
        failing = _queued_id(mine.cli("--webhook", down.url("/alerts"), "--secret", SECRET))
        delivered = _queued_id(mine.cli("--webhook", flaky.url("/cs"), "--secret", SECRET))
        _queued_id(mine.cli("--slack", slack.url("/services/T024BE7LD/B08S1HUCK/abcdefsecret")))
        mine.wait_until(delivered, "delivered")
        mine.wait_until(failing, "failed", timeout=RETRY_WINDOW + 20)

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: message.type == "error" and problems.append(message.text))
        page.goto(f"{sender.server.base_url}/p/{project.id}/deliveries")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", "correct horse battery staple")
        page.click("button[type=submit]")
        page.wait_for_url(f"**/p/{project.id}/deliveries")
        rows = page.locator("#deliveries tbody tr[data-delivery]")
        assert rows.count() == 3
        assert page.get_attribute(f"tr[data-delivery='{failing}']", "data-status") == "failed"
        assert page.get_attribute(f"tr[data-delivery='{delivered}']", "data-status") == "delivered"
        failed_row = page.locator(f"tr[data-delivery='{failing}']")
        assert "gave up after" in failed_row.inner_text()
        delivered_row = page.locator(f"tr[data-delivery='{delivered}']")
        attempts = delivered_row.locator("details.attempts")
        if attempts.get_attribute("open") is None:  # the newest are open as the page comes
            attempts.locator("summary").click()
        assert delivered_row.locator("li.attempt").count() == 2
        assert "the receiver answered 500" in delivered_row.inner_text()
        assert "abcdefsecret" not in page.content() and SECRET not in page.content()
        page.screenshot(path=str(folder / "delivery-log.png"), full_page=True)

        # The failed alert's receiver is back: Resend delivers it.
        down.then = 200
        failed_row.locator("button.resend").click()
        page.wait_for_url("**/deliveries?resent=*")
        assert "will be sent again within seconds" in page.locator("[role=status]").inner_text()
        mine.wait_until(failing, "delivered")
        page.reload()
        assert page.get_attribute(f"tr[data-delivery='{failing}']", "data-status") == "delivered"

        # Send a test from the form.
        page.select_option("select[name=channel]", "slack")
        page.fill("input[name=url]", slack.url("/services/T1/B1/formsecret"))
        page.click("#send-test-button")
        page.wait_for_url("**/deliveries?queued=*")
        wait = time.monotonic() + 30
        while len(slack.received) < 2:
            assert time.monotonic() < wait, "the test from the form was not sent"
            time.sleep(0.2)
        assert problems == []
        context.close()
    finally:
        for receiver in (flaky, slack, down):
            receiver.stop()
    assert len(down.received) >= 3 and down.received[-1].headers["salesmachine-delivery"] == str(failing)
