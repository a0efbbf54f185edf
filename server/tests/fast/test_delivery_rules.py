"""The rules of deliveries as functions: backoff and giving up, the signature, what a log shows
of a URL, SMTP settings' validation, and the connection pinned to the address that was checked."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta
from typing import Any

import pytest

from salesmachine_server.deliver import addresses
from salesmachine_server.deliver.backoff import Backoff
from salesmachine_server.deliver.mail import send_mail
from salesmachine_server.deliver.shown import shown_target
from salesmachine_server.deliver.signing import signature_header
from salesmachine_server.deliver.webhooks import post_json, shown_url
from salesmachine_server.domain.project_settings import SettingsRefused
from salesmachine_server.domain.smtp_settings import SmtpSettings, changed_smtp
from tests.delivery_receivers import HttpReceiver, SmtpReceiver, documented_verify
from tests.support import free_port

DAY = Backoff(base_seconds=30, max_seconds=3600, window_seconds=86_400)
T0 = datetime(2026, 12, 5, 10, 0, 0)


def test_the_wait_doubles_with_jitter_up_to_the_cap() -> None:
    assert [DAY.delay(n, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert [DAY.delay(n, rand=lambda: 0.0) for n in (1, 2, 3, 4)] == [15, 30, 60, 120]
    assert DAY.delay(20, rand=lambda: 1.0) == 3600 and DAY.delay(20, rand=lambda: 0.0) == 1800
    assert DAY.delay(10_000, rand=lambda: 0.5) == 2700  # no overflow, however many attempts


def test_retries_go_on_for_the_whole_window_and_the_last_is_at_its_end() -> None:
    now, attempts, times = T0, 0, []
    while True:
        attempts += 1
        after = DAY.next_attempt(now, T0, attempts, rand=lambda: 1.0)
        if after is None:
            break
        times.append(after)
        now = after
    assert times[-1] == T0 + timedelta(days=1), "the last attempt is made at the end of the 24 hours"
    assert now - T0 >= timedelta(hours=24)
    assert 25 <= attempts <= 40, attempts
    assert DAY.next_attempt(T0 + timedelta(days=1), T0, 3) is None
    # A resent delivery counts its window from the resend.
    assert DAY.next_attempt(T0 + timedelta(days=2), T0 + timedelta(days=2), 40) is not None


def test_the_signature_is_stripes_scheme_and_the_documented_check_accepts_it() -> None:
    body = b'{"a":1}'
    header = signature_header("whsec_x", 1_700_000_000, body)
    expected = hmac.new(b"whsec_x", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    verify = documented_verify()
    assert not verify("whsec_x", header, body), "a signature of 2023 is too old"
    assert verify("whsec_x", header, body, tolerance=10**10)
    assert not verify("whsec_x", "v1=abc", body) and not verify("whsec_x", "t=x,v1=abc", body)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/cs", "https://hooks.example.com/cs"),
        ("https://user:pass@hooks.example.com:8443/cs?token=abc&x=1", "https://hooks.example.com:8443/cs?…"),
        ("https://hooks.slack.com/services/T000/B000/XXXXXXXX", "https://hooks.slack.com/services/T000/B000/XXXXXXXX"),
        ("http://[::1]:9/x", "http://[::1]:9/x"),
        ("http://[::1/", "(an unreadable URL)"),
    ],
)
def test_the_log_shows_a_url_without_its_secrets(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_a_slack_hooks_token_is_left_out() -> None:
    hook = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
    assert shown_url(hook, secret_path=True) == "https://hooks.slack.com/services/T000/B000/…"
    assert shown_target("slack", {"url": hook})["url"] == "https://hooks.slack.com/services/T000/B000/…"


def test_a_target_is_shown_without_its_secret() -> None:
    shown = shown_target("webhook", {"url": "https://h.example/x", "secret": "whsec_zz"})
    assert shown == {"url": "https://h.example/x", "to": None, "signed": True}
    assert shown_target("email", {"to": "a@b.example"}) == {"url": None, "to": "a@b.example", "signed": False}


def test_smtp_settings_refuse_every_bad_value_by_name() -> None:
    with pytest.raises(SettingsRefused) as refused:
        changed_smtp(
            None,
            {"host": "smtp://x", "port": "99999", "from": "nobody", "security": "tls", "colour": "red", "password": 5},
        )
    assert {(r.field, r.rule) for r in refused.value.refusals} == {
        ("host", "host"),
        ("port", "range"),
        ("from", "email"),
        ("security", "one_of"),
        ("colour", "known_setting"),
        ("password", "string"),
    }
    with pytest.raises(SettingsRefused) as refused:
        changed_smtp(None, {"port": 25})
    assert {r.field for r in refused.value.refusals} == {"host", "from"}


def test_smtp_password_is_kept_replaced_or_removed() -> None:
    current = SmtpSettings(host="smtp.example.com", from_address="a@example.com", password="old")
    assert changed_smtp(current, {"port": "465"}).password == "old"
    assert changed_smtp(current, {"password": ""}, keep_empty_password=True).password == "old"
    assert changed_smtp(current, {"password": "new"}).password == "new"
    assert changed_smtp(current, {"password": None}).password == ""
    shown = changed_smtp(current, {"port": 465}).shown()
    assert shown["password_set"] is True and "old" not in json.dumps(shown)


REAL_GETADDRINFO = socket.getaddrinfo


def _resolving(name: str, address: str, asked: list[str]) -> Any:
    """A resolver that knows `name` (as `address`), and hands anything else to the real one;
    `asked` gets every name asked about."""

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    return resolve


def test_the_request_goes_to_the_address_checked_with_the_name_as_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name that resolves (here, by this test's resolver) only when deliver/addresses.py asks:
    the request reaches the receiver, so it went to the address that was checked, not to a
    second resolution (which would fail: the name exists nowhere else)."""
    receiver = HttpReceiver().start()
    asked: list[str] = []
    monkeypatch.setattr(addresses.socket, "getaddrinfo", _resolving("rebind.example", "127.0.0.1", asked))
    try:
        sent = post_json(f"http://rebind.example:{receiver.port}/hook", b"{}", {}, allow_private=True, timeout=5)
        refused = post_json(f"http://rebind.example:{receiver.port}/hook", b"{}", {}, allow_private=False, timeout=5)
    finally:
        receiver.stop()
    assert sent.error is None and sent.response_status == 200 and sent.request["address"] == "127.0.0.1"
    [got] = receiver.received
    assert got.headers["host"] == f"rebind.example:{receiver.port}"
    assert refused.permanent and refused.error is not None and "loopback" in refused.error
    # The name was resolved once per send, by the check; the connection never asked again.
    assert asked.count("rebind.example") == 2


