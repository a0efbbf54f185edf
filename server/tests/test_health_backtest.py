"""POST /v1/health/backtest and `salesmachine health backtest`, over HTTP and on the database, on
SQLite and PostgreSQL: a project's past sent through the tracking API (tests/backtest_support.py,
whose docstring works out every expected figure by hand), backtested with the saved rule and
with a draft; and every bad request refused by field and rule."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import backtest_support as past
from tests.support import Project, ServerProcess


def test_the_saved_rule_and_a_draft_give_the_figures_worked_out_by_hand(project: Project) -> None:
    past.send_history(project)
    saved = past.backtest(project, past.asked_range())
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert past.figures(answer) == past.expected_saved()
    assert answer["rules"] == "saved"
    assert (answer["from"], answer["to"]) == (past.day(120).isoformat(), past.day(1).isoformat())
    assert answer["replayed_from"] == past.day(180).isoformat()
    assert answer["timezone"] == "UTC"

    draft = past.backtest(project, {**past.asked_range(), "rules": past.document(past.DRAFT_RULE)})
    assert draft.status_code == 200, draft.text
    assert draft.json()["rules"] == "draft"
    assert past.figures(draft.json()) == past.expected_draft()

    # Backtesting a draft stored nothing: the saved rule's figures are the same again; once the
    # draft is saved (PUT /v1/settings/health), the backtest without rules is the draft's.
    assert past.figures(past.backtest(project, past.asked_range()).json()) == past.expected_saved()
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=60) as reader:
        saved = reader.put("/v1/settings/health", json=past.document(past.DRAFT_RULE))
        assert saved.status_code == 200, saved.text
    assert past.figures(past.backtest(project, past.asked_range()).json()) == past.expected_draft()


def test_the_default_range_is_the_twelve_months_ending_today(project: Project) -> None:
    answer = past.backtest(project, {})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    today = past.today()
    assert body["to"] == today.isoformat()
    assert body["from"] == (today.replace(year=today.year - 1) + (past.day(0) - past.day(1))).isoformat()
    assert body["churned"] == 0 and body["median_days_bad_before_churn"] is None
    assert body["accounts"] == {
        "churned": [],
        "flagged": {key: {"bad": [], "bad_or_average": []} for key in ("7", "30", "60")},
        "false_alarms": [],
    }


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (
            {"rules": past.document({"stage": None, "good": [], "bad": [{"signal": "telepathy"}]})},
            "rules.accounts.rules[0].bad[0].signal",
            None,
        ),
        (
            {
                "rules": past.document(
                    {"stage": None, "good": [], "bad": [{"signal": "active_days", "days": 0, "at_most": 0}]}
                )
            },
            "rules.accounts.rules[0].bad[0].days",
            None,
        ),
        ({"rules": {**past.document(past.DRAFT_RULE), "colour": "red"}}, "rules.colour", None),
        ({"rules": "strict"}, "rules", "object"),
        ({"rules": None, "since": "2026-01-01"}, "since", "known"),
        ({"from": "01/02/2026"}, "from", "date"),
        ({"to": 20260101}, "to", "date"),
        ({"from": "2026-02-30"}, "from", "date"),
        ({"from": "2025-06-01", "to": "2025-05-01"}, "to", "not_before_from"),
        ({"to": "2999-01-01"}, "to", "not_after_today"),
        ({"from": "2020-01-01", "to": "2024-01-01"}, "from", "max_days"),
    ],
)
def test_a_bad_request_is_a_400_naming_the_field_and_the_rule(
    project: Project, body: dict[str, Any], field: str, rule: str | None
) -> None:
    answer = past.backtest(project, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["code"] == "bad_request"
    assert error["field"] == field, error
    assert error["rule"], error
    if rule is not None:
        assert error["rule"] == rule, error


def test_a_body_that_is_not_a_json_object_is_a_400(project: Project) -> None:
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30) as reader:
        for content, rule in ((b"{", "json"), (b"[1, 2]", "object")):
            answer = reader.post("/v1/health/backtest", content=content, headers={"content-type": "application/json"})
            assert answer.status_code == 400, answer.text
            assert (answer.json()["field"], answer.json()["rule"]) == ("body", rule)


def test_the_token_alone_does_not_backtest(project: Project) -> None:
    answer = project.http.post("/v1/health/backtest", json={})
    assert answer.status_code == 401
    assert answer.json()["rule"] == "token_and_secret"


# --- the command line ---------------------------------------------------------------------


def cli(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesmachine_server", *args, "--database", server.database_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SALESMACHINE_INVOKED_AS": "salesmachine"},
    )


def test_the_command_prints_the_same_figures_as_the_api(
    server: ServerProcess, project: Project, tmp_path: Path
) -> None:
    past.send_history(project)
    dates = ["--from", past.day(120).isoformat(), "--to", past.day(1).isoformat()]
    as_json = cli(server, "health", "backtest", "--project", project.name, *dates, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert past.figures(json.loads(as_json.stdout)) == past.expected_saved()

    rules = tmp_path / "draft.json"
    rules.write_text(json.dumps(past.document(past.DRAFT_RULE)))
    table = cli(server, "health", "backtest", "--project", project.name, *dates, "--rules", str(rules))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith(f"Backtest of a draft health model of {project.name}, {past.day(120)} to {past.day(1)}")
    assert "Accounts that churned: 3" in lines
    assert any(line.split() == ["7", "days", "before", "2", "(67%)", "2", "(67%)"] for line in lines), lines
    assert "Median days bad before churning: 11" in lines
    assert "False alarms (bad 30 days or more while paying, no churn): 1" in lines
    acme = next(line for line in lines if line.strip().startswith("Acme Corp (acme)"))
    assert acme.split()[-7:] == [past.day(70).isoformat(), "bad", "/", "good", "/", "good", "23"]
    umbrella = next(line for line in lines if line.strip().startswith("Umbrella (umbrella)"))
    assert umbrella.split()[-3:] == [past.day(103).isoformat(), past.day(51).isoformat(), "53"]


def test_the_command_refuses_a_bad_rules_file_by_field(server: ServerProcess, project: Project, tmp_path: Path) -> None:
    rules = tmp_path / "bad.json"
    rules.write_text(json.dumps(past.document({"stage": None, "good": [], "bad": [{"signal": "telepathy"}]})))
    done = cli(server, "health", "backtest", "--project", project.name, "--rules", str(rules))
    assert done.returncode == 2
    assert "rules.accounts.rules[0].bad[0].signal" in done.stderr
    rules.write_text("{not json")
    done = cli(server, "health", "backtest", "--project", project.name, "--rules", str(rules))
    assert done.returncode == 1 and "is not JSON" in done.stderr
    done = cli(server, "health", "backtest", "--project", project.name, "--from", "yesterday")
    assert done.returncode == 2 and "from must be a date YYYY-MM-DD" in done.stderr
