"""mrr sent with a past `created_at` (a backfill) is placed in the revenue history at its own time.

An mrr value effective at T is compared with the value in force at T (the latest history entry
at or before T), not with the current one; it is inserted at T; and it becomes the current
mrr (`params.mrr`) only when no entry is later than T. At equal times the value recorded last
wins: in one request, the later item. Everything is sent and read back over HTTP (the profile
API and GET /v1/revenue), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import subprocess
import sys
from bisect import bisect_right
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.support import Project, ServerProcess, make_project
from tests.test_revenue import account_mrr, contact_mrr, get_report, moves, reader, send

JAN, FEB, MAR, APR = "2024-01-10T00:00:00Z", "2024-02-10T00:00:00Z", "2024-03-10T00:00:00Z", "2024-04-10T00:00:00Z"


def profile(project: Project, kind: str, uid: str) -> dict[str, Any]:
    with reader(project) as http:
        response = http.get(f"/v1/{kind}s/{uid}")
    assert response.status_code == 200, response.text
    return response.json()


def history(project: Project, kind: str, uid: str) -> list[tuple[Any, str]]:
    """(mrr, effective_at) as the profile API lists them, oldest first."""
    return [(row["mrr"], row["effective_at"]) for row in profile(project, kind, uid)["mrr_history"]]


def current(project: Project, kind: str, uid: str) -> Any:
    body = profile(project, kind, uid)
    assert body["mrr"] == body["params"].get("mrr")
    return body["mrr"]


def monthly(project: Project, first: str = "2023-12-01", last: str = "2024-05-31") -> dict[str, dict[str, Any]]:
    """Each month by its first day: its closing MRR and its movements (kind -> [(uid, from, to)])."""
    report = get_report(project, **{"from": first, "to": last, "interval": "month"})
    return {p["start"]: {"mrr": p["mrr"], **moves(p)} for p in report["periods"]}


def test_a_backfill_between_two_values_is_a_change_at_its_own_time(project: Project) -> None:
    send(project, [account_mrr("acme", JAN, 100), account_mrr("acme", MAR, 200)])
    send(project, [account_mrr("acme", FEB, 150)])
    assert history(project, "account", "acme") == [(100, JAN), (150, FEB), (200, MAR)]
    assert current(project, "account", "acme") == 200  # the newest value stays the current one
    assert monthly(project) == {
        "2023-12-01": {"mrr": 0},
        "2024-01-01": {"mrr": 100, "new": [("acme", 0, 100)]},
        "2024-02-01": {"mrr": 150, "expansion": [("acme", 100, 150)]},
        "2024-03-01": {"mrr": 200, "expansion": [("acme", 150, 200)]},
        "2024-04-01": {"mrr": 200},
        "2024-05-01": {"mrr": 200},
    }


def test_a_backfill_equal_to_the_value_in_force_at_its_time_records_nothing(project: Project) -> None:
    # Before the fix, 100 at February was compared with the current 200: a change, recorded.
    send(project, [account_mrr("acme", JAN, 100), account_mrr("acme", MAR, 200)])
    send(project, [account_mrr("acme", FEB, 100)])
    assert history(project, "account", "acme") == [(100, JAN), (200, MAR)]
    assert current(project, "account", "acme") == 200
    # ... and a value equal to the current one, sent for a time when another was in force, is
    # a change then (it was compared with the current value, and dropped, before the fix).
    send(project, [account_mrr("acme", FEB, 200)])
    assert history(project, "account", "acme") == [(100, JAN), (200, FEB), (200, MAR)]
    assert current(project, "account", "acme") == 200
    months = monthly(project)
    assert months["2024-02-01"] == {"mrr": 200, "expansion": [("acme", 100, 200)]}
    assert months["2024-03-01"] == {"mrr": 200}  # the March entry now repeats February's: no movement


def test_a_value_equal_to_the_one_in_force_is_not_recorded_so_a_later_backfill_reaches_past_it(
    project: Project,
) -> None:
    """The limit of recording changes only (docs/revenue.md): 100 sent for March when 100 was
    in force leaves no trace, so 150 sent for February afterwards is in force in March too."""
    send(project, [account_mrr("acme", JAN, 100), account_mrr("acme", MAR, 100), account_mrr("acme", APR, 200)])
    send(project, [account_mrr("acme", FEB, 150)])
    assert history(project, "account", "acme") == [(100, JAN), (150, FEB), (200, APR)]
    assert monthly(project)["2024-03-01"] == {"mrr": 150}


def test_a_value_newer_than_the_history_is_the_current_one(project: Project) -> None:
    send(project, [account_mrr("acme", JAN, 100), account_mrr("acme", MAR, 200)])
    send(project, [account_mrr("acme", APR, 300)])
    assert history(project, "account", "acme") == [(100, JAN), (200, MAR), (300, APR)]
    assert current(project, "account", "acme") == 300
    assert monthly(project)["2024-04-01"] == {"mrr": 300, "expansion": [("acme", 200, 300)]}


def test_backfills_before_the_first_value_and_removals_in_the_past(project: Project) -> None:
    send(
        project,
        [
            account_mrr("early", JAN, 100),
            account_mrr("early", MAR, 200),
            account_mrr("gap", JAN, 100),
            account_mrr("gap", MAR, 200),
        ],
    )
    send(project, [account_mrr("early", "2023-12-10T00:00:00Z", 50), account_mrr("gap", FEB, None)])
    assert history(project, "account", "early") == [(50, "2023-12-10T00:00:00Z"), (100, JAN), (200, MAR)]
    assert history(project, "account", "gap") == [(100, JAN), (None, FEB), (200, MAR)]
    assert (current(project, "account", "early"), current(project, "account", "gap")) == (200, 200)
    assert monthly(project) == {
        "2023-12-01": {"mrr": 50, "new": [("early", 0, 50)]},
        "2024-01-01": {"mrr": 200, "new": [("gap", 0, 100)], "expansion": [("early", 50, 100)]},
        "2024-02-01": {"mrr": 100, "churn": [("gap", 100, 0)]},
        "2024-03-01": {"mrr": 400, "reactivation": [("gap", 0, 200)], "expansion": [("early", 100, 200)]},
        "2024-04-01": {"mrr": 400},
        "2024-05-01": {"mrr": 400},
    }
    # A removal backfilled where nothing was in force records nothing.
    send(project, [account_mrr("early", "2023-11-01T00:00:00Z", None)])
    assert len(history(project, "account", "early")) == 3


def test_at_an_equal_time_the_value_recorded_last_wins(project: Project) -> None:
    send(project, [account_mrr("acme", JAN, 100), account_mrr("acme", MAR, 200)])
    send(project, [account_mrr("acme", JAN, 120)])  # same instant as the first entry: replaces it
    send(project, [account_mrr("acme", MAR, 175)])  # same instant as the latest: the current value
    assert history(project, "account", "acme") == [(100, JAN), (120, JAN), (200, MAR), (175, MAR)]
    assert current(project, "account", "acme") == 175
    months = monthly(project)
    assert months["2024-01-01"] == {"mrr": 120, "new": [("acme", 0, 120)]}
    assert months["2024-03-01"] == {"mrr": 175, "expansion": [("acme", 120, 175)]}
    send(project, [account_mrr("acme", JAN, 120), account_mrr("acme", MAR, 175)])  # in force already
    assert len(history(project, "account", "acme")) == 4


def test_a_contact_without_an_account_is_backfilled_the_same_way(project: Project) -> None:
    send(project, [contact_mrr("solo", JAN, 30, plan="basic"), contact_mrr("solo", MAR, 60, plan="pro")])
    send(project, [contact_mrr("solo", FEB, 45, plan="mid")])
    assert history(project, "contact", "solo") == [(30, JAN), (45, FEB), (60, MAR)]
    body = profile(project, "contact", "solo")
    assert body["mrr"] == 60
    # Only mrr is ordered by time: other params are merged as received, the last one wins.
    assert body["params"] == {"mrr": 60, "plan": "mid"}
    months = monthly(project)
    assert months["2024-02-01"] == {"mrr": 45, "expansion": [("contact:solo", 30, 45)]}
    assert months["2024-03-01"] == {"mrr": 60, "expansion": [("contact:solo", 45, 60)]}


def test_one_request_with_times_out_of_order(project: Project) -> None:
    # A new account whose values arrive newest first.
    send(
        project,
        [
            account_mrr("new", APR, 300),
            account_mrr("new", MAR, 250),
            account_mrr("new", JAN, 100),
            account_mrr("new", FEB, 100),
        ],
    )  # February repeats January's value: nothing
    assert history(project, "account", "new") == [(100, JAN), (250, MAR), (300, APR)]
    assert current(project, "account", "new") == 300
    # An account with a stored history: a newest value, a backfill before it, two values at
    # one instant (the later item wins), and a repeat of what is in force by then.
    send(project, [account_mrr("old", JAN, 100), account_mrr("old", MAR, 200)])
    send(
        project,
        [
            account_mrr("old", APR, 300),
            account_mrr("old", FEB, 150),
            account_mrr("old", FEB, 160),
            account_mrr("old", MAR, 200),
            account_mrr("old", "2024-04-20T00:00:00Z", 400),
            account_mrr("old", "2024-04-20T00:00:00Z", 350),
        ],
    )
    assert history(project, "account", "old") == [
        (100, JAN),
        (150, FEB),
        (160, FEB),
        (200, MAR),
        (300, APR),
        (400, "2024-04-20T00:00:00Z"),
        (350, "2024-04-20T00:00:00Z"),
    ]
    assert current(project, "account", "old") == 350
    months = monthly(project)
    assert months["2024-02-01"] == {"mrr": 260, "expansion": [("old", 100, 160)]}
    assert months["2024-04-01"] == {"mrr": 650, "expansion": [("old", 200, 350), ("new", 250, 300)]}
    # Within one request, the newest value is current even when it is not the last item.
    send(project, [account_mrr("last", APR, 10), account_mrr("last", JAN, 20)])
    assert current(project, "account", "last") == 10


def test_a_backfill_leaves_the_current_mrr_but_its_other_params_are_merged(project: Project) -> None:
    send(
        project,
        [{"method": "account", "account_uid": "acme", "created_at": MAR, "params": {"name": "Acme", "mrr": 200}}],
    )
    send(
        project,
        [{"method": "account", "account_uid": "acme", "created_at": JAN, "params": {"name": "Acme Inc.", "mrr": 100}}],
    )
    body = profile(project, "account", "acme")
    assert body["params"] == {"name": "Acme Inc.", "mrr": 200}
    assert history(project, "account", "acme") == [(100, JAN), (200, MAR)]


def _model(writes: list[tuple[str, Any]]) -> list[tuple[Any, str]]:
    """The documented rule, written out: each value, in the order received, is inserted after
    every entry at or before its time unless it equals the one in force there."""
    entries: list[tuple[str, Any]] = []
    for at, value in writes:
        index = bisect_right([when for when, _ in entries], at)
        if value != (entries[index - 1][1] if index else None):
            entries.insert(index, (at, value))
    return [(value, at) for at, value in entries]


def test_random_histories_sent_in_random_batches_follow_the_rule(project: Project) -> None:
    """Values drawn from a few, at a few instants, sent in batches of random sizes: the stored
    history, the current value and the revenue report are what the rule gives."""
    days = [(datetime(2024, 1, 1) + timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (0, 20, 40, 45, 70)]
    rng = random.Random(20240601)
    expected_mrr = 0.0
    for unit in range(12):
        uid = f"u{unit}"
        writes = [(rng.choice(days), rng.choice([None, 0, 50, 100, 150])) for _ in range(rng.randrange(1, 12))]
        position = 0
        while position < len(writes):
            size = rng.randrange(1, 5)
            send(project, [account_mrr(uid, at, value) for at, value in writes[position : position + size]])
            position += size
        expected = _model(writes)
        assert history(project, "account", uid) == expected, writes
        assert current(project, "account", uid) == (expected[-1][0] if expected else None), writes
        expected_mrr += (expected[-1][0] or 0) if expected else 0
    report = get_report(project, **{"from": "2024-01-01", "to": "2024-03-31", "interval": "week"})
    assert report["periods"][-1]["mrr"] == expected_mrr


def test_concurrent_calls_sharing_commits_give_every_order_the_same_history(project: Project) -> None:
    """Values all different, at instants all different: whatever the order they arrive in and
    however the calls are grouped into commits, each is a change at its own time, and the
    current value is the one at the latest instant."""
    base = str(project.http.base_url).rstrip("/")
    instants = [datetime(2024, 1, 1) + timedelta(hours=7 * i) for i in range(60)]
    values = list(range(1, 61))
    order = list(range(60))
    random.Random(7).shuffle(order)

    def post(i: int) -> int:
        with httpx.Client(base_url=base, auth=(project.token, ""), timeout=30) as http:
            body = {"account_uid": "shared", "created_at": instants[i].isoformat() + "Z", "params": {"mrr": values[i]}}
            return http.post("/v1/account", json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert set(pool.map(post, order)) == {201}
    assert history(project, "account", "shared") == [
        (values[i], instants[i].strftime("%Y-%m-%dT%H:%M:%SZ")) for i in range(60)
    ]
    assert current(project, "account", "shared") == 60


def test_an_export_of_a_backfilled_history_imports_to_the_same_revenue(
    project: Project, server: ServerProcess, tmp_path: Path
) -> None:
    """The importer replays the history at its times and sends the params without mrr (they
    are sent at first_seen_at: their mrr would be a backfill there). An entry that repeats the
    one before it (here March's 200, after February's backfilled 200) is not recorded again."""
    send(
        project,
        [
            {"method": "account", "account_uid": "acme", "created_at": JAN, "params": {"name": "Acme", "mrr": 100}},
            account_mrr("acme", MAR, 200),
            account_mrr("acme", APR, 250),
        ],
    )
    send(project, [account_mrr("acme", FEB, 200)])
    assert history(project, "account", "acme") == [(100, JAN), (200, FEB), (200, MAR), (250, APR)]
    target, target_secret = make_project(server.database_url)
    with reader(project) as http:
        exported = http.get("/v1/export/accounts", params={"format": "ndjson"})
    assert exported.status_code == 200, exported.text
    path = tmp_path / "accounts.ndjson"
    path.write_bytes(exported.content)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "salesmachine_server",
            "import",
            str(path),
            "--project",
            target.name,
            "--database",
            server.database_url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with httpx.Client(base_url=server.base_url, auth=(target.token, target_secret), timeout=30) as http:
        imported = http.get("/v1/accounts/acme").json()
        imported_report = http.get("/v1/revenue", params={"from": "2024-01-01", "to": "2024-04-30"}).json()
    original = profile(project, "account", "acme")
    assert imported["params"] == original["params"] == {"name": "Acme", "mrr": 250}
    assert [(row["mrr"], row["effective_at"]) for row in imported["mrr_history"]] == [
        (100, JAN),
        (200, FEB),
        (250, APR),
    ]
    assert imported_report["periods"] == get_report(project, **{"from": "2024-01-01", "to": "2024-04-30"})["periods"]
