"""Home says who needs attention (issue 18, item 6): revenue at risk and its share of MRR, the
accounts in bad health ranked by mrr with reason and since when, the accounts' health bands over
twelve weeks, renewals in the next 30/60/90 days; the project's currency and renewal attribute
as settings. Every figure here is worked out by hand from what the test sends.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_support import (
    PASSWORD,
    ago,
    csrf_of,
    make_user,
    send_customers,
    signed_in,
)
from tests.support import Project, ServerProcess, health_settled, wait_for

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def today() -> Any:
    return datetime.now(UTC).date()


def _noon(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).replace(hour=12, minute=0).isoformat()


def send_portfolio(project: Project, renewals: bool = False) -> None:
    """send_customers' accounts (Acme good, 250; Globex bad since yesterday, 500; Initech
    churned) and Hooli: paying 1000, its one contact last active 40 days ago, so bad since the
    day its last active day left the 14-day window: 26 days ago. With `renewals`, each account
    has a renewal_date: Acme in 10 days, Globex in 45, Hooli in 80, Initech in 200, and Umbrella
    (free, no mrr) a renewal time in 20 days; Stark renewed 3 days ago."""
    send_customers(project)
    items: list[dict[str, Any]] = [
        {"method": "account", "account_uid": "hooli", "created_at": ago(100), "params": {"name": "Hooli", "mrr": 1000}},
        {
            "method": "contact",
            "contact_uid": "gavin",
            "created_at": ago(100),
            "params": {"name": "Gavin", "email": "gavin@hooli.com", "account_uid": "hooli"},
        },
        {
            "method": "event",
            "contact_uid": "gavin",
            "event_uid": "login",
            "params": {"account_uid": "hooli"},
            "created_at": _noon(40),
        },
    ]
    if renewals:
        on = {"acme": 10, "globex": 45, "hooli": 80, "initech": 200}
        items += [
            {"method": "account", "account_uid": uid, "params": {"renewal_date": str(today() + timedelta(days=days))}}
            for uid, days in on.items()
        ]
        soon = (datetime.now(UTC) + timedelta(days=20)).replace(hour=12, minute=0, second=0, microsecond=0)
        items += [
            {
                "method": "account",
                "account_uid": "umbrella",
                "params": {"name": "Umbrella", "renewal_date": soon.isoformat()},
            },
            {"method": "account", "account_uid": "stark", "params": {"renewal_date": str(today() - timedelta(days=3))}},
        ]
    answer = project.http.post("/v1/batch", json=items)
    assert answer.status_code == 201, answer.text


# The accounts of send_portfolio: the days ago each was active (any contact), and the days ago
# it paid from and until (None: still paying).
PORTFOLIO = {
    "acme": ({0, 1, 2, 4, 6, 9}, 150, None),
    "globex": ({15, 16}, 120, None),
    "initech": ({3, 5}, 90, 30),
    "hooli": ({40}, 100, None),
}


def band_on(account: str, days_ago: int) -> str | None:
    """The default rule by hand: no band before the first active day or once churned; then
    over the 14 days ending that day, more than 4 active days good, none bad, else average."""
    active, _paid_from, churned = PORTFOLIO[account]
    if churned is not None and days_ago < churned:
        return None
    if not any(day >= days_ago for day in active):
        return None
    count = sum(1 for day in active if days_ago <= day <= days_ago + 13)
    return "good" if count > 4 else ("bad" if count == 0 else "average")


def chart_data(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', html, re.S)
    assert found, f"no data for {chart_id}"
    return json.loads(found.group(1))


def section(html: str, section_id: str) -> str:
    found = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert found, f"no section {section_id}"
    return found.group(0)


def rows(html: str) -> list[dict[str, str]]:
    """The rows of the needs-attention table: uid, mrr, reason, since (the datetime attribute)."""
    found = []
    for uid, body in re.findall(r'<tr data-uid="([^"]+)">(.*?)</tr>', html, re.S):
        cells = dict(re.findall(r'<td[^>]*data-field="(\w+)">(.*?)</td>', body, re.S))
        since = re.search(r'datetime="([^"]+)"', cells["since"])
        found.append(
            {
                "uid": uid,
                "mrr": cells["mrr"].strip(),
                "reason": cells["reason"].strip(),
                "since": since.group(1) if since else "",
            }
        )
    return found


def save_display(client: httpx.Client, project: Project, **fields: str) -> httpx.Response:
    token = csrf_of(client.get(f"/p/{project.id}/settings").text)
    return client.post(f"/p/{project.id}/settings/display", data={"csrf": token, **fields})


def test_home_shows_the_revenue_at_risk_and_the_accounts_behind_it(server: ServerProcess, project: Project) -> None:
    send_portfolio(project)
    wait_for(lambda: health_settled(project))
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        home = client.get(f"/p/{project.id}/")
    assert home.status_code == 200, home.text[:500]
    page = home.text
    # MRR 250 + 500 + 1000; at risk: Globex and Hooli, paying and bad: 1500, 85.7%.
    assert re.search(r'id="kpi-mrr">.*?<div class="kpi-value">\$1,750</div>', page, re.S)
    at_risk = re.search(r'id="kpi-at-risk">.*?<div class="kpi-value">([^<]+)</div>', page, re.S)
    assert at_risk and at_risk.group(1) == "$1,500"
    assert re.search(r'id="at-risk-share">85\.7%</span> of MRR, 2 paying accounts in bad health', page)

    attention = rows(section(page, "needs-attention"))
    assert [r["uid"] for r in attention] == ["hooli", "globex"]  # the most mrr first
    assert [r["mrr"] for r in attention] == ["$1,000", "$500"]
    assert attention[0]["since"] == str(today() - timedelta(days=26))
    assert attention[1]["since"] == str(today() - timedelta(days=1))
    assert all("0 active days" in r["reason"] for r in attention), attention

    # Bands this week: Acme good; Globex and Hooli bad; Initech churned, in none.
    bands = chart_data(page, "bands-chart")
    assert len(bands["labels"]) == 12
    assert (bands["good"][-1], bands["average"][-1], bands["bad"][-1]) == (1, 0, 2)
    counts = dict(re.findall(r'data-level="(\w+)">\s*<span class="band-count">(\d+)<', page))
    assert counts == {"good": "1", "average": "0", "bad": "2"}
    # Every week, as the rule says by hand (band_on): the week's last day, or today.
    for i, start in enumerate(bands["labels"]):
        monday = today() - timedelta(days=today().weekday(), weeks=11 - i)
        assert start == f"{monday.day} {monday:%b}"
        days_ago = (today() - min(monday + timedelta(days=6), today())).days
        expected = [band_on(account, days_ago) for account in PORTFOLIO]
        shown = (bands["good"][i], bands["average"][i], bands["bad"][i])
        assert shown == tuple(expected.count(b) for b in ("good", "average", "bad")), (start, expected)
    # Renewals: the setting is not set, so Home says where to set it.
    assert "renewal date attribute" in section(page, "renewals")


def test_renewals_of_the_next_30_60_90_days_and_the_currency_follow_the_settings(
    server: ServerProcess, project: Project
) -> None:
    send_portfolio(project, renewals=True)
    wait_for(lambda: health_settled(project))
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        saved = save_display(client, project, currency="eur", renewal_attribute="renewal_date")
        assert saved.status_code == 303, saved.text[:500]
        page = client.get(f"/p/{project.id}/").text
        settings = client.get(f"/p/{project.id}/settings").text
    assert "<option selected>EUR</option>" in settings and 'value="renewal_date"' in settings
    renewals = section(page, "renewals")
    horizon = r'data-days="(\d+)">\s*<span class="band-count">(\d+)</span>.*?<span class="small">([^<]+)</span>'
    horizons = {days: (count, mrr) for days, count, mrr in re.findall(horizon, renewals, re.S)}
    # 30 days: Acme (250) and Umbrella (no mrr); 60: and Globex (500); 90: and Hooli (1000).
    # Initech (200 days) is further; Stark renewed 3 days ago.
    assert horizons == {"30": ("2", "€250"), "60": ("3", "€750"), "90": ("4", "€1,750")}
    assert re.findall(r'<li data-uid="([^"]+)">', renewals) == ["acme", "umbrella", "globex", "hooli"]
    # Every amount is in euros now, the KPIs' too.
    assert re.search(r'id="kpi-at-risk">.*?<div class="kpi-value">€1,500</div>', page, re.S)
    assert "$" not in re.sub(r"<script.*?</script>", "", page, flags=re.S)


def test_a_bad_currency_or_attribute_is_refused_on_the_settings_page(server: ServerProcess, project: Project) -> None:
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        refused = save_display(client, project, currency="EURO", renewal_attribute="renewal>date")
        assert refused.status_code == 400
        assert "currency must be an ISO 4217 currency code" in refused.text
        assert "renewal_attribute must be an attribute name" in refused.text
        assert "selected>USD<" in client.get(f"/p/{project.id}/settings").text  # nothing changed


# ---- in the browser ----------------------------------------------------------------------------


@pytest.fixture
def shots(server: ServerProcess, tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ when asked to update them (SQLite run only)."""
    update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and server.database_url.startswith("sqlite")
    folder = SCREENSHOTS if update else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_csm_goes_from_the_revenue_at_risk_to_the_account_and_rates_it(
    server: ServerProcess, project: Project, browser: Any, shots: Path
) -> None:
    send_portfolio(project, renewals=True)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        assert save_display(client, project, currency="EUR", renewal_attribute="renewal_date").status_code == 303
    from tests.test_dashboard_profiles import BIG_STAGE

    with httpx.Client(base_url=server.base_url, auth=(project.token, project.secret)) as http:
        assert http.put("/v1/settings/health", json=BIG_STAGE).status_code == 200
    wait_for(lambda: health_settled(project))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    from tests.test_dashboard_revenue import watch

    problems = watch(page, server.base_url)
    base = f"{server.base_url}/p/{project.id}"
    try:
        page.goto(f"{server.base_url}/signin?next=/p/{project.id}/")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.wait_for_selector("body[data-charts=drawn]")
        assert page.text_content("#kpi-at-risk .kpi-value") == "€1,500"
        assert page.text_content("#at-risk-share") == "85.7%"
        assert page.get_attribute("#bands-chart", "data-drawn") == "true"
        assert page.eval_on_selector_all("#needs-attention tbody tr", "rows => rows.map(r => r.dataset.uid)") == [
            "hooli",
            "globex",
        ]
        since = page.locator("#needs-attention tr[data-uid=globex] [data-field=since] time")
        assert since.inner_text() == "yesterday"
        yesterday = today() - timedelta(days=1)
        assert since.get_attribute("title") == f"{yesterday:%A} {yesterday.day} {yesterday:%B %Y}"
        assert page.locator("#renewals li").count() == 4
        page.screenshot(path=str(shots / "home-revenue-at-risk.png"), full_page=True)

        # To the account most at risk: its trend, the rule change of today, its Pulse.
        page.click("#needs-attention >> text=Hooli")
        page.wait_for_selector("body[data-charts=drawn]")
        assert page.inner_text("h1") == "Hooli"
        assert page.inner_text("#stage") == "Big"
        assert page.get_attribute("#trend-chart", "data-drawn") == "true"
        assert "where the rule changed" in page.inner_text("#health-trend")
        page.select_option("select[name=score]", "1")
        page.fill("textarea[name=reason]", "Their champion left; renewal at risk")
        page.click("#pulse button[type=submit]")
        page.wait_for_selector("#pulse-score")
        assert page.inner_text("#pulse-score") == "1/5"
        assert page.inner_text("#pulse [role=status]") == "Pulse saved."
        page.wait_for_selector("body[data-charts=drawn]")
        page.locator("#health-trend").screenshot(path=str(shots / "account-health-trend.png"))
    finally:
        context.close()
    assert problems == []


