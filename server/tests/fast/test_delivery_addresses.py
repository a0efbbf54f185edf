"""Where deliveries may go (deliver/addresses.py) and what enqueue accepts (deliver/queue.py)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from salesmachine_server.deliver.addresses import AddressRefused, check_url, refused_because, resolve
from salesmachine_server.deliver.queue import DeliveryRefused, enqueue
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.db.migrate import migrate
from salesmachine_server.store.records.projects import create_project


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://0.0.0.0/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("https://192.168.0.10/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://[fd12::1]/", "private"),
        ("http://169.254.10.1/", "link_local"),
        ("http://[fe80::1]/", "link_local"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://192.0.0.192/", "metadata"),
        ("http://100.64.0.1/", "public_address"),  # carrier-grade NAT, shared
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4-mapped
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://2130706433/", "loopback"),  # 127.0.0.1 as one number, as resolvers read it
        ("ftp://example.org/", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://127.0.0.1/", "scheme"),
        ("https:///nohost", "url"),
        ("http://[::1/", "url"),
    ],
)
def test_refused_urls_name_their_rule(url: str, rule: str) -> None:
    with pytest.raises(AddressRefused) as refused:
        check_url(url, allow_private=False)
    assert refused.value.rule == rule, refused.value.reason


def test_a_public_address_is_allowed() -> None:
    check_url("https://93.184.215.14/hook", allow_private=False)
    assert resolve("http://8.8.8.8:8080/x", allow_private=False).addresses == ("8.8.8.8",)


def test_a_name_that_does_not_resolve_is_accepted_at_save_and_checked_at_send() -> None:
    check_url("https://hooks.example.invalid/cs", allow_private=False)
    with pytest.raises(AddressRefused) as refused:
        resolve("https://hooks.example.invalid/cs", allow_private=False)
    assert refused.value.rule == "resolves"


def test_the_server_setting_allows_private_networks_but_never_metadata() -> None:
    check_url("http://127.0.0.1:9/", allow_private=True)
    check_url("http://10.0.0.1/", allow_private=True)
    assert resolve("http://localhost:9/", allow_private=True).addresses[0] in ("127.0.0.1", "::1")
    with pytest.raises(AddressRefused, match="metadata"):
        check_url("http://169.254.169.254/", allow_private=True)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS", "0")
    with pytest.raises(AddressRefused):
        check_url("http://127.0.0.1/")
    monkeypatch.setenv("SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS", "1")
    check_url("http://127.0.0.1/")


def test_every_global_address_passes() -> None:
    assert refused_because(ipaddress.ip_address("2606:4700::1111"), allow_private=False) is None


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    opened = open_engines(f"sqlite:///{tmp_path}/queue.db")
    migrate(opened)
    yield opened
    opened.dispose()


def test_enqueue_commits_with_the_callers_transaction(engines: Engines) -> None:
    project, _ = create_project(engines.writer, "queue", b"k" * 32)
    target = {"url": "https://hooks.example.com/cs", "secret": "whsec_1"}
    with engines.writer.begin() as conn:
        delivery_id = enqueue(conn, project.id, channel="webhook", target=target, payload={"a": 1}, playbook_id=7)
    # A rolled-back cause leaves no delivery behind.
    with pytest.raises(RuntimeError), engines.writer.begin() as conn:
        enqueue(conn, project.id, channel="slack", target={"url": "https://hooks.slack.com/x"}, payload={"text": "t"})
        raise RuntimeError("the cause failed")
    with engines.reader.connect() as conn:
        rows = conn.execute(text("SELECT id, status, attempts, playbook_id, channel FROM deliveries")).all()
    assert [tuple(row) for row in rows] == [(delivery_id, "pending", 0, 7, "webhook")]


@pytest.mark.parametrize(
    ("channel", "target", "payload", "field"),
    [
        ("fax", {"url": "https://x"}, {}, "channel"),
        ("webhook", {"url": "https://x"}, {}, "target.secret"),
        ("webhook", {"secret": "s"}, {}, "target.url"),
        ("slack", {"url": ""}, {"text": "hi"}, "target.url"),
        ("email", {}, {"subject": "s", "text": "t"}, "target.to"),
        ("email", {"to": "a@example.com"}, {"text": "t"}, "payload.subject"),
        ("email", {"to": "a@example.com\nBcc: x@example.com"}, {"subject": "s", "text": "t"}, "target.to"),
    ],
)
def test_enqueue_refuses_what_could_never_be_sent(
    engines: Engines, channel: str, target: dict[str, str], payload: dict[str, str], field: str
) -> None:
    project, _ = create_project(engines.writer, "refused", b"k" * 32)
    with pytest.raises(DeliveryRefused) as refused, engines.writer.begin() as conn:
        enqueue(conn, project.id, channel=channel, target=target, payload=payload)
    assert refused.value.field == field
