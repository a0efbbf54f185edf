"""Profiles and lists (issue 18, item 7): an account's page shows its status, stage, health since
when, a 90-day trend with where the rule changed, and its Pulse with a form to rate it; lists and
saved segments filter and sort by status, stage and health in the one list language (the API's
`GET /v1/accounts?status=paying&sort=-mrr` and the dashboard's form alike); the contacts list
shows each contact's account.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.support import Project, ServerProcess, health_settled, wait_for
from tests.test_dashboard_home import chart_data, send_portfolio, today

# A health model with one stage for accounts, "Big" from 1,000 of mrr, and the default rule
# (docs/health.md).
DEFAULT_RULES = [
    {
        "stage": None,
        "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
        "bad": [{"signal": "active_days", "days": 14, "at_most": 0}],
    }
]
BIG_STAGE = {
    "accounts": {"trial_when": "plan=trial", "stages": [{"name": "Big", "when": "mrr>=1000"}], "rules": DEFAULT_RULES},
    "contacts": {"trial_when": "plan=trial", "stages": [], "rules": DEFAULT_RULES},
}


def api(server: ServerProcess, project: Project) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, auth=(project.token, project.secret), timeout=30)


def uids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [row["account_uid"] for row in answer.json()["data"]]


def test_the_api_lists_filter_and_sort_by_status_stage_and_health(server: ServerProcess, project: Project) -> None:
    send_portfolio(project)
    wait_for(lambda: health_settled(project))
    with api(server, project) as http:
        assert uids(http.get("/v1/accounts?status=paying&sort=-mrr")) == ["hooli", "globex", "acme"]
        assert uids(http.get("/v1/accounts?status=churned")) == ["initech"]
        assert uids(http.get("/v1/accounts?status!=paying&sort=account_uid")) == ["initech"]
        assert uids(http.get("/v1/accounts?status=trial")) == []
        assert uids(http.get("/v1/accounts?health=bad&sort=-mrr")) == ["hooli", "globex"]
        # Health from no band (Initech, churned) to good; ties in the order created.
        assert uids(http.get("/v1/accounts?sort=health")) == ["initech", "globex", "hooli", "acme"]
        assert uids(http.get("/v1/accounts?sort=-health"))[0] == "acme"
        rows = http.get("/v1/accounts?status=paying&sort=-mrr&limit=1").json()
        assert rows["data"][0] | {"params": None, "last_seen_at": None} == rows["data"][0] | {
            "params": None,
            "last_seen_at": None,
            "status": "paying",
            "stage": None,
            "health": "bad",
        }
        # A cursor pages a status sort as any other.
        first = http.get("/v1/accounts?sort=status&limit=2").json()
        rest = http.get(f"/v1/accounts?sort=status&limit=2&cursor={first['next_cursor']}").json()
        statuses = [row["status"] for row in first["data"] + rest["data"]]
        assert statuses == sorted(statuses) == ["churned", "paying", "paying", "paying"]
        for query, field, rule in [
            ("status=gold", "status", "one_of"),
            ("status>paying", "status", "one_of"),
            ("stage>Big", "stage", "operator"),
            ("health=none", "health", "one_of"),
        ]:
            refused = http.get(f"/v1/accounts?{query}")
            assert refused.status_code == 400, query
            assert (refused.json()["field"], refused.json()["rule"]) == (field, rule), refused.json()

        # Stages: with the model saved, Hooli (mrr 1000) is Big; the others in no stage.
        assert http.put("/v1/settings/health", json=BIG_STAGE).status_code == 200
        wait_for(lambda: health_settled(project))
        assert uids(http.get("/v1/accounts?stage=Big")) == ["hooli"]
        assert uids(http.get("/v1/accounts?stage=&sort=account_uid")) == ["acme", "globex", "initech"]
        assert uids(http.get("/v1/accounts?stage!=Big&sort=account_uid")) == ["acme", "globex", "initech"]
        assert uids(http.get("/v1/accounts?stage!=&status=paying")) == ["hooli"]
        assert uids(http.get("/v1/accounts?sort=-stage&limit=1")) == ["hooli"]


def test_the_dashboard_lists_and_segments_filter_by_status_and_stage(server: ServerProcess, project: Project) -> None:
    send_portfolio(project)
    with api(server, project) as http:
        assert http.put("/v1/settings/health", json=BIG_STAGE).status_code == 200
    wait_for(lambda: health_settled(project))
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        page = client.get(f"/p/{project.id}/accounts", params={"status": "paying", "sort": "-mrr"}).text
        assert re.findall(r'<tr data-uid="([^"]+)"', page) == ["hooli", "globex", "acme"]
        assert 'id="total">3 accounts<' in page
        assert '<option value="Big">Big</option>' in page  # the model's stages in the menu
        big = client.get(f"/p/{project.id}/accounts", params={"stage": "Big"}).text
        assert re.findall(r'<tr data-uid="([^"]+)"', big) == ["hooli"]
        assert re.search(r'data-field="status">paying <span class="muted small">· Big</span>', big)
        # Saved as a segment: its language is the API's, and the sidebar counts it.
        token = csrf_of(page)
        saved = client.post(
            f"/p/{project.id}/segments",
            data={"csrf": token, "kind": "accounts", "name": "Paying", "query": "status=paying&sort=-mrr"},
        )
        assert saved.status_code == 303
        segment = client.get(saved.headers["location"]).text
        assert re.findall(r'<tr data-uid="([^"]+)"', segment) == ["hooli", "globex", "acme"]
        count = re.search(r'data-segment="Paying">.*?<span class="count"[^>]*>(\d+)<', segment, re.S)
        assert count and count.group(1) == "3"
        # The contacts list shows each contact's account.
        contacts = client.get(f"/p/{project.id}/contacts", params={"sort": "-first_seen_at"}).text
        accounts_of = dict(re.findall(r'<tr data-uid="([^"]+)">.*?data-field="account">(.*?)</td>', contacts, re.S))
        assert ">Globex</a>" in accounts_of["carol"] and ">Hooli</a>" in accounts_of["gavin"]
        assert accounts_of["erin"] == ""  # in no account


def trend_days(html: str) -> list[str | None]:
    return chart_data(html, "trend-chart")["bands"]


def test_an_account_shows_status_health_since_its_trend_and_where_the_rule_changed(
    server: ServerProcess, project: Project
) -> None:
    send_portfolio(project)
    wait_for(lambda: health_settled(project))
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        page = client.get(f"/p/{project.id}/accounts/globex").text
        assert '<div class="kpi-value small-value" id="status">paying</div>' in page
        assert '<span id="stage">none</span>' in page
        assert re.search(r'id="kpi-health">.*?<span class="badge health-bad">bad</span>', page, re.S)
        yesterday = today() - timedelta(days=1)
        assert f'id="health-since">since <time datetime="{yesterday}"' in page
        # Carol was active 15 and 16 days ago only: nothing before (not started), average while
        # those days were in the 14-day window, bad since.
        bands = trend_days(page)
        assert len(bands) == 90
        assert bands[-2:] == ["bad", "bad"]  # yesterday and today
        assert bands[-17:-2] == ["average"] * 15  # 16 days ago to 2 days ago
        assert set(bands[:-17]) == {None}
        assert chart_data(page, "trend-chart")["rule_changes"] == []
        assert "where the rule changed" not in page

        # A new rule: the trend marks today, the day it changed, and says so.
        with api(server, project) as http:
            assert http.put("/v1/settings/health", json=BIG_STAGE).status_code == 200
        wait_for(lambda: health_settled(project))
        page = client.get(f"/p/{project.id}/accounts/globex").text
        assert chart_data(page, "trend-chart")["rule_changes"] == [89]
        assert "where the rule changed" in page
        hooli = client.get(f"/p/{project.id}/accounts/hooli").text
        assert '<span id="stage">Big</span>' in hooli


def test_a_manager_rates_an_account_from_its_page(server: ServerProcess, project: Project) -> None:
    send_portfolio(project)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        page = client.get(f"/p/{project.id}/accounts/globex").text
        assert 'id="pulse-none"' in page

        def rate(**fields: Any) -> httpx.Response:
            form = {"csrf": csrf_of(page), "account_uid": "globex", "score": "2", "reason": "Champion left"}
            return client.post(f"/p/{project.id}/pulse", data={**form, **fields})

        for refused, why in [
            ({"score": "7"}, "score must be a whole number from 0 to 5"),
            ({"score": "two"}, "score must be a whole number from 0 to 5"),
            ({"reason": "  "}, "reason must say why"),
        ]:
            answer = rate(**refused)
            assert answer.status_code == 400 and why in answer.text, refused
        assert rate(account_uid="nobody").status_code == 404
        assert rate(csrf="forged").status_code == 403

        saved = rate()
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/p/{project.id}/accounts/globex?pulse=saved#pulse"
        page = client.get(saved.headers["location"]).text
    assert 'id="pulse-score">2/5<' in page and 'id="pulse-reason">Champion left<' in page
    assert f"by {email}" in page and 'id="pulse-stale"' not in page
    assert '<option value="2" selected>' in page
    # The API answers the same Pulse.
    with api(server, project) as http:
        pulse = http.get("/v1/accounts/globex").json()["pulse"]
    assert (pulse["score"], pulse["reason"], pulse["author"], pulse["stale"]) == (2, "Champion left", email, False)
