"""The health settings page's common-case form as plain functions (web/health_settings.py): what it
shows of a document, what it writes into one (keeping what it does not show), and its refusals
by field."""

from __future__ import annotations

from typing import Any

import pytest

from salesmachine_server.domain.health_model import HealthModel
from salesmachine_server.web.health_settings import Refusal, apply_quick, parse_draft, quick_of

FORM = {
    "good_days": "14",
    "good_at_least": "5",
    "bad_days": "7",
    "bad_at_most": "0",
    "bad_event": "login",
    "bad_event_days": "21",
}


def default() -> dict[str, Any]:
    return HealthModel.default().to_document()


def test_the_form_shows_the_default_rule() -> None:
    quick = quick_of(default())
    assert (quick.good_at_least, quick.good_days, quick.bad_at_most, quick.bad_days) == (5, 14, 0, 14)
    assert quick.bad_event == "" and not quick.other


def test_the_form_writes_the_accounts_rule_for_every_stage_and_nothing_else() -> None:
    before = default()
    after = apply_quick(before, FORM)
    assert after["accounts"]["rules"][-1] == {
        "stage": None,
        "good": [{"signal": "active_days", "days": 14, "at_least": 5}],
        "bad": [
            {"signal": "active_days", "days": 7, "at_most": 0},
            {"signal": "event", "event": "login", "days": 21, "at_most": 0},
        ],
    }
    assert after["contacts"] == before["contacts"]  # untouched, and `before` is not changed
    assert before["accounts"]["rules"][-1]["bad"] == [{"signal": "active_days", "days": 14, "at_most": 0}]
    HealthModel.parse(after)  # a document the server takes
    shown = quick_of(after)
    assert (shown.bad_days, shown.bad_event, shown.bad_event_days) == (7, "login", 21)
    # An empty event name removes that signal.
    assert apply_quick(after, {**FORM, "bad_event": " "})["accounts"]["rules"][-1]["bad"] == [
        {"signal": "active_days", "days": 7, "at_most": 0}
    ]


def test_signals_the_form_does_not_show_are_kept_and_said_to_be_there() -> None:
    document = default()
    nps = {"signal": "attribute", "condition": "nps<=6"}
    document["accounts"]["rules"][-1]["bad"].append(nps)
    stage_rule = {"stage": "Onboarding", "good": [], "bad": [{"signal": "active_days", "days": 7, "at_most": 0}]}
    document["accounts"]["stages"] = [{"name": "Onboarding", "when": "first_seen_at>-30d"}]
    document["accounts"]["rules"].insert(0, stage_rule)
    assert quick_of(document).other
    after = apply_quick(document, FORM)
    assert nps in after["accounts"]["rules"][-1]["bad"]
    assert after["accounts"]["rules"][0] == stage_rule


@pytest.mark.parametrize(
    ("field", "value", "rule"),
    [("good_at_least", "five", "integer"), ("bad_days", "0", "minimum"), ("bad_event_days", "", "integer")],
)
def test_a_bad_number_is_refused_at_its_form_field(field: str, value: str, rule: str) -> None:
    with pytest.raises(Refusal) as refused:
        apply_quick(default(), {**FORM, field: value})
    assert (refused.value.field, refused.value.rule) == (field, rule)


def test_the_document_is_refused_at_its_field_and_rule() -> None:
    document = default()
    document["accounts"]["rules"][0]["bad"][0]["days"] = 0
    import orjson

    with pytest.raises(Refusal) as refused:
        parse_draft(orjson.dumps(document).decode())
    assert refused.value.field == "accounts.rules[0].bad[0].days"
    for text, rule in (("{", "json"), ("[]", "object")):
        with pytest.raises(Refusal) as refused:
            parse_draft(text)
        assert (refused.value.field, refused.value.rule) == ("document", rule)
