"""The dashboard's revenue page, a contact's MRR where it is, and /docs (docs/dashboard.md).

The revenue page shows MRR and its movements per period (month, week or quarter) and, a click
away, the accounts and contacts that moved in a period with their before and after. Its
figures must be GET /v1/revenue's, period by period and unit by unit: the tests read both.
A contact whose revenue is carried by its account says so instead of drawing an empty chart.
/docs is Swagger UI, vendored and served by this server under a CSP that allows this server
only: the browser tests check that it draws every operation and asks no other site for
anything.
"""

from __future__ import annotations

import html
import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from salesmachine_server.web.templating import money
from tests.dashboard_support import ago, make_user, send_customers, signed_in
from tests.support import Project, ServerProcess, make_project

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "docs" / "screenshots"
KINDS = ("new", "reactivation", "expansion", "contraction", "churn")


def send_revenue(project: Project) -> None:
    """send_customers' three accounts (acme new 100 then 250, globex new 500, initech new 80 then
    churned), and a customer without an account, solo, paying 40 since 45 days ago."""
    send_customers(project)
    solo = {"contact_uid": "solo", "created_at": ago(45), "params": {"name": "Solo Trader", "mrr": 40}}
    project.http.post("/v1/contact", json=solo).raise_for_status()


def api_revenue(server: ServerProcess, project: Project, **query: str) -> dict[str, Any]:
    answer = httpx.get(f"{server.base_url}/v1/revenue", params=query, auth=(project.token, project.secret))
    assert answer.status_code == 200, answer.text
    return answer.json()


