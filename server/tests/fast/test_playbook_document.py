"""The playbook document (domain/playbooks.py) and its templates: the shape scripts rely on is
accepted, each kind of trigger and action reads back as written, and a bad document is refused
naming the field and the rule."""

from __future__ import annotations

from typing import Any

import pytest

from salesmachine_server.domain.playbook_templates import TemplateError, parse_template, render
from salesmachine_server.domain.playbooks import PlaybookError, State, change_detail, movement, parse_playbook

ISSUE_SHAPE = {
    "name": "Payment failed",
    "enrollment": "every_time",
    "trigger": {"type": "event", "event": "payment_failed"},
    "actions": [
        {"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "whsec_..."},
        {"type": "task", "title": "Call about the failed payment", "due_in_days": 2},
    ],
}


def test_the_shape_scripts_rely_on_is_accepted() -> None:
    playbook = parse_playbook(ISSUE_SHAPE)
    assert playbook.name == "Payment failed"
    assert playbook.enrollment == "every_time" and not playbook.once
    assert playbook.trigger.type == "event" and playbook.trigger.event == "payment_failed"
    assert [a.type for a in playbook.actions] == ["webhook", "task"]
    assert playbook.actions[1].due_in_days == 2 and playbook.actions[1].assignee == "owner"
    assert playbook.subject == "account" and playbook.enabled


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "event", "event": "payment_failed", "where": "amount>100&currency=EUR"},
        {"type": "health", "to": "bad"},
        {"type": "health", "to": "any"},
        {"type": "status", "status": "churned", "change": "entered"},
        {"type": "stage", "stage": "Onboarding", "change": "left"},
        {"type": "segment", "segment": "Big accounts", "change": "entered"},
        {"type": "mrr", "movement": "churn", "at_least": 0.0},
        {"type": "mrr", "movement": "expansion", "at_least": 500.0},
        {"type": "pulse_stale"},
        {"type": "renewal", "within_days": 30, "field": "renewal_date"},
    ],
)
def test_every_trigger_reads_back_as_written(trigger: dict[str, Any]) -> None:
    document = {**ISSUE_SHAPE, "trigger": trigger, "conditions": "mrr>1000"}
    again = parse_playbook(document).to_document()
    assert again["trigger"] == trigger
    assert parse_playbook(again) == parse_playbook(document)


