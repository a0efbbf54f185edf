"""Money that could break reports: absurd or oddly written `mrr` is refused at the door, and a
value stored before the door existed cannot make GET /v1/revenue or the dashboard home fail.

docs/revenue.md ("Values out of range") and docs/api.md (the mrr bullet) state the rules.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.dashboard_support import make_user, signed_in
from tests.support import Project, ServerProcess

# The bound documented in docs/api.md and docs/revenue.md.
MAX_MRR = 1_000_000_000_000


def reader(project: Project) -> httpx.Client:
    return httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30)


def revenue_report(project: Project, **query: str) -> dict[str, Any]:
    with reader(project) as http:
        response = http.get("/v1/revenue", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- at the door ---------------------------------------------------------------------------

ABSURD = [1e25, 1.7e308, MAX_MRR + 1, MAX_MRR + 0.01, 2**64 - 1, "1" + "0" * 25, "1000000000000.01", "9" * 400]


@pytest.mark.parametrize("mrr", ABSURD, ids=repr)
@pytest.mark.parametrize("path", ["/v1/account", "/v1/contact"])
def test_an_absurd_mrr_is_refused_naming_the_bound(project: Project, path: str, mrr: Any) -> None:
    key = "account_uid" if path == "/v1/account" else "contact_uid"
    response = project.http.post(path, json={key: "whale", "params": {"mrr": mrr}})  # the public token
    assert response.status_code == 400, response.text
    error = response.json()
    assert (error["field"], error["rule"]) == ("params.mrr", "max")
    assert "1000000000000" in error["message"] and "mrr" in error["message"]
    assert project.stored.count("mrr_changes") == 0
    assert project.stored.count("accounts") == 0 and project.stored.count("contacts") == 0
    assert revenue_report(project)["periods"][-1]["mrr"] == 0


def test_an_absurd_mrr_in_a_batch_is_refused_and_the_rest_stored(project: Project) -> None:
    response = project.http.post(
        "/v1/batch",
        json=[
            {"method": "account", "account_uid": "whale", "params": {"mrr": 1e25}},
            {"method": "account", "account_uid": "acme", "params": {"mrr": 100}},
        ],
    )
    assert response.status_code == 201, response.text
    assert [(r["index"], r["field"], r["rule"]) for r in response.json()["rejected"]] == [(0, "params.mrr", "max")]
    assert project.stored.account("whale") is None
    assert project.stored.account("acme")["mrr"] == [100]  # type: ignore[index]
    assert revenue_report(project)["periods"][-1]["mrr"] == 100


@pytest.mark.parametrize("mrr", [MAX_MRR, float(MAX_MRR), "1000000000000", "999999999999.99"], ids=repr)
def test_the_bound_itself_is_accepted_and_reported_to_the_cent(project: Project, mrr: Any) -> None:
    assert project.http.post("/v1/account", json={"account_uid": "big", "params": {"mrr": mrr}}).status_code == 201
    period = revenue_report(project)["periods"][-1]
    exact = Decimal(str(mrr))
    assert (period["mrr"], period["arr"]) == (float(exact), float(12 * exact))


@pytest.mark.parametrize(
    "mrr",
    [
        "1_000",
        "١٠",
        "٣",
        "１０",
        "1e3",
        "1E3",
        "0x10",
        "inf",
        "nan",
        "Infinity",
        "+5",
        ".5",
        "5.",
        "1,000",
        "5 0",
        "\u00a05",
        "99\u2009",
        "",
    ],
    ids=repr,
)
def test_an_mrr_string_must_be_a_plain_ascii_decimal(project: Project, mrr: str) -> None:
    response = project.http.post("/v1/contact", json={"contact_uid": "u", "params": {"mrr": mrr}})
    assert response.status_code == 400, response.text
    error = response.json()
    assert (error["field"], error["rule"]) == ("params.mrr", "number")
    assert "decimal" in error["message"]
    assert project.stored.count("mrr_changes") == 0


@pytest.mark.parametrize(
    ("mrr", "stored"),
    [("99", 99), ("99.5", 99.5), ("49.50", 49.5), ("0", 0), ("0.99", 0.99), ("100.0", 100), (" 99 ", 99), ("007", 7)],
    ids=repr,
)
def test_plain_decimal_strings_are_taken_as_the_number(project: Project, mrr: str, stored: float) -> None:
    response = project.http.post("/v1/contact", json={"contact_uid": "u", "params": {"mrr": mrr}})
    assert response.status_code == 201, response.text
    contact = project.stored.contact("u")
    assert contact is not None and contact["params"]["mrr"] == stored and contact["mrr"] == [stored]
    assert type(contact["params"]["mrr"]) is type(stored)


def test_a_negative_string_is_refused_by_the_minimum(project: Project) -> None:
    response = project.http.post("/v1/contact", json={"contact_uid": "u", "params": {"mrr": "-5"}})
    assert response.status_code == 400
    assert (response.json()["field"], response.json()["rule"]) == ("params.mrr", "min")


# --- values stored before the bound --------------------------------------------------------

# What a database written before the bound (or by hand) can hold in mrr_changes.mrr. NaN only
# on PostgreSQL: SQLite stores a NaN as NULL, which is a removal, not a bad value.
STORED = [1e25, 1.7e308, MAX_MRR + 1, math.inf, -5.0, math.nan]


def store_directly(project: Project, uid: str, mrr: float, effective_at: datetime) -> float | str:
    """Turn the account's only history row into `mrr` at `effective_at`, as if written before the
    bound; what was stored. SQLite stores a NaN as NULL (a removal, not a bad value), so there the
    NaN case stores the text "NaN", which SQLite's REAL column keeps as text: the other value
    no API would take."""
    stored: float | str = mrr
    if math.isnan(mrr) and project.stored.engines.writer.dialect.name != "postgresql":
        stored = "NaN"
    with project.stored.engines.writer.begin() as conn:
        conn.execute(
            text(
                "UPDATE mrr_changes SET mrr = :mrr, effective_at = :at WHERE project_id = :project AND account_id = "
                "(SELECT id FROM accounts WHERE project_id = :project AND account_uid = :uid)"
            ),
            {"mrr": stored, "at": effective_at, "project": project.id, "uid": uid},
        )
    return stored


def whale_history(project: Project, mrr: float) -> tuple[datetime, float | str]:
    """acme pays 100 from five months ago; whale holds `mrr` from four months ago (back-dated,
    stored directly) and was corrected to 300 two months ago. Returns whale's bad instant and
    the value stored then."""
    now = datetime.now(UTC).replace(microsecond=0)
    bad_at, fixed_at = now - timedelta(days=120), now - timedelta(days=60)
    response = project.http.post(
        "/v1/batch",
        json=[
            {
                "method": "account",
                "account_uid": "acme",
                "created_at": iso(now - timedelta(days=150)),
                "params": {"mrr": 100},
            },
            {"method": "account", "account_uid": "whale", "created_at": iso(bad_at), "params": {"mrr": 1}},
        ],
    )
    assert response.status_code == 201 and "rejected" not in response.json(), response.text
    stored = store_directly(project, "whale", mrr, bad_at.replace(tzinfo=None))
    fix = project.http.post(
        "/v1/account", json={"account_uid": "whale", "created_at": iso(fixed_at), "params": {"mrr": 300}}
    )
    assert fix.status_code == 201, fix.text
    return bad_at, stored


@pytest.mark.parametrize("mrr", STORED, ids=repr)
def test_a_stored_value_out_of_range_does_not_break_the_report(project: Project, mrr: float) -> None:
    bad_at, stored = whale_history(project, mrr)
    for interval in ("month", "day"):
        first = (bad_at - timedelta(days=40)).date().isoformat()
        report = revenue_report(project, interval=interval, **{"from": first})
        periods = report["periods"]
        # The out-of-range row is left out as if never sent: acme's 100, then whale's 300 ...
        assert (periods[-1]["mrr"], periods[-1]["customers"]) == (400, 2)
        assert max(p["mrr"] for p in periods) == 400
        whale_moves = [
            (kind, u["from"], u["to"])
            for p in periods
            for kind, m in p["movements"].items()
            for u in m["units"]
            if u.get("account_uid") == "whale"
        ]
        assert whale_moves == [("new", 0, 300)]
        # ... and named in the answer, not dropped silently.
        shown = repr(stored) if isinstance(stored, str) else repr(float(stored))
        assert report["ignored"] == [{"account_uid": "whale", "effective_at": iso(bad_at), "mrr": shown}]


@pytest.mark.parametrize("mrr", STORED, ids=repr)
def test_a_stored_value_out_of_range_does_not_break_the_dashboard_home(
    server: ServerProcess, project: Project, mrr: float
) -> None:
    whale_history(project, mrr)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        page = browser.get(f"/p/{project.id}/")
    assert page.status_code == 200, page.text[:2000]
    kpi = re.search(r'id="kpi-mrr">\s*<div class="kpi-label">[^<]*</div>\s*<div class="kpi-value">([^<]*)<', page.text)
    assert kpi is not None and kpi.group(1) == "$400"


@pytest.mark.parametrize("mrr", STORED, ids=repr)
def test_a_stored_value_out_of_range_does_not_break_the_account_page(
    server: ServerProcess, project: Project, mrr: float
) -> None:
    """The profile's mrr chart reads the same history and follows the same rule."""
    whale_history(project, mrr)
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        page = browser.get(f"/p/{project.id}/accounts/whale")
    assert page.status_code == 200, page.text[:2000]
    chart = re.search(r'"mrr": ?\[([^\]]*)\]', page.text)
    assert chart is not None, page.text
    values = [float(v) for v in chart.group(1).split(",")]
    assert min(values) == 0 and max(values) == 300 and values[-1] == 300, values


