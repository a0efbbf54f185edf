"""The home page's revenue report is remembered between requests (store/read/revenue.py): it
must stay the report computed anew over mrr_rows after every kind of change to its rows."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from salesmachine_server.domain import revenue
from salesmachine_server.store.read import revenue as revenue_reads
from salesmachine_server.store.read.revenue import accounts_of_paying_contacts, home_reports, mrr_rows
from tests.support import Project

CUTS = revenue.periods(date(2024, 1, 1), date(2024, 12, 31), revenue.MONTH, ZoneInfo("UTC"))


def send(project: Project, path: str, body: Any) -> None:
    response = project.http.post(path, json=body)
    assert response.status_code == 201, response.text


def item(method: str, uid: str, when: str, mrr: float | None, **params: Any) -> dict[str, Any]:
    return {"method": method, f"{method}_uid": uid, "created_at": when, "params": {"mrr": mrr, **params}}


def assert_remembered_as_computed(project: Project) -> list[revenue.PeriodReport]:
    with project.stored.engines.reader.connect() as conn:
        remembered = home_reports(conn, project.id, CUTS)
        computed = revenue.report(
            revenue.revenue_units(mrr_rows(conn, project.id), accounts_of_paying_contacts(conn, project.id)), CUTS
        )
    assert remembered == computed
    return remembered


def test_the_remembered_report_follows_every_change(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    patched = []  # reports updated in place of computed anew (rows added to accounts only)
    with_added = revenue_reads._with_added

    def spy(*args: Any) -> Any:
        found = with_added(*args)
        patched.append(found is not None)
        return found

    monkeypatch.setattr(revenue_reads, "_with_added", spy)
    send(
        project,
        "/v1/batch",
        [
            item("account", "acme", "2024-01-10T09:00:00Z", 100),
            item("account", "bolt", "2024-02-01T00:00:00Z", 80),
            item("contact", "solo", "2024-02-14T08:00:00Z", 29.99),
        ],
    )
    first = assert_remembered_as_computed(project)
    assert assert_remembered_as_computed(project) is first  # unchanged: not computed again
    # Added rows, one back-dated before the others.
    send(
        project,
        "/v1/batch",
        [item("account", "acme", "2024-05-20T09:00:00Z", 120), item("account", "bolt", "2024-01-15T00:00:00Z", 10)],
    )
    assert assert_remembered_as_computed(project)[-1].mrr == 120 + 80 + revenue.money(29.99)
    # A paying contact joins a paying account: its revenue is the account's from then on.
    send(project, "/v1/contact", item("contact", "solo", "2024-06-01T00:00:00Z", 29.99, account_uid="acme"))
    assert assert_remembered_as_computed(project)[-1].mrr == 200
    # Two paying contacts merge: the rows of one move to the other in place.
    send(
        project,
        "/v1/batch",
        [item("contact", "anon", "2024-03-01T00:00:00Z", 15), item("contact", "known", "2024-04-01T00:00:00Z", 20)],
    )
    assert_remembered_as_computed(project)
    send(project, "/v1/alias", {"contact_uid": "known", "alias": "anon"})
    assert_remembered_as_computed(project)
    # A removal; then rows of an account a paying contact belongs to, and of a new account.
    send(project, "/v1/account", item("account", "bolt", "2024-07-01T00:00:00Z", None))
    assert assert_remembered_as_computed(project)[-1].mrr == 120 + 20
    send(
        project,
        "/v1/batch",
        [item("account", "acme", "2024-08-01T00:00:00Z", 0), item("account", "cola", "2024-08-02T00:00:00Z", 70)],
    )
    assert assert_remembered_as_computed(project)[-1].mrr == 20 + 70
    # Several changes to one account inside one period, and one before the first.
    send(
        project,
        "/v1/batch",
        [
            item("account", "cola", "2024-09-03T00:00:00Z", 90),
            item("account", "cola", "2024-09-04T00:00:00Z", 70),
            item("account", "cola", "2023-12-01T00:00:00Z", 5),
        ],
    )
    assert assert_remembered_as_computed(project)[-1].mrr == 20 + 70
    assert patched == [True, True, False, True]  # acme: solo, a paying contact, belongs to it