class Rows(HTMLParser):
    """The rows of one table (by id) of a page: each row's attributes, cells' text and links."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.depth, self.rows = table_id, 0, []
        self.cell: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table" and (self.depth or found.get("id") == self.table_id):
            self.depth += 1
        elif (self.depth and tag == "tr" and "data-start" in found) or (
            self.depth and tag == "tr" and "data-unit" in found
        ):
            self.rows.append({"attrs": found, "cells": []})
        elif self.depth and self.rows and tag == "td":
            self.cell = {"attrs": found, "text": "", "links": []}
            self.rows[-1]["cells"].append(self.cell)
        elif self.cell is not None and tag == "a":
            self.cell["links"].append(found.get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "td":
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell["text"] += data


def table(text: str, table_id: str) -> list[dict[str, Any]]:
    parser = Rows(table_id)
    parser.feed(text)
    return parser.rows


def cell(row: dict[str, Any], key: str) -> dict[str, Any]:
    return next(c for c in row["cells"] if c["attrs"].get("data-field") == key)


def shown(value: float) -> str:
    return money(value)


# ---- the revenue page over HTTP -----------------------------------------------------------------


def test_the_revenue_page_shows_each_months_mrr_and_movements_as_the_api_does(
    server: ServerProcess, project: Project
) -> None:
    send_revenue(project)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        page = browser.get(f"/p/{project.id}/revenue")
    assert page.status_code == 200, page.text[:500]
    api = api_revenue(server, project)
    rows = table(page.text, "periods")
    assert [r["attrs"]["data-start"] for r in rows] == [p["start"] for p in api["periods"]]
    assert len(rows) == 12
    for row, period in zip(rows, api["periods"]):
        assert cell(row, "start_mrr")["text"].strip() == shown(period["start_mrr"]), period["start"]
        assert cell(row, "mrr")["text"].strip() == shown(period["mrr"]), period["start"]
        assert cell(row, "customers")["text"].strip() == str(period["customers"])
        for kind in KINDS:
            moved = period["movements"][kind]
            assert cell(row, kind)["attrs"]["data-count"] == str(moved["count"]), (period["start"], kind)
            if moved["count"]:
                assert shown(moved["total"]) in cell(row, kind)["text"], (period["start"], kind)
    # What send_revenue sent, over the year: four customers won, one expansion, one churn.
    counts = {kind: sum(int(cell(r, kind)["attrs"]["data-count"]) for r in rows) for kind in KINDS}
    assert counts == {"new": 4, "reactivation": 0, "expansion": 1, "contraction": 0, "churn": 1}
    assert cell(rows[-1], "mrr")["text"].strip() == "$790"


def test_a_period_lists_who_moved_with_before_after_and_kind(server: ServerProcess, project: Project) -> None:
    send_revenue(project)
    email = make_user(server.database_url, project.id)
    api = api_revenue(server, project)
    by_start = {p["start"]: p for p in api["periods"]}
    seen_units = set()
    with signed_in(server.base_url, email) as browser:
        rows = table(browser.get(f"/p/{project.id}/revenue").text, "periods")
        for row in rows:
            period = by_start[row["attrs"]["data-start"]]
            link = html.unescape(cell(row, "period")["links"][0])
            moved_page = browser.get(link)
            assert moved_page.status_code == 200, (link, moved_page.text[:300])
            moved = table(moved_page.text, "moved")
            expected = {
                (kind, unit.get("account_uid") or unit.get("contact_uid"), unit["from"], unit["to"])
                for kind in KINDS
                for unit in period["movements"][kind]["units"]
            }
            listed = {
                (
                    r["attrs"]["data-kind"],
                    r["attrs"]["data-unit"].split(":", 1)[1],
                    float(cell(r, "from")["attrs"]["data-amount"]),
                    float(cell(r, "to")["attrs"]["data-amount"]),
                )
                for r in moved
            }
            assert listed == expected, period["start"]
            for r in moved:
                kind_of_owner, uid = r["attrs"]["data-unit"].split(":", 1)
                assert cell(r, "who")["links"] == [f"/p/{project.id}/{kind_of_owner}s/{uid}"]
                seen_units.add((kind_of_owner, uid, r["attrs"]["data-kind"]))
        assert ("account", "initech", "churn") in seen_units and ("contact", "solo", "new") in seen_units

        # A movement's figure in the table opens the period filtered to that movement.
        churned = next(
            r
            for r in rows
            if r["attrs"]["data-start"] in [p["start"] for p in api["periods"] if p["movements"]["churn"]["count"]]
        )
        churn_link = html.unescape(cell(churned, "churn")["links"][0])
        assert parse_qs(urlsplit(churn_link).query)["kind"] == ["churn"]
        only_churn = table(browser.get(churn_link).text, "moved")
        assert [(r["attrs"]["data-unit"], r["attrs"]["data-kind"]) for r in only_churn] == [
            ("account:initech", "churn")
        ]
        text = browser.get(churn_link).text
        assert "Initech" in text and "80" in text


def test_week_and_quarter_periods_are_the_apis_for_the_range_shown(server: ServerProcess, project: Project) -> None:
    send_revenue(project)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        for interval, count in (("week", 12), ("quarter", 8), ("month", 12)):
            page = browser.get(f"/p/{project.id}/revenue", params={"interval": interval})
            assert page.status_code == 200, (interval, page.text[:300])
            first = re.search(r'name="from" value="([\d-]+)"', page.text).group(1)
            last = re.search(r'name="to" value="([\d-]+)"', page.text).group(1)
            api = api_revenue(server, project, interval=interval, **{"from": first, "to": last})
            rows = table(page.text, "periods")
            assert [r["attrs"]["data-start"] for r in rows] == [p["start"] for p in api["periods"]], interval
            assert len(rows) == count, interval
            assert [cell(r, "mrr")["text"].strip() for r in rows] == [shown(p["mrr"]) for p in api["periods"]]
            starts = [date.fromisoformat(r["attrs"]["data-start"]) for r in rows]
            if interval == "week":
                assert all(d.weekday() == 0 for d in starts)
            if interval == "quarter":
                assert all(d.day == 1 and d.month in (1, 4, 7, 10) for d in starts)
            assert (
                f'aria-current="page">{interval.capitalize()}' in page.text
                or f'class="active" aria-current="page">{interval.capitalize()}' in page.text
            )
        # A range of one's own, as the form sends it.
        chosen = browser.get(
            f"/p/{project.id}/revenue", params={"interval": "month", "from": "2025-01-15", "to": "2025-03-10"}
        )
        assert [r["attrs"]["data-start"] for r in table(chosen.text, "periods")] == [
            "2025-01-15",
            "2025-02-01",
            "2025-03-01",
        ]


@pytest.mark.parametrize(
    "path, query, field, rule",
    [
        ("revenue", {"interval": "fortnight"}, "interval", "one_of"),
        ("revenue", {"from": "2026-02-30"}, "from", "date"),
        ("revenue", {"to": "1899-12-31"}, "to", "range"),
        ("revenue", {"from": "2026-03-01", "to": "2026-02-01"}, "to", "not_before_from"),
        ("revenue", {"interval": "day", "from": "2020-01-01", "to": "2026-01-01"}, "interval", "max_periods"),
        ("revenue", {"colour": "red"}, "colour", "known"),
        ("revenue", [("interval", "week"), ("interval", "month")], "interval", "single"),
        ("revenue/period", {"from": "2026-01-01", "to": "2026-01-31", "kind": "upsell"}, "kind", "one_of"),
        ("revenue/period", [("kind", "new"), ("kind", "churn")], "kind", "single"),
        ("revenue/period", {"from": "yesterday"}, "from", "date"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field_and_the_rule(
    server: ServerProcess, project: Project, path: str, query: Any, field: str, rule: str
) -> None:
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        answer = browser.get(f"/p/{project.id}/{path}", params=query)
    assert answer.status_code == 400, answer.text[:300]
    assert f'data-field="{field}"' in answer.text and f'data-rule="{rule}"' in answer.text
    assert 'role="alert"' in answer.text


def test_the_sidebar_links_to_revenue_and_only_members_see_it(server: ServerProcess, project: Project) -> None:
    other, _ = make_project(server.database_url)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        home = browser.get(f"/p/{project.id}/").text
        assert f'<a href="/p/{project.id}/revenue">Revenue</a>' in home
        page = browser.get(f"/p/{project.id}/revenue").text
        assert f'<a href="/p/{project.id}/revenue" class="active" aria-current="page">Revenue</a>' in page
        for path in ("/revenue", "/revenue/period"):
            assert browser.get(f"/p/{other.id}{path}").status_code == 404
    stranger = httpx.get(f"{server.base_url}/p/{project.id}/revenue")
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/signin?next=")


# ---- a contact's MRR, where it is ---------------------------------------------------------------


def test_a_contact_says_where_its_revenue_is_instead_of_an_empty_chart(server: ServerProcess, project: Project) -> None:
    send_revenue(project)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        alice = browser.get(f"/p/{project.id}/contacts/alice").text
        assert 'id="mrr-chart"' not in alice
        elsewhere = re.search(r'<p[^>]*id="mrr-elsewhere"[^>]*>(.*?)</p>', alice, re.DOTALL)
        assert elsewhere, alice
        assert f'href="/p/{project.id}/accounts/acme"' in elsewhere.group(1)
        assert "Acme Corp" in elsewhere.group(1) and "250" in elsewhere.group(1)

        solo = browser.get(f"/p/{project.id}/contacts/solo").text
        assert 'id="mrr-chart"' in solo and 'id="mrr-elsewhere"' not in solo

        erin = browser.get(f"/p/{project.id}/contacts/erin").text
        assert 'id="mrr-chart"' not in erin and 'id="mrr-none"' in erin

        # A contact with mrr of its own whose account has mrr too: the chart, and where it counts.
        project.http.post("/v1/contact", json={"contact_uid": "bob", "params": {"mrr": 30}}).raise_for_status()
        bob = browser.get(f"/p/{project.id}/contacts/bob").text
        assert 'id="mrr-chart"' in bob
        counted = re.search(r'<p[^>]*id="mrr-elsewhere"[^>]*>(.*?)</p>', bob, re.DOTALL)
        assert counted and f'href="/p/{project.id}/accounts/acme"' in counted.group(1)


# ---- /docs over HTTP ------------------------------------------------------------------------------


def test_docs_is_the_vendored_viewer_under_a_csp_of_this_server_only(server: ServerProcess) -> None:
    page = httpx.get(f"{server.base_url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self';" in csp
    assert "unsafe-eval" not in csp and "http" not in csp and "*" not in csp
    assert "<script>" not in page.text and "style=" not in page.text  # no inline script or style
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/vendor/swagger-ui-bundle.js" in assets and "/static/vendor/swagger-ui.css" in assets
    for asset in assets:
        assert asset == "data:," or (asset.startswith("/") and not asset.startswith("//")), asset
        if asset.startswith("/static/"):
            assert httpx.get(f"{server.base_url}{asset}").status_code == 200, asset
    licence = httpx.get(f"{server.base_url}/static/vendor/swagger-ui-LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text


# ---- in the browser ------------------------------------------------------------------------------


@pytest.fixture
def shots(server: ServerProcess, tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots/ when asked to update them (SQLite run only)."""
    update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and server.database_url.startswith("sqlite")
    folder = SCREENSHOTS if update else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch(page: Any, origin: str) -> list[str]:
    """Everything that went wrong on a page: script errors, console errors (CSP refusals are
    reported there), and any request to another origin."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on(
        "request",
        lambda request: (
            request.url.startswith((origin + "/", "data:", "about:"))
            or problems.append(f"asked another site: {request.url}")
        ),
    )
    return problems


def test_a_csm_clicks_from_a_month_to_the_account_that_churned(
    server: ServerProcess, project: Project, browser: Any, shots: Path
) -> None:
    send_revenue(project)
    email = make_user(server.database_url, project.id)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    with signed_in(server.base_url, email) as client:
        context.add_cookies([{"name": "sm_session", "value": client.cookies["sm_session"], "url": server.base_url}])
    page = context.new_page()
    problems = watch(page, server.base_url)
    base = f"{server.base_url}/p/{project.id}"
    try:
        page.goto(f"{base}/")
        page.click("nav.sidebar >> text=Revenue")
        page.wait_for_selector("body[data-charts=drawn]")
        assert page.inner_text("h1") == "Revenue"
        assert page.locator("#periods tbody tr").count() == 12
        assert page.inner_text("#kpi-mrr .kpi-value") == "$790"
        page.screenshot(path=str(shots / "revenue.png"), full_page=True)

        page.click(".interval-tabs >> text=Quarter")
        page.wait_for_selector("body[data-charts=drawn]")
        assert page.locator("#periods tbody tr").count() == 8
        page.click(".interval-tabs >> text=Month")
        page.wait_for_selector("body[data-charts=drawn]")

        page.click("#periods td[data-kind=churn][data-count='1'] a")
        assert page.inner_text("#moved tbody tr td[data-field=who]") == "Initech"
        page.click(".kind-tabs >> text=All")
        page.wait_for_url(lambda url: "kind=" not in url)
        who = page.eval_on_selector_all("#moved tbody tr", "rows => rows.map(r => r.dataset.kind)")
        assert "churn" in who
        churn_row = page.locator("#moved tbody tr[data-kind=churn]")
        assert churn_row.locator("td[data-field=from]").inner_text() == "$80"
        assert churn_row.locator("td[data-field=to]").inner_text() == "$0"
        page.screenshot(path=str(shots / "revenue-period.png"), full_page=True)
        churn_row.locator("td[data-field=who] a").click()
        page.wait_for_selector("body[data-charts=drawn]")
        assert page.inner_text("h1") == "Initech"

        # On a phone the revenue page fits the screen (the table scrolls inside its box).
        phone = browser.new_context(
            viewport={"width": 390, "height": 844},
            storage_state=context.storage_state(),
            is_mobile=True,
            has_touch=True,
        )
        small = phone.new_page()
        small.goto(f"{base}/revenue")
        small.wait_for_selector("body[data-charts=drawn]")
        assert small.evaluate("document.documentElement.scrollWidth") <= 390
        phone.close()
    finally:
        context.close()
    assert problems == []


def test_docs_draws_every_operation_with_contents_and_asks_no_other_site(
    server: ServerProcess, browser: Any, shots: Path
) -> None:
    described = httpx.get(f"{server.base_url}/openapi.json").json()
    operations = {(method.upper(), path) for path, ops in described["paths"].items() for method in ops}
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = watch(page, server.base_url)
    try:
        page.goto(f"{server.base_url}/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        shown_ops = set(
            page.eval_on_selector_all(
                ".opblock-summary",
                "els => els.map(e => e.querySelector('.opblock-summary-method').textContent + ' ' +"
                " e.querySelector('.opblock-summary-path').getAttribute('data-path'))",
            )
        )
        assert {tuple(op.split(" ", 1)) for op in shown_ops} == operations
        # Contents: the operations are grouped under their tags, one line each, open on a click.
        assert page.eval_on_selector_all(".opblock-tag", "tags => tags.map(t => t.dataset.tag)") == [
            tag["name"] for tag in described["tags"]
        ]
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 8000, f"/docs is {height}px long"
        page.screenshot(path=str(shots / "docs.png"), full_page=False)
        # Descriptions are Markdown: `field<op>value` is code, not backticks.
        page.click("#operations-read-list_contacts .opblock-summary")
        page.wait_for_selector("#operations-read-list_contacts .parameters")
        text = page.inner_text(".swagger-ui")
        assert "`" not in text, "a description shows Markdown's backticks"
        assert page.locator("#operations-read-list_contacts .opblock-description-wrapper code").count() > 0
        page.goto("about:blank")
        page.goto(f"{server.base_url}/docs#/read/revenue")  # the revenue page links here: it opens
        page.wait_for_selector("#operations-read-revenue .parameters")
    finally:
        context.close()
    assert problems == []