@pytest.mark.parametrize("mrr", [1e25, 1.7e308], ids=repr)
def test_a_whale_stored_before_the_bound_and_never_corrected_leaves_the_home_and_report_working(
    server: ServerProcess, project: Project, mrr: float
) -> None:
    """The issue's case as first seen: the whale is the current value (ARR 12 × 1e25 overflowed)."""
    now = datetime.now(UTC).replace(microsecond=0)
    response = project.http.post(
        "/v1/batch",
        json=[
            {
                "method": "account",
                "account_uid": "acme",
                "created_at": iso(now - timedelta(days=90)),
                "params": {"mrr": 100},
            },
            {
                "method": "account",
                "account_uid": "whale",
                "created_at": iso(now - timedelta(days=5)),
                "params": {"mrr": 1},
            },
        ],
    )
    assert response.status_code == 201 and "rejected" not in response.json(), response.text
    store_directly(project, "whale", mrr, (now - timedelta(days=5)).replace(tzinfo=None))
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as browser:
        page = browser.get(f"/p/{project.id}/")
    assert page.status_code == 200, page.text[:2000]
    kpi = re.search(r'id="kpi-arr"><div class="kpi-label">ARR</div><div class="kpi-value">([^<]*)<', page.text)
    assert kpi is not None and kpi.group(1) == "$1,200"
    period = revenue_report(project)["periods"][-1]
    assert (period["mrr"], period["arr"], period["customers"]) == (100, 1200, 1)
