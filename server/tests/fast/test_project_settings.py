"""A project's settings: the stored document read into typed settings, and the one validation
of a change, which `salesmachine projects configure` and the dashboard's settings form share
(the same bad value gets the same refusal in both, shown here in process)."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from markupsafe import escape

from salesmachine_server.cli import main
from salesmachine_server.domain.health import HealthRule
from salesmachine_server.domain.project_settings import (
    ProjectSettings,
    Refusal,
    SettingsRefused,
    changed,
    from_stored,
    to_stored,
)
from tests.dashboard_support import PASSWORD, csrf_of, make_user
from tests.fast.conftest import InProcess
from tests.support import Project

PARIS = ProjectSettings(timezone="Europe/Paris", health=HealthRule(7, 2, 1), identity_verification=True)


def refusals(change: dict[str, Any], current: ProjectSettings | None = None) -> list[tuple[str, str, str]]:
    with pytest.raises(SettingsRefused) as refused:
        changed(current or ProjectSettings(), change)
    return [(r.field, r.rule, r.message) for r in refused.value.refusals]


def test_a_stored_document_reads_into_settings_and_back() -> None:
    stored = {
        "timezone": "Europe/Paris",
        "identity_verification": True,
        "health": {"window_days": 7, "good_above": 2, "bad_at_most": 1},
        "currency": "USD",
    }
    assert from_stored(stored) == PARIS
    assert to_stored(PARIS) == stored


@pytest.mark.parametrize(
    "stored",
    [{}, {"timezone": "UTC"}, {"health": {}}, {"health": None}, {"identity_verification": False}],
)
def test_what_a_document_leaves_out_takes_its_default(stored: dict[str, Any]) -> None:
    assert from_stored(stored) == ProjectSettings()
    assert ProjectSettings().zone.key == "UTC"


def test_a_time_zone_this_machine_no_longer_knows_applies_as_utc() -> None:
    assert from_stored({"timezone": "Mars/Olympus"}).timezone == "UTC"


def test_a_partial_health_document_keeps_the_other_defaults() -> None:
    assert from_stored({"health": {"good_above": 6}}).health == HealthRule(window_days=14, good_above=6, bad_at_most=0)


def test_a_change_applies_only_what_it_names() -> None:
    assert changed(PARIS, {}) == PARIS
    assert changed(PARIS, {"health": {"good_above": "5"}}) == ProjectSettings(
        timezone="Europe/Paris", health=HealthRule(7, 5, 1), identity_verification=True
    )
    assert changed(PARIS, {"timezone": " Asia/Tokyo "}).timezone == "Asia/Tokyo"
    assert changed(PARIS, {"identity_verification": False}).identity_verification is False


def test_none_puts_a_setting_back_to_its_default() -> None:
    assert changed(PARIS, {"timezone": None, "identity_verification": None, "health": None}) == ProjectSettings()
    assert changed(PARIS, {"health": {"window_days": None}}).health == HealthRule(14, 2, 1)


@pytest.mark.parametrize("value", ["0", "366", "-1", "²", "٣", "9" * 5000, "", "1.5", 0, 366, True, 7.0])
def test_a_window_is_a_whole_number_from_1_to_365(value: Any) -> None:
    assert refusals({"health": {"window_days": value}}) == [
        ("health.window_days", "whole_number", "window days must be a whole number from 1 to 365")
    ]


@pytest.mark.parametrize("value", ["1", "365", "0365", 1, 365])
def test_a_window_in_range_is_taken_typed_or_as_text(value: Any) -> None:
    assert changed(ProjectSettings(), {"health": {"window_days": value}}).health.window_days == int(value)


def test_good_must_not_be_below_bad_after_the_change() -> None:
    assert refusals({"health": {"good_above": "2", "bad_at_most": "3"}}) == [
        ("health.good_above", "not_below_bad", "'good: more than' must not be below 'bad: at most'")
    ]
    # Against the thresholds in force: bad at most 1 stays, good above 0 would be below it.
    assert refusals({"health": {"good_above": 0}}, PARIS)[0][1] == "not_below_bad"
    assert changed(PARIS, {"health": {"good_above": 1}}).health.good_above == 1  # equal is allowed


def test_every_refusal_is_named_at_once() -> None:
    assert refusals(
        {
            "timezone": "Mars/Olympus",
            "identity_verification": "yes",
            "health": {"window_days": "0", "good_above": "x", "bad_at_most": "3", "grace": 1},
            "colour": "blue",
        }
    ) == [
        ("colour", "known_setting", "there is no setting named 'colour'"),
        ("timezone", "time_zone", "unknown time zone 'Mars/Olympus'"),
        ("identity_verification", "boolean", "identity verification must be true or false"),
        ("health.grace", "known_setting", "there is no health threshold named 'grace'"),
        ("health.window_days", "whole_number", "window days must be a whole number from 1 to 365"),
        ("health.good_above", "whole_number", "good above must be a whole number from 0 to 365"),
    ]
    assert refusals({"health": [1, 2]}) == [("health", "object", "health must be an object of thresholds")]
    assert refusals({"timezone": ""}) == [("timezone", "time_zone", "unknown time zone ''")]


def test_a_refusal_is_a_value_error_with_its_messages() -> None:
    error = SettingsRefused([Refusal("timezone", "time_zone", "a"), Refusal("x", "y", "b")])
    assert isinstance(error, ValueError) and str(error) == "a; b"


# The same bad form, typed in the dashboard and given to `salesmachine projects configure`.
BAD_FORMS = {
    "window": {"window_days": "0", "good_above": "4", "bad_at_most": "0", "timezone": "Mars/Olympus"},
    "order": {"window_days": "14", "good_above": "2", "bad_at_most": "3", "timezone": "UTC"},
    "over a year": {"window_days": "14", "good_above": "366", "bad_at_most": "0", "timezone": "UTC"},
    "superscript": {"window_days": "14", "good_above": "4", "bad_at_most": "²", "timezone": "Asia/Tokyo"},
    "blank zone": {"window_days": "14", "good_above": "4", "bad_at_most": "0", "timezone": " "},
}
OPTIONS = {
    "window_days": "--health-window",
    "good_above": "--health-good-above",
    "bad_at_most": "--health-bad-at-most",
    "timezone": "--timezone",
}


@pytest.mark.parametrize("name", list(BAD_FORMS))
def test_the_cli_and_the_dashboard_refuse_a_bad_value_alike(inprocess: InProcess, project: Project, name: str) -> None:
    form = BAD_FORMS[name]
    expected = refusals({"timezone": form["timezone"], "health": {k: v for k, v in form.items() if k != "timezone"}})
    assert expected
    document = "SELECT settings FROM projects WHERE id = :project"
    before = project.stored.rows(document)

    browser = inprocess.raw()
    email = make_user(inprocess.database_url, project.id)
    signin = csrf_of(browser.get("/signin").text)
    assert (
        browser.post(
            "/signin", data={"csrf": signin, "email": email, "password": PASSWORD, "next": "/"}, follow_redirects=False
        ).status_code
        == 303
    )
    csrf = csrf_of(browser.get(f"/p/{project.id}/settings").text)
    page = browser.post(f"/p/{project.id}/settings", data={"csrf": csrf, **form}, follow_redirects=False)
    assert page.status_code == 400
    for _field, _rule, message in expected:
        assert str(escape(message)) in page.text

    arguments = [part for key, value in form.items() for part in (OPTIONS[key], value)]
    cli = CliRunner().invoke(
        main, ["projects", "configure", project.name, *arguments, "--database", inprocess.database_url]
    )
    assert cli.exit_code == 2, cli.output
    shown = [line.removeprefix("Error: ") for line in cli.output.splitlines() if "Invalid value" in line]
    assert shown == [
        f"Invalid value for '{OPTIONS[field.removeprefix('health.')]}': {message}" for field, _rule, message in expected
    ]

    assert project.stored.rows(document) == before  # neither stored anything


def test_the_cli_prints_what_it_stored(inprocess: InProcess, project: Project) -> None:
    cli = CliRunner().invoke(
        main,
        [
            "projects",
            "configure",
            project.name,
            "--health-good-above",
            "6",
            "--no-identity-verification",
            "--database",
            inprocess.database_url,
        ],
    )
    assert cli.exit_code == 0, cli.output
    assert cli.stdout.strip() == (
        '{"timezone":"UTC","identity_verification":false,"health":{"window_days":14,"good_above":6,"bad_at_most":0},"currency":"USD"}'
    )
