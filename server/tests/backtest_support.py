"""A project's past whose backtest figures are worked out by hand: sent through the tracking API
(accounts with mrr, contacts, events, all with past timestamps), shared by the API, CLI and
dashboard tests of the backtest.

Days are counted back from T, today (UTC, the project's time zone); every event is at noon UTC
on its day, every mrr change too. The backtest asked for covers T-120 .. T-1, so health is
replayed from T-180. "Every other day" means the days T-a, T-a+2, ... T-b.

The saved model is the default rule: over the last 14 days (the day itself included), good
with 5 active days or more, bad with none, average otherwise.

| account | mrr | activity | churn |
|---|---|---|---|
| acme | 100 from T-300 | every other day T-200..T-100 | T-70 |
| globex | 200 from T-300 | every 7th day T-200..T-46 (2 active days in any 14) | T-28 |
| initech | 50 from T-300 | every other day T-150..T-26 | T-25 |
| umbrella | 300 from T-300 | every other day T-200..T-110 and T-50..T-2 | none |
| hooli | 80 from T-300 | every other day T-200..T-80 and T-54..T-2 | none |
| freebie | none | every day T-200..T-190 | none (never paying) |
| oldco | 10 from T-300 | none | T-150 (before the range) |

Default rule, by hand:
- acme: last active T-100; windows without it from T-86: bad T-86..T-71 = 16 days before its
  churn. T-77 (7 before) bad; T-100 (30 before) good (7 active days); T-130 (60 before) good.
- globex: average all along (2 active days in 14); last active T-46, bad from T-32 (the window
  T-45..T-32 is empty): bad T-32..T-29 = 4 days. T-35, T-58 and T-88: average.
- initech: good until its churn (7 active days in 14): 0 days bad; good at T-32, T-55, T-85.
- umbrella: last active T-110, then T-50: bad T-96..T-51 = 46 days while paying, no churn: a
  false alarm.
- hooli: bad T-66..T-55 = 12 days: not a false alarm.
- freebie: bad from T-186 for good, but never paying: not a false alarm.
- oldco: churned before the range: not counted.

So: churned 3 (acme, globex, initech by churn day: acme T-70, globex T-28, initech T-25);
7 days before: bad 1 (acme), bad or average 2 (acme, globex); 30 days before: bad 0, bad or
average 1 (globex); 60 days: the same; median of 16, 4 and 0: 4; false alarms 1 (umbrella,
T-96..T-51, 46 days).

The draft (DRAFT): bad with no active day in the last 7 days (good unchanged), by hand:
- acme: bad from T-93 (T-99..T-93 empty): T-93..T-71 = 23 days; T-77 bad, T-100 good, T-130 good.
- globex: any 7 days hold one of its active days until T-46: bad from T-39 to T-29 = 11 days;
  T-35 bad, T-58 and T-88 average.
- initech: never bad (3 or 4 active days in any 7): 0.
- umbrella: bad T-103..T-51 = 53 days: a false alarm. hooli: bad T-73..T-55 = 19 days: not one.

So: churned 3; 7 days: bad 2 (acme, globex), bad or average 2; 30 and 60 days: bad 0, bad or
average 1 (globex); median of 23, 11, 0: 11; false alarms 1 (umbrella, 53 days).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from tests.support import Project

FROM_DAYS_AGO, TO_DAYS_AGO = 120, 1

DEFAULT_MODEL_RULE = {
    "stage": None,
    "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
    "bad": [{"signal": "active_days", "days": 14, "at_most": 0}],
}
DRAFT_RULE = {
    "stage": None,
    "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
    "bad": [{"signal": "active_days", "days": 7, "at_most": 0}],
}


def document(accounts_rule: dict[str, Any]) -> dict[str, Any]:
    """The default health settings document with the accounts' one rule replaced."""
    from salesmachine_server.domain.health_model import HealthModel

    whole = HealthModel.default().to_document()
    whole["accounts"]["rules"] = [accounts_rule]
    return whole


def today() -> date:
    return datetime.now(UTC).date()


def day(days_ago: int) -> date:
    return today() - timedelta(days=days_ago)


def noon(days_ago: int) -> str:
    return datetime.combine(day(days_ago), time(12), UTC).isoformat()


def every(start_ago: int, end_ago: int, step: int) -> list[int]:
    """Days ago from start_ago down to end_ago, every `step` days."""
    return list(range(start_ago, end_ago - 1, -step))


ACCOUNTS: dict[str, dict[str, Any]] = {
    "acme": {"name": "Acme Corp", "mrr": [(300, 100), (70, 0)], "active": every(200, 100, 2)},
    "globex": {"name": "Globex", "mrr": [(300, 200), (28, 0)], "active": every(200, 46, 7)},
    "initech": {"name": "Initech", "mrr": [(300, 50), (25, 0)], "active": every(150, 26, 2)},
    "umbrella": {"name": "Umbrella", "mrr": [(300, 300)], "active": every(200, 110, 2) + every(50, 2, 2)},
    "hooli": {"name": "Hooli", "mrr": [(300, 80)], "active": every(200, 80, 2) + every(54, 2, 2)},
    "freebie": {"name": "Freebie", "mrr": [], "active": every(200, 190, 1)},
    "oldco": {"name": "Oldco", "mrr": [(300, 10), (150, 0)], "active": []},
}


