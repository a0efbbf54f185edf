"""Health over HTTP on both engines (docs/health.md): status, stages, each signal with its reason,
the Pulse, the daily history kept by the server itself, and a rule change rebuilding it.

Histories are built with events and mrr sent with past `created_at` times; the server's own
periodic task (every second in tests: conftest.py) writes the history, so reads of it poll
until it is there. Profiles evaluate their customer when read, so they need no wait."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from salesmachine_server.domain.health_model import HealthModel
from salesmachine_server.project.health_history import replay
from salesmachine_server.store.read.health_states import rule_changes
from tests.support import Project, health_settled, wait_for
from tests.test_read_api import at_local, events_on, reader, send

TODAY = datetime.now(UTC).date()


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


def history(http: httpx.Client, kind: str, uid: str, days_back: int) -> dict[date, dict[str, Any]]:
    answer = http.get(f"/v1/{kind}/{uid}/health", params={"from": day(days_back).isoformat(), "to": TODAY.isoformat()})
    assert answer.status_code == 200, answer.text
    return {date.fromisoformat(d["day"]): d for d in answer.json()["days"]}


def put_model(http: httpx.Client, document: dict[str, Any]) -> httpx.Response:
    return http.put("/v1/settings/health", json=document)


def model(rules: list[dict[str, Any]], stages: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    part = {"trial_when": "plan=trial", "stages": stages or [], "rules": rules}
    return {"accounts": part, "contacts": part, **extra}


DEFAULT_RULE = {
    "stage": None,
    "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
    "bad": [{"signal": "active_days", "days": 14, "at_most": 0}],
}


def test_the_default_model_is_todays_rule_and_its_history_grows_with_changes(project: Project) -> None:
    # Active on the 30th to the 25th day before today, then never again.
    joined = {"method": "contact", "contact_uid": "ann", "created_at": at_local("UTC", 30, 8)}
    send(project, [{**joined, "params": {"account_uid": "acme"}}, *events_on("ann", [30, 29, 28, 27, 26, 25])])
    with reader(project) as http:
        assert http.get("/v1/settings/health").json()["accounts"]["rules"] == [DEFAULT_RULE]
        wait_for(lambda: health_settled(project))
        days = history(http, "contacts", "ann", 40)
        assert min(days) == day(30)  # nothing before it was first seen
        expected = {}
        for d in range(30, -1, -1):
            active = sum(1 for a in range(25, 31) if d <= a < d + 14)
            expected[day(d)] = "good" if active >= 5 else "bad" if active == 0 else "average"
        assert {d: v["band"] for d, v in days.items()} == expected
        assert days[TODAY]["reason"] == "0 active days of 14"
        assert {v["status"] for v in days.values()} == {"free"}
        # The account, active on its contact's days, has the same history.
        account = history(http, "accounts", "acme", 40)
        assert {d: v["band"] for d, v in account.items() if d >= day(30)} == expected
        profile = http.get("/v1/contacts/ann").json()
        assert profile["health"] == {"band": "bad", "reason": "0 active days of 14", "since": day(11).isoformat()}
        assert (profile["status"], profile["stage"], profile["pulse"]) == ("free", None, None)
    # average, good, average, bad: four rows, not one per day.
    rows = project.stored.rows(
        "SELECT h.band, h.from_day, h.to_day FROM health_history h JOIN contact_uids u ON u.contact_id = h.customer_id "
        "WHERE h.project_id = :project AND h.subject = 'contact' AND u.uid = 'ann' ORDER BY h.from_day"
    )
    assert [r[0] for r in rows] == ["average", "good", "average", "bad"]
    assert rows[-1][2] is None


def test_status_paying_then_churned_then_paying_again(project: Project) -> None:
    send(
        project,
        [
            {"method": "account", "account_uid": "acme", "created_at": at_local("UTC", 20, 9), "params": {"mrr": 100}},
            *events_on("bob", list(range(20, -1, -1))),
            {"method": "contact", "contact_uid": "bob", "params": {"account_uid": "acme"}},
            {"method": "account", "account_uid": "acme", "created_at": at_local("UTC", 10, 9), "params": {"mrr": 0}},
            {"method": "account", "account_uid": "acme", "created_at": at_local("UTC", 3, 9), "params": {"mrr": 50}},
        ],
    )
    with reader(project) as http:
        wait_for(lambda: health_settled(project))
        days = history(http, "accounts", "acme", 25)
        for d in range(20, -1, -1):
            status = "paying" if d > 10 or d <= 3 else "churned"
            assert days[day(d)]["status"] == status, d
            if status == "churned":  # churned: no band, apart from the bands
                assert (days[day(d)]["band"], days[day(d)]["reason"]) == (None, "churned: mrr went to 0")
            else:
                assert days[day(d)]["band"] in ("average", "good")
        profile = http.get("/v1/accounts/acme").json()
        assert profile["status"] == "paying" and profile["health"]["since"] == day(3).isoformat()


def test_never_active_customers_have_no_band_and_are_in_no_list_band(project: Project) -> None:
    send(project, [{"method": "account", "account_uid": "quiet", "params": {"name": "Quiet"}}])
    send(project, events_on("busy", [0]))
    with reader(project) as http:
        wait_for(lambda: health_settled(project))
        profile = http.get("/v1/accounts/quiet").json()
        assert profile["health"]["band"] is None
        assert profile["health"]["reason"] == "not started: never active"
        for level in ("good", "average", "bad"):
            assert http.get(f"/v1/accounts?health={level}").json()["data"] == []
        assert [r["account_uid"] for r in http.get("/v1/accounts?health!=bad").json()["data"]] == ["quiet"]
        assert [r["contact_uid"] for r in http.get("/v1/contacts?health=average").json()["data"]] == ["busy"]
        assert http.get("/v1/contacts").json()["data"][0]["health"] == "average"


SIGNALS_MODEL = model(
    [
        {
            "stage": None,
            "good": [{"signal": "milestone", "event": "setup", "done": True}],
            "bad": [
                {"signal": "event", "event": "login", "days": 21, "at_most": 0},
                {"signal": "attribute", "condition": "nps<=6"},
                {"signal": "mrr_contraction", "days": 30},
                {"signal": "pulse", "at_most": 2},
            ],
        }
    ]
)


def _account(uid: str, extra: list[dict[str, Any]], params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """An account with one contact, who logged in 8 days ago and yesterday, plus `extra` items."""
    contact = f"{uid}-user"
    return [
        {"method": "account", "account_uid": uid, "created_at": at_local("UTC", 40, 9), "params": params or {}},
        {"method": "contact", "contact_uid": contact, "params": {"account_uid": uid}},
        *events_on(contact, [8, 1], name="login"),
        *[{**item, "contact_uid": contact} if item["method"] == "event" else item for item in extra],
    ]


def test_each_signal_with_its_reason(project: Project) -> None:
    with reader(project) as http:
        assert put_model(http, SIGNALS_MODEL).status_code == 200
    send(
        project,
        [
            *_account("fine", events_on("x", [5], name="setup")),
            *_account("started", []),
            *_account("unhappy", events_on("x", [5], name="setup"), {"nps": 4}),
            *_account(
                "shrinking",
                [
                    {
                        "method": "account",
                        "account_uid": "shrinking",
                        "created_at": at_local("UTC", 20, 9),
                        "params": {"mrr": 100},
                    },
                    {
                        "method": "account",
                        "account_uid": "shrinking",
                        "created_at": at_local("UTC", 5, 9),
                        "params": {"mrr": 60},
                    },
                ],
            ),
            {"method": "account", "account_uid": "gone-quiet", "created_at": at_local("UTC", 40, 9)},
            {"method": "contact", "contact_uid": "q-user", "params": {"account_uid": "gone-quiet"}},
            *events_on("q-user", [30], name="login"),
            *_account("rated", events_on("x", [5], name="setup")),
        ],
    )
    with reader(project) as http:
        assert http.put("/v1/accounts/rated/pulse", json={"score": 1, "reason": "budget cut"}).status_code == 200

        def health(uid: str) -> dict[str, Any]:
            return http.get(f"/v1/accounts/{uid}").json()["health"]

        assert (health("fine")["band"], health("fine")["reason"]) == ("good", "did `setup`")
        assert health("started")["band"] == "average"
        assert health("started")["reason"] == "never did `setup` (good needs it)"
        assert health("unhappy")["band"] == "bad" and health("unhappy")["reason"] == "`nps<=6`"
        assert health("shrinking")["band"] == "bad"
        assert health("shrinking")["reason"] == "mrr fell in the last 30 days"
        assert health("gone-quiet")["band"] == "bad"
        assert health("gone-quiet")["reason"] == "no `login` in 21 days"
        assert (health("rated")["band"], health("rated")["reason"]) == ("bad", "Pulse 1 of 5")
        pulse = http.get("/v1/accounts/rated").json()["pulse"]
        assert (pulse["score"], pulse["reason"], pulse["stale"]) == (1, "budget cut", False)
        assert pulse["author"] == f"api:{project.token}"
        # The history agrees with the profiles once the task has run.
        wait_for(lambda: health_settled(project))
        # Since the first day of the state: setup was done 5 days ago; the Pulse is today's.
        assert (health("fine")["since"], health("rated")["since"]) == (day(5).isoformat(), TODAY.isoformat())
        bands = {r["account_uid"] for r in http.get("/v1/accounts?health=bad").json()["data"]}
        assert bands == {"unhappy", "shrinking", "gone-quiet", "rated"}
        # mrr fell 5 days ago: bad since then, over the 30 days of the signal.
        shrinking = history(http, "accounts", "shrinking", 10)
        assert [shrinking[day(d)]["band"] for d in (6, 5, 0)] == ["average", "bad", "bad"]


def test_the_stage_funnel_and_a_rule_per_stage(project: Project) -> None:
    stages = [{"name": "Onboarding", "when": "first_seen_at>-30d"}, {"name": "Adopted", "when": "seats>=5"}]
    rules = [
        # A new customer is judged on its first login only.
        {"stage": "Onboarding", "good": [{"signal": "milestone", "event": "login", "done": True}], "bad": []},
        DEFAULT_RULE,
    ]
    with reader(project) as http:
        assert put_model(http, model(rules, stages)).status_code == 200
    send(
        project,
        [
            {"method": "account", "account_uid": "new", "created_at": at_local("UTC", 10, 9), "params": {"seats": 2}},
            {"method": "account", "account_uid": "big", "created_at": at_local("UTC", 60, 9), "params": {"seats": 10}},
            {
                "method": "account",
                "account_uid": "new-big",
                "created_at": at_local("UTC", 5, 9),
                "params": {"seats": 9},
            },
            {"method": "account", "account_uid": "old", "created_at": at_local("UTC", 60, 9), "params": {"seats": 1}},
            {"method": "account", "account_uid": "grown", "created_at": at_local("UTC", 40, 9), "params": {"seats": 1}},
            {"method": "contact", "contact_uid": "n", "params": {"account_uid": "new"}},
            *events_on("n", [1], name="login"),
        ],
    )
    with reader(project) as http:
        stage = {uid: http.get(f"/v1/accounts/{uid}").json()["stage"] for uid in ("new", "big", "new-big", "old")}
        assert stage == {"new": "Onboarding", "big": "Adopted", "new-big": "Adopted", "old": None}
        # The same relative condition filters a list, relative to now.
        recent = http.get("/v1/accounts", params={"first_seen_at>": "-30d", "sort": "account_uid"}).json()["data"]
        assert [a["account_uid"] for a in recent] == ["new", "new-big"]
        new = http.get("/v1/accounts/new").json()["health"]
        assert (new["band"], new["reason"]) == ("good", "did `login`")  # its stage's rule, not the default
        wait_for(lambda: health_settled(project))
        grown = history(http, "accounts", "grown", 45)
        # Onboarding for its first 30 days, in no stage after.
        assert {d: v["stage"] for d, v in grown.items()} == {
            day(d): "Onboarding" if d > 10 else None for d in range(40, -1, -1)
        }
        assert all(v["band"] is None and v["reason"] == "not started: never active" for v in grown.values())


def test_a_rule_change_rebuilds_the_history(project: Project) -> None:
    send(project, events_on("cat", [12, 11, 10, 3]))
    with reader(project) as http:
        wait_for(lambda: health_settled(project))
        before = history(http, "contacts", "cat", 15)
        assert before[TODAY]["band"] == "average"  # 2 active days of 14
        stricter = model(
            [
                {
                    "stage": None,
                    "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
                    "bad": [{"signal": "active_days", "days": 7, "at_most": 1}],
                }
            ]
        )
        # The backtest's replay computes the draft over the past without storing anything.
        cat = project.stored.contact_id("cat")
        stored_before = project.stored.rows("SELECT count(*) FROM health_history WHERE project_id = :project")
        with project.stored.engines.reader.connect() as conn:
            replayed = replay(conn, project.id, HealthModel.parse(stricter), "contact", day(15), TODAY)[cat]
        assert project.stored.rows("SELECT count(*) FROM health_history WHERE project_id = :project") == stored_before
        saved = put_model(http, stricter)
        assert saved.status_code == 200, saved.text
        assert http.get("/v1/settings/health").json() == saved.json()
        wait_for(lambda: health_settled(project))
        after = history(http, "contacts", "cat", 15)
        # With 7 days, one active day (3 days ago) in the window is bad now, and was on day 4
        # (the 10th-12th left the window), but not on day 9 (10 and 11 were in it).
        assert after[TODAY] == {**after[TODAY], "band": "bad", "reason": "1 active day of 7"}
        assert after[day(9)]["band"] == "average" and after[day(4)]["band"] == "bad"
        # What the replay said is what the rebuild stored, day by day.
        by_day = {}
        for one in replayed:
            d = one.from_day
            while d < one.to_day:
                by_day[d] = (one.status, one.stage, one.band)
                d += timedelta(days=1)
        assert by_day == {d: (v["status"], v["stage"], v["band"]) for d, v in after.items() if d >= day(15)}
        with project.stored.engines.reader.connect() as conn:
            assert rule_changes(conn, project.id, day(3), TODAY) == [TODAY]
            assert rule_changes(conn, project.id, day(3), day(1)) == []
    written = project.stored.rows(
        "SELECT DISTINCT written_by FROM health_history WHERE project_id = :project AND subject = 'contact'"
    )
    assert [w[0] for w in written] == ["rebuild"]


@pytest.mark.parametrize(
    "document,field,rule",
    [
        ([], "document", "object"),
        ({"accounts": {}}, "accounts.rules", "list"),
        (
            model([{**DEFAULT_RULE, "bad": [{"signal": "active_days", "days": 0, "at_most": 0}]}]),
            "accounts.rules[0].bad[0].days",
            "whole_number",
        ),
        (model([{**DEFAULT_RULE, "good": [{"signal": "vibes"}]}]), "accounts.rules[0].good[0].signal", "one_of"),
        (model([{**DEFAULT_RULE, "stage": "Nope"}]), "accounts.rules[0].stage", "known_stage"),
        (
            model([{"stage": None, "good": [], "bad": [{"signal": "attribute", "condition": "mrr>>"}]}]),
            "accounts.rules[0].bad[0].condition",
            "number",
        ),
        (model([DEFAULT_RULE], [{"name": "X", "when": "health=bad"}]), "accounts.stages[0].when", "no_health"),
        (model([DEFAULT_RULE], pulse_stale_after_days=0), "pulse_stale_after_days", "whole_number"),
        ({**model([DEFAULT_RULE]), "colour": "red"}, "colour", "known_field"),
    ],
)
def test_a_bad_document_is_a_400_naming_field_and_rule(project: Project, document: Any, field: str, rule: str) -> None:
    with reader(project) as http:
        answer = put_model(http, document)
        assert answer.status_code == 400, answer.text
        assert (answer.json()["field"], answer.json()["rule"]) == (field, rule)
        assert http.get("/v1/settings/health").json()["accounts"]["rules"] == [DEFAULT_RULE]  # nothing saved


def test_pulse_and_history_inputs_are_checked(project: Project) -> None:
    send(project, [{"method": "account", "account_uid": "acme"}])
    with reader(project) as http:
        for body, field, rule in (
            ({"score": 6}, "score", "range"),
            ({"score": True}, "score", "range"),
            ({"score": 3, "reason": 5}, "reason", "string"),
            ({"score": 3, "mood": "ok"}, "mood", "known_field"),
            ([], "body", "object"),
        ):
            answer = http.put("/v1/accounts/acme/pulse", json=body)
            assert answer.status_code == 400 and (answer.json()["field"], answer.json()["rule"]) == (field, rule)
        assert http.put("/v1/accounts/nobody/pulse", json={"score": 3}).json()["rule"] == "exists"
        bad_json = http.put("/v1/accounts/acme/pulse", content=b"{", headers={"content-type": "application/json"})
        assert (bad_json.status_code, bad_json.json()["rule"]) == (400, "json")
        for query, field, rule in (
            ("from=yesterday", "from", "date"),
            ("from=2026-02-10&to=2026-02-01", "from", "order"),
            ("from=2020-01-01&to=2026-01-01", "from", "range"),
        ):
            answer = http.get(f"/v1/accounts/acme/health?{query}")
            assert answer.status_code == 400 and (answer.json()["field"], answer.json()["rule"]) == (field, rule)
        assert http.get("/v1/contacts/nobody/health").status_code == 404
        assert project.http.put("/v1/settings/health", json=model([DEFAULT_RULE])).status_code == 401  # token alone