def test_every_action_reads_back_as_written() -> None:
    actions = [
        {"type": "task", "title": "Call {{account.name}}", "due_in_days": 2, "assignee": "ann@example.com"},
        {"type": "set_owner", "user": "ann@example.com"},
        {"type": "webhook", "url": "https://hooks.example.com/x", "secret": "whsec_12345678", "message": "hi"},
        {"type": "slack", "url": "https://hooks.slack.com/services/T/B/X", "text": "{{account.uid}} turned bad"},
        {"type": "email", "to": "owner", "subject": "{{account.name}} needs you", "text": "mrr {{account.mrr}}"},
    ]
    playbook = parse_playbook({**ISSUE_SHAPE, "actions": actions})
    assert playbook.to_document()["actions"] == actions
    assert playbook.user_emails() == ["ann@example.com", "ann@example.com"]


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"name": ""}, "name", "required"),
        ({"enrollment": "twice"}, "enrollment", "one_of"),
        ({"subject": "lead"}, "subject", "one_of"),
        ({"trigger": {"type": "weather"}}, "trigger.type", "one_of"),
        ({"trigger": {"type": "event"}}, "trigger.event", "required"),
        ({"trigger": {"type": "event", "event": "x", "colour": 1}}, "trigger.colour", "unknown_field"),
        ({"trigger": {"type": "health", "to": "purple"}}, "trigger.to", "one_of"),
        ({"trigger": {"type": "status", "status": "asleep"}}, "trigger.status", "one_of"),
        ({"trigger": {"type": "mrr", "at_least": -1}}, "trigger.at_least", "number"),
        ({"trigger": {"type": "renewal", "within_days": "soon"}}, "trigger.within_days", "days"),
        ({"conditions": "mrr>lots"}, "conditions", "number"),
        ({"conditions": "sort=mrr"}, "conditions", "filters_only"),
        ({"actions": []}, "actions", "required"),
        ({"actions": [{"type": "fax"}]}, "actions[0].type", "one_of"),
        ({"actions": [{"type": "task", "title": "x", "due_in_days": -1}]}, "actions[0].due_in_days", "days"),
        ({"actions": [{"type": "task", "title": "x", "assignee": "bob"}]}, "actions[0].assignee", "email"),
        ({"actions": [{"type": "webhook", "url": "ftp://x", "secret": "whsec_..."}]}, "actions[0].url", "url"),
        ({"actions": [{"type": "webhook", "url": "https://x.example", "secret": "s"}]}, "actions[0].secret", "secret"),
        (
            {"actions": [{"type": "slack", "url": "https://x.example", "text": "{{account.name"}]},
            "actions[0].text",
            "template",
        ),
        (
            {"actions": [{"type": "slack", "url": "https://x.example", "text": "{{os.environ}}"}]},
            "actions[0].text",
            "template",
        ),
        ({"actions": [{"type": "email", "to": "nobody", "subject": "s"}]}, "actions[0].to", "email"),
        ({"enabled": "yes"}, "enabled", "boolean"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_a_bad_document_names_field_and_rule(change: dict[str, Any], field: str, rule: str) -> None:
    with pytest.raises(PlaybookError) as caught:
        parse_playbook({**ISSUE_SHAPE, **change})
    assert (caught.value.field, caught.value.rule) == (field, rule)
    assert caught.value.message


def test_an_event_template_needs_an_event_trigger() -> None:
    document = {
        **ISSUE_SHAPE,
        "trigger": {"type": "health", "to": "bad"},
        "actions": [{"type": "task", "title": "after {{event.name}}"}],
    }
    with pytest.raises(PlaybookError) as caught:
        parse_playbook(document)
    assert caught.value.field == "actions[0].title" and caught.value.rule == "template"


def test_event_conditions_on_params() -> None:
    trigger = parse_playbook(
        {**ISSUE_SHAPE, "trigger": {"type": "event", "event": "paid", "where": ["amount>=100", "plan=pro"]}}
    ).trigger
    assert trigger.matches_params({"amount": 100, "plan": "pro"})
    assert trigger.matches_params({"amount": "250.5", "plan": "pro"})
    assert not trigger.matches_params({"amount": 99, "plan": "pro"})
    assert not trigger.matches_params({"amount": 500})
    missing = parse_playbook({**ISSUE_SHAPE, "trigger": {"type": "event", "event": "x", "where": "coupon="}}).trigger
    assert missing.matches_params({}) and not missing.matches_params({"coupon": "X"})


def test_mrr_movements() -> None:
    assert movement(100, 0) == "churn" and movement(100, 50) == "contraction" and movement(50, 100) == "expansion"
    assert movement(0, 100) is None
    trigger = parse_playbook(
        {**ISSUE_SHAPE, "trigger": {"type": "mrr", "movement": "expansion", "at_least": 500}}
    ).trigger
    assert trigger.matches_move(1000, 1500) and not trigger.matches_move(1000, 1499)
    assert not trigger.matches_move(1500, 1000)
    churn = parse_playbook({**ISSUE_SHAPE, "trigger": {"type": "mrr", "movement": "churn"}}).trigger
    assert churn.matches_move(100, None) and not churn.matches_move(100, 50)


def test_templates_fill_names_and_nothing_else() -> None:
    values = {
        "account": {"uid": "acme", "mrr": 1250.0, "params": {"name": "Acme", "plan": "pro"}},
        "event": {"name": "x"},
    }
    assert render("{{account.name}} pays {{ account.mrr }} on {{account.plan}}", values) == "Acme pays 1,250 on pro"
    assert render("{{account.missing}}|{{event.name}}", values) == "|x"
    for bad in ("{{__class__.x}}", "{{account}}", "{{account.name|upper}}", "{{ 1+1 }}", "{{account.name"):
        with pytest.raises(TemplateError):
            parse_template(bad)


def test_changes_of_state_that_health_status_and_stage_triggers_fire_on() -> None:
    def trigger(**doc: Any) -> Any:
        return parse_playbook({**ISSUE_SHAPE, "trigger": doc}).trigger

    paying_good, paying_bad = State("paying", None, "good"), State("paying", None, "bad")
    assert change_detail(trigger(type="health", to="bad"), paying_good, paying_bad) == {"from": "good", "to": "bad"}
    assert change_detail(trigger(type="health", to="bad"), paying_bad, paying_bad) is None
    assert change_detail(trigger(type="health", to="bad"), None, paying_bad) is not None
    assert change_detail(trigger(type="health", to="any"), None, paying_bad) is None  # a first state is no change
    assert change_detail(trigger(type="health", to="any"), paying_bad, paying_good) is not None
    churned = State("churned", None, None)
    assert change_detail(trigger(type="status", status="churned"), paying_good, churned) == {
        "from": "paying",
        "to": "churned",
    }
    assert change_detail(trigger(type="status", status="paying", change="left"), paying_good, churned) is not None
    assert change_detail(trigger(type="status", status="paying", change="left"), None, churned) is None
    adopted = State("paying", "Adopted", "good")
    assert change_detail(trigger(type="stage", stage="Adopted"), paying_good, adopted) == {
        "from": None,
        "to": "Adopted",
    }
    assert change_detail(trigger(type="stage", stage="Adopted"), adopted, adopted) is None


def test_every_document_of_docs_playbooks_md_is_accepted() -> None:
    import json
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[3] / "docs" / "playbooks.md").read_text()
    documents = re.findall(r"<!-- playbook-document -->\s*```json\n(.*?)```", page, re.S)
    assert len(documents) == 2
    for text in documents:
        parse_playbook(json.loads(text))