def send_history(project: Project) -> None:
    """The accounts of the table above, each with one contact, through /v1/batch."""
    items: list[dict[str, Any]] = []
    for uid, account in ACCOUNTS.items():
        items.append(
            {"method": "account", "account_uid": uid, "created_at": noon(310), "params": {"name": account["name"]}}
        )
        items.append(
            {
                "method": "contact",
                "contact_uid": f"{uid}-user",
                "created_at": noon(310),
                "params": {"email": f"user@{uid}.example", "account_uid": uid},
            }
        )
        for days_ago, mrr in account["mrr"]:
            items.append(
                {"method": "account", "account_uid": uid, "created_at": noon(days_ago), "params": {"mrr": mrr}}
            )
        for days_ago in account["active"]:
            items.append(
                {
                    "method": "event",
                    "contact_uid": f"{uid}-user",
                    "event_uid": "login",
                    "params": {"account_uid": uid},
                    "created_at": noon(days_ago),
                }
            )
    for i in range(0, len(items), 500):
        answer = project.http.post("/v1/batch", json=items[i : i + 500])
        assert answer.status_code == 201, answer.text
        assert "rejected" not in answer.json(), answer.text


def asked_range() -> dict[str, str]:
    return {"from": day(FROM_DAYS_AGO).isoformat(), "to": day(TO_DAYS_AGO).isoformat()}


def expected_saved() -> dict[str, Any]:
    """The answer for the default rule, worked out in the module's docstring."""
    return {
        "churned": 3,
        "flagged": {
            "7": {"bad": 1, "bad_or_average": 2},
            "30": {"bad": 0, "bad_or_average": 1},
            "60": {"bad": 0, "bad_or_average": 1},
        },
        "median_days_bad_before_churn": 4.0,
        "false_alarms": 1,
        "accounts": {
            "churned": [
                churned("acme", "Acme Corp", 70, ("bad", "good", "good"), 16),
                churned("globex", "Globex", 28, ("average", "average", "average"), 4),
                churned("initech", "Initech", 25, ("good", "good", "good"), 0),
            ],
            "flagged": {
                "7": {"bad": ["acme"], "bad_or_average": ["acme", "globex"]},
                "30": {"bad": [], "bad_or_average": ["globex"]},
                "60": {"bad": [], "bad_or_average": ["globex"]},
            },
            "false_alarms": [alarm("umbrella", "Umbrella", 96, 51)],
        },
    }


def expected_draft() -> dict[str, Any]:
    """The answer for DRAFT_RULE, worked out in the module's docstring."""
    return {
        "churned": 3,
        "flagged": {
            "7": {"bad": 2, "bad_or_average": 2},
            "30": {"bad": 0, "bad_or_average": 1},
            "60": {"bad": 0, "bad_or_average": 1},
        },
        "median_days_bad_before_churn": 11.0,
        "false_alarms": 1,
        "accounts": {
            "churned": [
                churned("acme", "Acme Corp", 70, ("bad", "good", "good"), 23),
                churned("globex", "Globex", 28, ("bad", "average", "average"), 11),
                churned("initech", "Initech", 25, ("good", "good", "good"), 0),
            ],
            "flagged": {
                "7": {"bad": ["acme", "globex"], "bad_or_average": ["acme", "globex"]},
                "30": {"bad": [], "bad_or_average": ["globex"]},
                "60": {"bad": [], "bad_or_average": ["globex"]},
            },
            "false_alarms": [alarm("umbrella", "Umbrella", 103, 51)],
        },
    }


def churned(uid: str, name: str, days_ago: int, bands: tuple[str, str, str], days_bad: int) -> dict[str, Any]:
    return {
        "account_uid": uid,
        "name": name,
        "churned_on": day(days_ago).isoformat(),
        "bands_before": dict(zip(("7", "30", "60"), bands)),
        "days_bad_before_churn": days_bad,
    }


def alarm(uid: str, name: str, from_ago: int, to_ago: int) -> dict[str, Any]:
    return {
        "account_uid": uid,
        "name": name,
        "bad_from": day(from_ago).isoformat(),
        "bad_to": day(to_ago).isoformat(),
        "days_bad": from_ago - to_ago + 1,
    }


def figures(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without what the expectations leave to other tests (range, zone, which rules)."""
    return {
        key: answer[key] for key in ("churned", "flagged", "median_days_bad_before_churn", "false_alarms", "accounts")
    }


def backtest(project: Project, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=120) as reader:
        return reader.post("/v1/health/backtest", json=body)
