"""The dashboard's health settings (web/health_settings.py): the saved model shown and editable, a
draft's backtest beside the saved rule's before saving, refusals at their field, saving.

The project's past is tests/backtest_support.py's, whose docstring works out the figures: the
page must show the same ones as POST /v1/health/backtest, for the saved rule and for the draft.
In Chromium (Playwright), on SQLite and PostgreSQL; the screenshot goes to
docs/screenshots/health-backtest.png with SALESMACHINE_UPDATE_SCREENSHOTS=1 (SQLite run only).
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import backtest_support as past
from tests.dashboard_support import csrf_of, make_user, signed_in
from tests.support import Project, ServerProcess

REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "docs" / "screenshots"


@pytest.fixture
def shots(server: ServerProcess, tmp_path: Path) -> Path:
    update = os.environ.get("SALESMACHINE_UPDATE_SCREENSHOTS") == "1" and server.database_url.startswith("sqlite")
    folder = SCREENSHOTS if update else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch(page: Any, origin: str) -> list[str]:
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


def figure(page: Any, key: str, rules: str) -> str:
    return str(page.inner_text(f"#comparison tr[data-key='{key}'] td[data-rules={rules}] .figure"))


def shown_figures(page: Any, rules: str) -> dict[str, Any]:
    """The page's column of figures, in the API's shape (the counts)."""
    number = lambda key: int(figure(page, key, rules))  # noqa: E731
    median = figure(page, "median", rules)
    return {
        "churned": number("churned"),
        "flagged": {
            str(lead): {key: number(f"flagged-{lead}-{key}") for key in ("bad", "bad_or_average")}
            for lead in (7, 30, 60)
        },
        "median_days_bad_before_churn": None if median == "—" else float(median),
        "false_alarms": number("false-alarms"),
    }


def counts(expected: dict[str, Any]) -> dict[str, Any]:
    return {key: expected[key] for key in ("churned", "flagged", "median_days_bad_before_churn", "false_alarms")}


def test_a_csm_backtests_a_draft_beside_the_saved_rule_then_saves_it(
    server: ServerProcess, project: Project, browser: Any, shots: Path
) -> None:
    past.send_history(project)
    email = make_user(server.database_url, project.id)
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    with signed_in(server.base_url, email) as client:
        context.add_cookies([{"name": "sm_session", "value": client.cookies["sm_session"], "url": server.base_url}])
    page = context.new_page()
    problems = watch(page, server.base_url)
    base = f"{server.base_url}/p/{project.id}"
    try:
        page.goto(f"{base}/settings")
        page.click("#health-model-link")
        assert page.inner_text("h1") == "Health settings"
        # The saved model: the default rule, in the form and in the document.
        assert page.input_value("input[name=good_at_least]") == "5"
        assert page.input_value("input[name=bad_days]") == "14"
        saved_document = json.loads(page.input_value("textarea[name=document]"))
        assert saved_document["accounts"]["rules"][-1]["bad"] == past.DEFAULT_MODEL_RULE["bad"]
        assert page.locator("#comparison").count() == 0

        # A draft: bad after 7 days without activity, backtested over the range of the hand count.
        page.fill("input[name=bad_days]", "7")
        page.fill("input[name=from]", past.day(past.FROM_DAYS_AGO).isoformat())
        page.fill("input[name=to]", past.day(past.TO_DAYS_AGO).isoformat())
        page.click("#backtest-quick")
        page.wait_for_selector("#comparison")
        assert shown_figures(page, "saved") == counts(past.expected_saved())
        assert shown_figures(page, "draft") == counts(past.expected_draft())
        # The draft warns of more churn 7 days ahead and earlier: marked better.
        assert page.get_attribute("#comparison tr[data-key='flagged-7-bad']", "data-verdict") == "better"
        assert page.get_attribute("#comparison tr[data-key='median']", "data-verdict") == "better"
        # The accounts behind a figure, a click away.
        cell = page.locator("#comparison tr[data-key='flagged-7-bad'] td[data-rules=draft]")
        cell.locator("summary").click()
        assert cell.locator("li").all_inner_texts() == ["Acme Corp", "Globex"]
        # The draft stays in the form and the editor, and nothing was saved yet.
        assert page.input_value("input[name=bad_days]") == "7"
        draft = json.loads(page.input_value("textarea[name=document]"))
        assert draft["accounts"]["rules"][-1]["bad"] == past.DRAFT_RULE["bad"]
        assert saved_rule(project) == past.DEFAULT_MODEL_RULE["bad"]
        page.screenshot(path=str(shots / "health-backtest.png"), full_page=True)

        # A mistake in the document is refused at its field, the typed text kept.
        broken = json.loads(page.input_value("textarea[name=document]"))
        broken["accounts"]["rules"][-1]["bad"][0]["days"] = 0
        page.fill("textarea[name=document]", json.dumps(broken, indent=2))
        page.click("#backtest-document")
        alert = page.locator("#refusal")
        last = len(broken["accounts"]["rules"]) - 1
        assert alert.get_attribute("data-field") == f"accounts.rules[{last}].bad[0].days"
        assert page.get_attribute("textarea[name=document]", "aria-invalid") == "true"
        assert '"days": 0' in page.input_value("textarea[name=document]")

        # Fixed, then saved: the model in force is the draft.
        broken["accounts"]["rules"][-1]["bad"][0]["days"] = 7
        page.fill("textarea[name=document]", json.dumps(broken, indent=2))
        page.click("#save-document")
        page.wait_for_selector("p.notice")
        assert saved_rule(project) == past.DRAFT_RULE["bad"]
        assert page.input_value("input[name=bad_days]") == "7"
    finally:
        context.close()
    # Nothing went wrong but the one refusal, answered 400 on purpose (the browser logs that).
    assert problems == ["console: Failed to load resource: the server responded with a status of 400 (Bad Request)"]


def saved_rule(project: Project) -> Any:
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30) as reader:
        return reader.get("/v1/settings/health").json()["accounts"]["rules"][-1]["bad"]


def test_the_form_refuses_a_bad_number_by_its_field_and_needs_the_csrf_token(
    server: ServerProcess, project: Project
) -> None:
    email = make_user(server.database_url, project.id)
    with signed_in(server.base_url, email) as client:
        page = client.get(f"/p/{project.id}/settings/health")
        assert page.status_code == 200
        editor = re.search(r'<textarea name="document"[^>]*>(.*?)</textarea>', page.text, re.DOTALL)
        assert editor is not None
        document = json.loads(html.unescape(editor.group(1)))
        form = {
            "csrf": csrf_of(page.text),
            "document": json.dumps(document),
            "good_days": "14",
            "good_at_least": "five",
            "bad_days": "14",
            "bad_at_most": "0",
            "bad_event": "",
            "bad_event_days": "21",
            "do": "backtest:quick",
        }
        refused = client.post(f"/p/{project.id}/settings/health", data=form)
        assert refused.status_code == 400
        assert 'data-field="good_at_least"' in refused.text and 'data-rule="integer"' in refused.text
        forged = client.post(f"/p/{project.id}/settings/health", data={**form, "csrf": "forged"})
        assert forged.status_code == 403
        bad_range = client.post(
            f"/p/{project.id}/settings/health", data={**form, "good_at_least": "5", "from": "2026-13-01"}
        )
        assert bad_range.status_code == 400 and 'data-field="from"' in bad_range.text
