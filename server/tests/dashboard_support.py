"""What the dashboard tests share: a user of a project, a signed-in HTTP client, and a small
customer base sent through the public API whose figures the pages must show."""

from __future__ import annotations

import contextlib
import re
import secrets
import unittest.mock
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support import Project

PASSWORD = "correct horse battery staple"


class _HashOnce:
    """The server's password hasher (argon2id, its parameters), hashing each password once per
    test process: argon2 is slow on purpose (about 0.2 s of CPU a hash), and hundreds of test
    users share a few passwords. Each user still gets a real argon2id hash of its password, which
    the server checks at sign-in as it checks any other."""

    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        self._hashes: dict[str, str] = {}

    def hash(self, password: str) -> str:
        if password not in self._hashes:
            self._hashes[password] = self._hasher.hash(password)
        return self._hashes[password]


def make_user(database_url: str, *project_ids: int, password: str = PASSWORD) -> str:
    """A dashboard user, member of the given projects, created as `salesmachine users create`
    does; returns the e-mail address."""
    from salesmachine_server.store.db.engine import open_engines
    from salesmachine_server.store.records import users
    from salesmachine_server.store.records.users import create_user

    global _hash_once
    if _hash_once is None:
        _hash_once = _HashOnce(users._hasher)
    email = f"csm-{secrets.token_hex(4)}@example.com"
    engines = open_engines(database_url)
    try:
        with unittest.mock.patch.object(users, "_hasher", _hash_once):
            create_user(engines.writer, email, password, project_ids)
    finally:
        engines.dispose()
    return email


_hash_once: _HashOnce | None = None


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@contextlib.contextmanager
def signed_in(base_url: str, email: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """An HTTP client holding a dashboard session (cookies), as a browser would after signing in."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        token = csrf_of(client.get("/signin").text)
        answer = client.post("/signin", data={"csrf": token, "email": email, "password": password, "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client


def ago(days: float, hours: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(days=days, hours=hours)).isoformat()


CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)
SCRIPT_NAME = "Bob <script>alert(1)</script>"


def send_customers(project: Project) -> None:
    """Three accounts and five contacts with history, through /v1/batch:

    - Acme Corp (acme): mrr 100 five months ago, 250 two months ago; Alice active on 6 of the
      last 14 days (good), with a pageview from Chrome on Windows at 203.0.113.7; Bob, whose
      name is a script tag, never active.
    - Globex (globex): mrr 500 four months ago; Carol active 15 and 16 days ago only, so
      Globex was average a week ago and is bad now: it just turned bad.
    - Initech (initech): mrr 80 three months ago, 0 a month ago (churn); Dave active 2 days
      (average).
    - Erin, no account, signed up yesterday.
    - One item refused: an event without a contact_uid.

    MRR now: 250 + 500 = 750; accounts by health: one good, one bad, and Initech churned: in no
    band (docs/health.md).
    """
    items: list[dict[str, Any]] = [
        {
            "method": "account",
            "account_uid": "acme",
            "created_at": ago(150),
            "params": {"name": "Acme Corp", "domain": "acme.com", "plan": "pro", "mrr": 100},
        },
        {"method": "account", "account_uid": "acme", "params": {"mrr": 250}, "created_at": ago(60)},
        {
            "method": "account",
            "account_uid": "globex",
            "created_at": ago(120),
            "params": {"name": "Globex", "plan": "basic", "mrr": 500},
        },
        {
            "method": "account",
            "account_uid": "initech",
            "params": {"name": "Initech", "mrr": 80},
            "created_at": ago(90),
        },
        {"method": "account", "account_uid": "initech", "params": {"mrr": 0}, "created_at": ago(30)},
        {
            "method": "contact",
            "contact_uid": "alice",
            "created_at": ago(150),
            "params": {"name": "Alice Liddell", "email": "alice@acme.com", "account_uid": "acme"},
        },
        {
            "method": "contact",
            "contact_uid": "bob",
            "created_at": ago(100),
            "params": {"name": SCRIPT_NAME, "email": "bob@acme.com", "account_uid": "acme"},
        },
        {
            "method": "contact",
            "contact_uid": "carol",
            "created_at": ago(120),
            "params": {"name": "Carol", "email": "carol@globex.com", "account_uid": "globex"},
        },
        {
            "method": "contact",
            "contact_uid": "dave",
            "created_at": ago(90),
            "params": {"name": "Dave", "email": "dave@initech.com", "account_uid": "initech"},
        },
        {
            "method": "contact",
            "contact_uid": "erin",
            "created_at": ago(1),
            "params": {"name": "Erin", "email": "erin@example.com"},
        },
    ]
    # An hour before midnight UTC at most is still the same UTC day: keep events at noon UTC
    # of their day so that the test's "days ago" are calendar days whatever the hour now.
    for days in (0, 1, 2, 4, 6, 9):
        items.append(
            {
                "method": "event",
                "contact_uid": "alice",
                "event_uid": "report_created",
                "params": {"account_uid": "acme", "report": f"Q{days}"},
                "created_at": _noon(days),
            }
        )
    for days in (15, 16):
        items.append(
            {
                "method": "event",
                "contact_uid": "carol",
                "event_uid": "login",
                "params": {"account_uid": "globex"},
                "created_at": _noon(days),
            }
        )
    for days in (3, 5):
        items.append(
            {
                "method": "event",
                "contact_uid": "dave",
                "event_uid": "login",
                "params": {"account_uid": "initech"},
                "created_at": _noon(days),
            }
        )
    items.append(
        {
            "method": "pageview",
            "contact_uid": "alice",
            "created_at": _noon(0, minutes=-1),
            "params": {
                "account_uid": "acme",
                "visit_url": "https://app.example.com/reports",
                "visit_ip": "203.0.113.7",
                "visit_agent": CHROME_ON_WINDOWS,
            },
        }
    )
    items.append({"method": "event", "event_uid": "no contact"})
    answer = project.http.post("/v1/batch", json=items)
    assert answer.status_code == 201, answer.text
    assert answer.json()["accepted"] == len(items) - 1


def _noon(days_ago: int, minutes: int = 0) -> str:
    """Noon UTC, `days_ago` calendar days ago (or the last full minute, if noon is still ahead
    today: a time in the future would be refused or would look like a clock error)."""
    now = datetime.now(UTC)
    day = (now - timedelta(days=days_ago)).replace(hour=12, minute=0, second=0, microsecond=0)
    day += timedelta(minutes=minutes)
    if day > now:
        day = now.replace(second=0, microsecond=0) - timedelta(minutes=1 - minutes if minutes < 0 else 1)
    return day.isoformat()
