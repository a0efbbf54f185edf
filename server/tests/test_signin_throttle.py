"""Sign-in is throttled per account and per client address, in the database, so that two server
processes on one database keep one count: after 5 failures for an address in 15 minutes (20
from one client address, whatever the accounts) the form answers 429 with Retry-After, even to
the right password, and the wait doubles with each further failure.

Two servers share a database of the test's own; they trust 127.0.0.1 as a proxy, so each test
client is a different address by its X-Forwarded-For."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.dashboard_support import PASSWORD, csrf_of, make_user
from tests.support import ServerProcess, make_project, postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def two_servers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path}/signin.db"
        else:
            url = stack.enter_context(postgres_database())
        make_project(url)  # migrates the database
        env = {"SALESMACHINE_TRUSTED_PROXIES": "127.0.0.1"}
        servers = tuple(ServerProcess(url, tmp_path / f"server-{i}.log", env=env).start() for i in range(2))
        try:
            yield servers  # type: ignore[misc]
        finally:
            for server in servers:
                server.stop()


def _client(address: str) -> httpx.Client:
    return httpx.Client(headers={"X-Forwarded-For": address}, timeout=30)


def _sign_in(client: httpx.Client, server: ServerProcess, email: str, password: str) -> httpx.Response:
    form = client.get(f"{server.base_url}/signin")
    return client.post(
        f"{server.base_url}/signin",
        data={"csrf": csrf_of(form.text), "email": email, "password": password, "next": "/"},
    )


def _age_failures(url: str, by: timedelta) -> None:
    """As if the failures so far happened `by` earlier (instead of waiting for it)."""
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.db.schema import sign_in_failures

    engines = open_engines(url)
    try:
        with engines.writer.begin() as conn:
            for row in conn.execute(sign_in_failures.select()).all():
                conn.execute(
                    sign_in_failures.update()
                    .where(sign_in_failures.c.id == row.id)
                    .values(failed_at=row.failed_at - by)
                )
    finally:
        engines.dispose()


def _retry_after(answer: httpx.Response) -> int:
    assert answer.status_code == 429, (answer.status_code, answer.text[:300])
    assert "Too many failed sign-ins" in answer.text
    assert "sm_session" not in answer.headers.get("set-cookie", "")
    return int(answer.headers["retry-after"])


def test_five_wrong_passwords_lock_the_account_on_both_servers(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    url = first.database_url
    email = make_user(url)
    with _client("198.51.100.1") as attacker, _client("198.51.100.2") as owner:
        for attempt in range(5):
            wrong = _sign_in(attacker, (first, second)[attempt % 2], email, f"guess-{attempt}")
            assert wrong.status_code == 401, wrong.text[:300]
        # The right password no longer gets in, on either server, from anywhere.
        assert 1 <= _retry_after(_sign_in(attacker, first, email.upper(), PASSWORD)) <= 30
        assert 1 <= _retry_after(_sign_in(owner, second, email, PASSWORD)) <= 30
        # The wait over, one more wrong password doubles it.
        _age_failures(url, timedelta(seconds=31))
        assert _sign_in(attacker, second, email, "guess-5").status_code == 401
        assert 30 < _retry_after(_sign_in(attacker, first, email, PASSWORD)) <= 60
        # Past the window, the right password signs in, and forgives the account's failures.
        _age_failures(url, timedelta(minutes=16))
        assert _sign_in(owner, first, email, PASSWORD).status_code == 303
    with _client("198.51.100.3") as later:
        for round in range(2):  # 8 failures in all: without forgiveness, the second round is locked
            for attempt in range(4):
                assert _sign_in(later, second, email, f"again-{round}-{attempt}").status_code == 401
            assert _sign_in(later, first, email, PASSWORD).status_code == 303
            later.cookies.clear()  # signed out again, as a new browser


def test_one_address_trying_many_accounts_is_throttled(two_servers: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = two_servers
    email = make_user(first.database_url)
    with _client("203.0.113.9") as sprayer, _client("198.51.100.7") as owner:
        for attempt in range(20):
            nobody = f"nobody-{secrets.token_hex(3)}@example.com"
            answer = _sign_in(sprayer, (first, second)[attempt % 2], nobody, PASSWORD)
            assert answer.status_code == 401, (attempt, answer.status_code)
        assert 1 <= _retry_after(_sign_in(sprayer, second, email, PASSWORD)) <= 30
        # The account itself is not locked: its owner, elsewhere, signs in.
        assert _sign_in(owner, first, email, PASSWORD).status_code == 303