def test_a_name_that_does_not_resolve_at_send_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(addresses.socket, "getaddrinfo", fails)
    sent = post_json("https://hooks.example.com/cs", b"{}", {}, allow_private=False, timeout=5)
    assert sent.error is not None and "does not resolve" in sent.error and not sent.permanent


def test_an_email_is_one_message_with_its_subject_on_one_line() -> None:
    smtp = SmtpReceiver().start()
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", from_address="CS <cs@example.com>")
    try:
        sent = send_mail(
            7, {"to": "a@example.com"}, {"subject": "Acme\nturned bad", "text": "Call them."}, settings, timeout=5
        )
    finally:
        smtp.stop()
    assert sent.error is None and sent.response_status == 250
    [(mail_from, recipients, message)] = smtp.messages
    assert (mail_from, recipients) == ("cs@example.com", ["a@example.com"])
    assert message["Subject"] == "Acme turned bad" and message["X-Salesmachine-Delivery"] == "7"
    assert message.get_payload().strip() == "Call them."


def test_a_recipient_refused_for_good_fails_at_once_and_says_the_servers_words() -> None:
    smtp = SmtpReceiver(refuse_rcpt="550 5.1.1 no such user").start()
    settings = SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", from_address="cs@example.com")
    try:
        sent = send_mail(8, {"to": "gone@example.com"}, {"subject": "s", "text": "t"}, settings, timeout=5)
    finally:
        smtp.stop()
    assert sent.permanent and sent.response_status == 550
    assert sent.error == "the SMTP server refused gone@example.com: 550 5.1.1 no such user"
    assert smtp.messages == []


def test_an_smtp_server_that_cannot_be_reached_is_retried() -> None:
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), security="none", from_address="cs@example.com")
    sent = send_mail(9, {"to": "a@example.com"}, {"subject": "s", "text": "t"}, settings, timeout=5)
    assert not sent.permanent and sent.error is not None and "could not talk to the SMTP server" in sent.error
