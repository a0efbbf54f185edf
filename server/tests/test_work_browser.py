"""Owners, notes and tasks in the real browser (Debian's Chromium through Playwright), on both
engines: a CSM takes an account, adds a task and a note from its page, finds the task in the
inbox with the count beside "My tasks", and marks it done from the list.

Screenshots go to a temporary folder; with SALESMACHINE_UPDATE_SCREENSHOTS=1 (on SQLite) they
replace docs/screenshots/account-owner-notes-tasks.png and inbox.png, which docs/work.md shows.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard_support import PASSWORD, make_user, send_customers
from tests.support import Project, ServerProcess

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture
def shots(server: ServerProcess, tmp_path: Path) -> Path:
    update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and server.database_url.startswith("sqlite")
    folder = SCREENSHOTS if update else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_csm_takes_an_account_adds_a_task_and_a_note_and_works_the_inbox(
    server: ServerProcess, project: Project, browser: Any, shots: Path
) -> None:
    send_customers(project)
    email = make_user(server.database_url, project.id)
    teammate = make_user(server.database_url, project.id)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    base = f"{server.base_url}/p/{project.id}"
    try:
        page.goto(f"{base}/")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        assert page.locator("#tasks-due").count() == 0
        assert "No open task is assigned to you." in page.inner_text("#my-tasks")

        # Take the account.
        page.goto(f"{base}/accounts/acme")
        page.select_option("#owner-select", email)
        page.click("#owner-form button")
        page.wait_for_url(f"{base}/accounts/acme")
        assert page.eval_on_selector("#owner-select", "s => s.value") == email

        # Two tasks: one overdue for me, one for a teammate; then a note.
        page.fill("#task-form input[name=title]", "Call about the failed payment")
        page.select_option("#task-form select[name=assignee]", email)
        page.fill("#task-form input[name=due_on]", str(date.today() - timedelta(days=2)))
        page.click("#task-form button")
        page.wait_for_url(f"{base}/accounts/acme#tasks")
        page.fill("#task-form input[name=title]", "Prepare the renewal quote")
        page.select_option("#task-form select[name=assignee]", teammate)
        page.fill("#task-form input[name=due_on]", str(date.today() + timedelta(days=12)))
        page.click("#task-form button")
        page.fill("#note-form textarea", "Finance changed their card last week.\nThey want SSO before renewing.")
        page.click("#note-form button")
        page.wait_for_url(f"{base}/accounts/acme#timeline")
        titles = page.eval_on_selector_all("#tasks .task-title", "els => els.map(e => e.textContent)")
        assert titles == ["Call about the failed payment", "Prepare the renewal quote"]
        assert "overdue since" in page.inner_text("#tasks .task:first-child")
        note = page.locator("#timeline li.tl-note").first
        assert email in note.inner_text() and "They want SSO before renewing." in note.inner_text()
        assert page.locator("#timeline li").first.get_attribute("class") == "tl-note"
        assert page.inner_text("#tasks-due") == "1"
        page.locator("#timeline").scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(shots / "account-owner-notes-tasks.png"), full_page=True)

        # The inbox: mine, overdue first; done from the list.
        page.click("#nav-tasks")
        page.wait_for_url(f"{base}/tasks")
        assert page.eval_on_selector_all(".task-group h2", "hs => hs.map(h => h.firstChild.textContent.trim())") == [
            "Overdue"
        ]
        assert page.inner_text("#group-overdue .task-title") == "Call about the failed payment"
        page.click("text=Everyone's")
        page.wait_for_url(f"{base}/tasks?view=all")
        assert page.locator(".task").count() == 2
        page.screenshot(path=str(shots / "inbox.png"), full_page=True)
        page.click("text=Mine")
        page.click('#group-overdue [data-action="done"]')
        page.wait_for_url(f"{base}/tasks?view=mine")
        assert page.locator("#tasks-due").count() == 0
        assert page.locator("#inbox-empty").count() == 1

        # My accounts: the one taken.
        page.click("#nav-my-accounts")
        page.wait_for_url(f"{base}/accounts?owner=me")
        assert page.eval_on_selector_all("#list tbody tr", "rows => rows.map(r => r.dataset.uid)") == ["acme"]
        assert problems == []
    finally:
        context.close()