def test_the_display_settings_api_reads_and_sets_currency_and_renewal_attribute(
    server: ServerProcess, project: Project
) -> None:
    send_portfolio(project, renewals=True)
    with httpx.Client(base_url=server.base_url, auth=(project.token, project.secret)) as http:
        assert http.get("/v1/settings/display").json() == {"currency": "USD", "renewal_attribute": None}
        saved = http.put("/v1/settings/display", json={"currency": "gbp", "renewal_attribute": "params.renewal_date"})
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"currency": "GBP", "renewal_attribute": "renewal_date"}
        assert http.get("/v1/settings/display").json() == saved.json()
        for body, field, rule in [
            ({"currency": "pounds"}, "currency", "iso_4217"),
            ({"currency": 826}, "currency", "iso_4217"),
            ({"renewal_attribute": "renewal<date"}, "renewal_attribute", "attribute"),
            ({"colour": "blue"}, "colour", "known_setting"),
            (["GBP"], "body", "object"),
        ]:
            refused = http.put("/v1/settings/display", json=body)
            assert refused.status_code == 400, body
            assert (refused.json()["field"], refused.json()["rule"]) == (field, rule), refused.json()
        assert http.put("/v1/settings/display", content=b"{").json()["rule"] == "json"
        assert http.get("/v1/settings/display").json()["currency"] == "GBP"  # nothing refused was kept
        audit = http.get("/v1/audit").json()
        changes = [e for e in audit["data"] if e["action"] == "settings_change"]
        assert changes and changes[0]["detail"]["changed"] == {"currency": "GBP", "renewal_attribute": "renewal_date"}
    wait_for(lambda: health_settled(project))
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        home = client.get(f"/p/{project.id}/").text
    assert re.search(r'id="kpi-at-risk">.*?<div class="kpi-value">£1,500</div>', home, re.S)
    assert re.findall(r'<li data-uid="([^"]+)">', section(home, "renewals")) == ["acme", "umbrella", "globex", "hooli"]
    with httpx.Client(base_url=server.base_url, auth=(project.token, project.secret)) as http:
        assert http.put("/v1/settings/display", json={}).json() == {"currency": "USD", "renewal_attribute": None}
    assert httpx.get(f"{server.base_url}/v1/settings/display", auth=(project.token, "wrong")).status_code == 401
