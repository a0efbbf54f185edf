"""The playbook builder in the browser, on SQLite and PostgreSQL: a CSM builds the worked
example of docs/playbooks.md ("when an account paying over 1,000 turns bad, create a task for its
owner due in 2 days and post to Slack"), is told where a bad condition is, previews who it
would enroll, enables it, pauses it from the list and enables it again through its preview.

Screenshot: docs/screenshots/playbook-builder.png (SALESMACHINE_UPDATE_SCREENSHOTS=1, SQLite).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard_support import PASSWORD, make_user
from tests.support import Project, ServerProcess, StoredData, make_project
from tests.test_playbooks import ENV, current_band, history_built, inactive_account, playbook_database, wait_for

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ACTIONS = """[
  {"type": "task", "title": "{{account.name}} turned bad: call them", "due_in_days": 2},
  {"type": "slack", "url": "https://hooks.slack.com/services/T000/B000/XXXX",
   "text": "{{account.name}} ({{account.mrr}} a month) turned bad"}
]"""

__all__ = ["playbook_database"]  # the module's database fixture, shared with test_playbooks.py


@pytest.fixture(scope="module")
def builder_server(playbook_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = Path(tmp_path_factory.mktemp("builder-server")) / "server.log"
    process = ServerProcess(playbook_database, log, env=ENV).start()
    yield process
    process.stop()


def test_a_csm_builds_previews_enables_and_pauses_a_playbook(
    builder_server: ServerProcess, browser: Any, tmp_path: Path
) -> None:
    created, secret = make_project(builder_server.database_url)
    stored = StoredData(builder_server.database_url, created.id)
    with httpx.Client(base_url=builder_server.base_url, auth=(created.token, secret), timeout=30) as http:
        project = Project(created.id, created.name, created.token, secret, http, stored)
        history_built(project)
        inactive_account(project, "acme", 4200, name="Acme Corp")
        inactive_account(project, "tiny", 90, name="Tiny Ltd")
        inactive_account(project, "globex", 1800, days_ago=2, name="Globex")  # active lately: not bad
        wait_for(lambda: current_band(project, "acme") == "bad" and current_band(project, "tiny") == "bad", 20)
        email = make_user(builder_server.database_url, project.id)
        update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and "sqlite" in builder_server.database_url
        shots = SCREENSHOTS if update else tmp_path
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        base = f"{builder_server.base_url}/p/{project.id}"
        try:
            page.goto(f"{base}/playbooks")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/playbooks")
            assert "No playbook yet" in page.text_content("#playbooks")
            page.click("#new-playbook")
            page.fill("input[name=name]", "Big account turned bad")
            page.fill("#trigger", '{"type": "health", "to": "bad"}')
            page.fill("input[name=conditions]", "mrr>lots")
            page.fill("#actions", ACTIONS)
            page.click("#preview-button")
            error = page.locator("#playbook-error")
            assert error.get_attribute("data-field") == "conditions" and error.get_attribute("data-rule") == "number"
            assert page.locator("[data-error-for=conditions]").is_visible()
            assert page.input_value("#actions") == ACTIONS  # what was typed is kept
            page.fill("input[name=conditions]", "mrr>1000")
            page.click("#preview-button")
            assert page.get_attribute("#preview-explanation", "data-basis") == "current_state"
            assert page.locator("#preview-customers tbody tr").evaluate_all("rows => rows.map(r => r.dataset.uid)") == [
                "acme"
            ]
            page.screenshot(path=str(shots / "playbook-builder.png"), full_page=True)
            page.click("#save-enable")
            page.wait_for_url(f"{base}/playbooks?saved=1")
            row = page.locator("#playbooks tr[data-playbook='Big account turned bad']")
            assert row.locator("[data-state]").get_attribute("data-state") == "enabled"
            # Enabling enrolled who the preview listed: one task, one Slack message queued.
            wait_for(lambda: len(stored.rows("SELECT id FROM tasks WHERE project_id = :p", p=project.id)) == 1)
            # Paused from the list, then enabled again through its preview.
            row.locator("button").click()
            page.wait_for_url(f"{base}/playbooks")
            assert row.locator("[data-state]").get_attribute("data-state") == "paused"
            row.locator("button").click()
            assert page.is_visible("#confirm-enable")
            assert page.locator("#preview-customers tbody tr").count() == 1
            page.click("#save-enable")
            page.wait_for_url(f"{base}/playbooks?saved=1")
            assert row.locator("[data-state]").get_attribute("data-state") == "enabled"
            assert problems == []
        finally:
            context.close()
            stored.close()
