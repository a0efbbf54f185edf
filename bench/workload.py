"""The requests the write scenarios send, generated once, deterministically (seeded).

A batch is 100 items in a shuffled order: exactly 70 events, 20 pageviews, 8 contact updates
and 2 account updates, over 10,000 contacts (`c0`..`c9999`) and 1,000 accounts (`a0`..`a999`).
Contact `cN` belongs to account `a(N mod 1000)`. Half the events name that account in
`params.account_uid`, as server-side SDK calls usually do. No item carries a messageId (the
bodies are cycled, so ids would repeat and be acknowledged as duplicates instead of stored).

The same items, turned into `events` rows, are what the raw-insert limit writes.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

CONTACTS = 10_000
ACCOUNTS = 1_000
BATCH_ITEMS = 100
MIX = {"event": 70, "pageview": 20, "contact": 8, "account": 2}

EVENT_NAMES = ["feature_used", "report_viewed", "invoice_paid", "user_invited", "file_uploaded",
               "search", "export_started", "login", "settings_changed", "comment_added"]
PAGES = ["/dashboard", "/reports", "/reports/42", "/settings", "/billing", "/team", "/inbox", "/search?q=mrr"]
PLANS = ["free", "starter", "pro", "enterprise"]


def account_of(contact: int) -> str:
    return f"a{contact % ACCOUNTS}"


def item(rng: random.Random, method: str) -> dict[str, Any]:
    contact = rng.randrange(CONTACTS)
    uid = f"c{contact}"
    if method == "event":
        params: dict[str, Any] = {"feature": rng.choice(EVENT_NAMES[:6]), "duration_ms": rng.randrange(20, 5000),
                                  "plan": rng.choice(PLANS)}
        if rng.random() < 0.5:
            params["account_uid"] = account_of(contact)
        return {"method": "event", "contact_uid": uid, "event_uid": rng.choice(EVENT_NAMES), "params": params}
    if method == "pageview":
        page = rng.choice(PAGES)
        return {"method": "pageview", "contact_uid": uid,
                "params": {"url": f"https://app.example.com{page}", "title": page.strip("/").title() or "Home",
                           "referrer": "https://app.example.com/dashboard"}}
    if method == "contact":
        return {"method": "contact", "contact_uid": uid,
                "params": {"email": f"{uid}@example.com", "name": f"Contact {contact}", "plan": rng.choice(PLANS),
                           "seats": rng.randrange(1, 50), "account_uid": account_of(contact)}}
    account = rng.randrange(ACCOUNTS)
    return {"method": "account", "account_uid": f"a{account}",
            "params": {"name": f"Account {account}", "domain": f"a{account}.example.com",
                       "mrr": rng.choice([49, 99, 199, 499, 999])}}


def batch(rng: random.Random) -> list[dict[str, Any]]:
    methods = [m for m, n in MIX.items() for _ in range(n)]
    rng.shuffle(methods)
    return [item(rng, m) for m in methods]


def single_event(rng: random.Random) -> dict[str, Any]:
    """One event as `POST /v1/track/event` takes it (no `method` key)."""
    event = item(rng, "event")
    del event["method"]
    return event


def write_batches(path: Path, count: int, seed: int = 1) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    batches = [batch(rng) for _ in range(count)]
    path.write_bytes(b"\n".join(orjson.dumps(b) for b in batches) + b"\n")
    return batches


def write_singles(path: Path, count: int, seed: int = 2) -> None:
    rng = random.Random(seed)
    path.write_bytes(b"\n".join(orjson.dumps(single_event(rng)) for _ in range(count)) + b"\n")
