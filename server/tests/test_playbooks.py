"""Playbooks over HTTP on SQLite and PostgreSQL: the document saved, refused by field and rule,
previewed; each kind of trigger fires once (or every time), within seconds of the data, with its
task and its deliveries committed together; two servers on one PostgreSQL fire each alert once.

These tests own their servers (a fresh database each, scans every second, private addresses
allowed for the receivers on 127.0.0.1), so that no other server holds the runner's lease.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Project, ServerProcess, StoredData, make_project, postgres_database

ENV = {"SALESMACHINE_PLAYBOOK_SCAN_SECONDS": "1", "SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS": "1"}
ISSUE_SHAPE: dict[str, Any] = {
    "name": "Payment failed",
    "enrollment": "every_time",
    "trigger": {"type": "event", "event": "payment_failed"},
    "actions": [
        {"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "whsec_..."},
        {"type": "task", "title": "Call about the failed payment", "due_in_days": 2},
    ],
}
FIRES_WITHIN = 10.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def playbook_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('playbooks')}/salesmachine.db"
        return
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def playbook_server(playbook_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = Path(tmp_path_factory.mktemp("playbook-server")) / "server.log"
    process = ServerProcess(playbook_database, log, env=ENV).start()
    yield process
    process.stop()


@pytest.fixture
def pb(playbook_server: ServerProcess) -> Iterator[Project]:
    created, secret = make_project(playbook_server.database_url)
    stored = StoredData(playbook_server.database_url, created.id)
    with httpx.Client(base_url=playbook_server.base_url, auth=(created.token, secret), timeout=30) as http:
        yield Project(created.id, created.name, created.token, secret, http, stored)
    stored.close()


def send(project: Project, path: str, body: dict[str, Any]) -> None:
    answer = httpx.post(f"{project.http.base_url}{path}", json=body, auth=(project.token, ""), timeout=30)
    assert answer.status_code == 201, answer.text


def event(project: Project, contact: str, name: str, account: str | None = "acme", **params: Any) -> None:
    if account is not None:
        params["account_uid"] = account
    send(project, "/v1/track/event", {"contact_uid": contact, "event_uid": name, "params": params})


def create(project: Project, document: dict[str, Any]) -> dict[str, Any]:
    answer = project.http.post("/v1/playbooks", json=document)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def deliveries(project: Project, playbook_id: int) -> list[Any]:
    return project.stored.rows(
        "SELECT channel, target, payload FROM deliveries WHERE project_id = :p AND playbook_id = :b ORDER BY id",
        p=project.id,
        b=playbook_id,
    )


def tasks(project: Project, playbook_id: int) -> list[Any]:
    return project.stored.rows(
        "SELECT title, subject, customer_id, assignee_user_id, due_on FROM tasks "
        "WHERE project_id = :p AND playbook_id = :b ORDER BY id",
        p=project.id,
        b=playbook_id,
    )


def wait_for(condition: Callable[[], bool], seconds: float = FIRES_WITHIN) -> float:
    """Seconds until `condition` held; fails after `seconds`."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


def settle() -> None:
    """Long enough for the runner (it polls every second) to fire what it would."""
    time.sleep(3)


def payload(row: Any) -> dict[str, Any]:
    import orjson

    value = row.payload
    return dict(orjson.loads(value) if isinstance(value, (str, bytes)) else value)


# -- the document over HTTP ------------------------------------------------------------------


def test_the_issue_shape_is_saved_listed_and_replaced(pb: Project) -> None:
    saved = create(pb, ISSUE_SHAPE)
    assert saved["name"] == "Payment failed" and saved["enabled"] is True and saved["enrollment"] == "every_time"
    assert saved["trigger"] == {"type": "event", "event": "payment_failed"}
    listed = pb.http.get("/v1/playbooks").json()["playbooks"]
    assert [p["id"] for p in listed] == [saved["id"]]
    paused = pb.http.put(f"/v1/playbooks/{saved['id']}", json={**ISSUE_SHAPE, "enabled": False})
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    assert pb.http.get(f"/v1/playbooks/{saved['id']}").json()["enabled"] is False
    assert pb.http.put("/v1/playbooks/999999", json=ISSUE_SHAPE).status_code == 404


def test_reading_and_saving_need_the_secret(pb: Project) -> None:
    answer = httpx.post(f"{pb.http.base_url}/v1/playbooks", json=ISSUE_SHAPE, auth=(pb.token, ""), timeout=30)
    assert answer.status_code == 401 and answer.json()["rule"] == "token_and_secret"


@pytest.mark.parametrize(
    ("document", "field", "rule"),
    [
        ({**ISSUE_SHAPE, "trigger": {"type": "event"}}, "trigger.event", "required"),
        (
            {**ISSUE_SHAPE, "actions": [{"type": "task", "title": "x", "assignee": "nobody@example.com"}]},
            "actions[0].assignee",
            "member",
        ),
        ({**ISSUE_SHAPE, "trigger": {"type": "segment", "segment": "No such"}}, "trigger.segment", "exists"),
        (
            {
                **ISSUE_SHAPE,
                "actions": [{"type": "webhook", "url": "http://169.254.169.254/x", "secret": "whsec_1234"}],
            },
            "actions[0].url",
            "metadata",
        ),
        ({**ISSUE_SHAPE, "conditions": "mrr>lots"}, "conditions", "number"),
    ],
)
def test_a_bad_document_is_a_400_naming_field_and_rule(
    pb: Project, document: dict[str, Any], field: str, rule: str
) -> None:
    answer = pb.http.post("/v1/playbooks", json=document)
    assert answer.status_code == 400, answer.text
    assert (answer.json()["field"], answer.json()["rule"]) == (field, rule)


def test_a_body_that_is_not_json_is_a_400(pb: Project) -> None:
    answer = pb.http.post("/v1/playbooks", content=b"{nope")
    assert answer.status_code == 400 and answer.json()["field"] == "body"


# -- event triggers ---------------------------------------------------------------------------


def test_an_event_fires_every_time_with_its_task_and_webhook(pb: Project) -> None:
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"name": "Acme", "mrr": 1200}})
    saved = create(pb, {**ISSUE_SHAPE, "trigger": {"type": "event", "event": "payment_failed", "where": "amount>=10"}})
    event(pb, "ann", "payment_failed", amount=50)
    event(pb, "ann", "payment_failed", amount=5)  # its params do not meet `where`
    event(pb, "ann", "logged_in")  # not listened to: no inbox row
    seconds = wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    assert seconds < FIRES_WITHIN
    event(pb, "bob", "payment_failed", amount=99)
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 2)
    settle()
    sent = deliveries(pb, saved["id"])
    assert len(sent) == 2 and len(tasks(pb, saved["id"])) == 2
    body = payload(sent[0])
    assert body["playbook"] == {"id": saved["id"], "name": "Payment failed"}
    assert body["trigger"]["type"] == "event" and body["trigger"]["event"] == "payment_failed"
    assert body["account_uid"] == "acme" and body["contact_uid"] == "ann"
    assert body["event"]["name"] == "payment_failed" and body["event"]["params"]["amount"] == 50
    assert payload(sent[1])["contact_uid"] == "bob"
    due = tasks(pb, saved["id"])[0].due_on
    assert (
        str(due)[:10] == (date.today() + timedelta(days=2)).isoformat()
        or str(due)[:10] == (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    )
    assert pb.stored.count("trigger_inbox") == 0


def test_an_event_fires_once_per_customer_when_enrollment_is_once(pb: Project) -> None:
    saved = create(pb, {**ISSUE_SHAPE, "enrollment": "once"})
    for _ in range(3):
        event(pb, "ann", "payment_failed")
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()
    assert len(deliveries(pb, saved["id"])) == 1 and len(tasks(pb, saved["id"])) == 1
    listed = pb.http.get(f"/v1/playbooks/{saved['id']}").json()
    assert listed["enrolled"] == 1


def test_a_paused_playbook_fires_nothing_and_the_write_path_keeps_nothing(pb: Project) -> None:
    saved = create(pb, {**ISSUE_SHAPE, "enabled": False})
    event(pb, "ann", "payment_failed")
    settle()
    assert deliveries(pb, saved["id"]) == [] and pb.stored.count("trigger_inbox") == 0


def test_templates_fill_the_task_title_and_the_slack_text(pb: Project) -> None:
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"name": "Acme", "mrr": 1250}})
    saved = create(
        pb,
        {
            "name": "Templates",
            "trigger": {"type": "event", "event": "downgrade_asked"},
            "actions": [
                {"type": "task", "title": "Call {{account.name}} ({{account.mrr}})", "due_in_days": 1},
                {
                    "type": "slack",
                    "url": "https://hooks.slack.example/x",
                    "text": "{{event.name}} by {{account.uid}}: {{event.reason}}",
                },
            ],
        },
    )
    event(pb, "ann", "downgrade_asked", reason="price")
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    assert tasks(pb, saved["id"])[0].title == "Call Acme (1,250)"
    assert payload(deliveries(pb, saved["id"])[0]) == {"text": "downgrade_asked by acme: price"}


# -- mrr triggers --------------------------------------------------------------------------------


def test_mrr_churn_and_expansion_above_an_amount_fire(pb: Project) -> None:
    churn = create(pb, {**ISSUE_SHAPE, "name": "Churn", "trigger": {"type": "mrr", "movement": "churn"}})
    grew = create(
        pb, {**ISSUE_SHAPE, "name": "Grew", "trigger": {"type": "mrr", "movement": "expansion", "at_least": 500}}
    )
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"mrr": 1000}})  # new: no move either wants
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"mrr": 1400}})  # +400: below 500
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"mrr": 2000}})  # +600
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"mrr": 0}})  # churn
    wait_for(lambda: len(deliveries(pb, churn["id"])) == 1 and len(deliveries(pb, grew["id"])) == 1)
    settle()
    assert len(deliveries(pb, churn["id"])) == 1 and len(deliveries(pb, grew["id"])) == 1
    assert payload(deliveries(pb, grew["id"])[0])["trigger"]["before"] == 1400.0
    assert payload(deliveries(pb, churn["id"])[0])["trigger"]["after"] == 0.0


# -- state triggers ------------------------------------------------------------------------------


def test_health_turning_bad_enrolls_who_is_bad_when_enabled_and_meets_the_conditions(pb: Project) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    for uid, mrr in (("big", 5000), ("small", 50)):
        send(pb, "/v1/account", {"account_uid": uid, "params": {"mrr": mrr}})
        send(
            pb,
            "/v1/track/event",
            {"contact_uid": f"{uid}-user", "event_uid": "login", "created_at": old, "params": {"account_uid": uid}},
        )
    document = {
        "name": "Big account turned bad",
        "trigger": {"type": "health", "to": "bad"},
        "conditions": "mrr>1000",
        "actions": [{"type": "slack", "url": "https://hooks.slack.example/x", "text": "{{account.uid}} is bad"}],
        "enabled": False,
    }
    preview = pb.http.post("/v1/playbooks/preview", json=document).json()
    assert preview["basis"] == "current_state"
    assert [c["account_uid"] for c in preview["customers"]] == ["big"]
    saved = create(pb, {**document, "enabled": True})
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()
    assert [payload(d)["text"] for d in deliveries(pb, saved["id"])] == ["big is bad"]


def test_renewal_within_days_fires_once_per_renewal_date(pb: Project) -> None:
    soon = (date.today() + timedelta(days=10)).isoformat()
    later = (date.today() + timedelta(days=200)).isoformat()
    send(pb, "/v1/account", {"account_uid": "soon", "params": {"renewal_date": soon}})
    send(pb, "/v1/account", {"account_uid": "later", "params": {"renewal_date": later}})
    saved = create(
        pb,
        {
            **ISSUE_SHAPE,
            "name": "Renewals",
            "trigger": {"type": "renewal", "within_days": 30},
            "enrollment": "every_time",
        },
    )
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()  # scanned again every second: still one
    assert [payload(d)["account_uid"] for d in deliveries(pb, saved["id"])] == ["soon"]
    assert payload(deliveries(pb, saved["id"])[0])["trigger"]["renewal_date"] == soon


def test_segment_entered_and_left(pb: Project) -> None:
    from salesmachine_server.domain.list_query import Subject
    from salesmachine_server.store.records.saved_segments import save_segment

    save_segment(pb.stored.engines.writer, pb.id, Subject.ACCOUNTS, "Enterprise", "plan=enterprise", None)
    entered = create(pb, {**ISSUE_SHAPE, "name": "In", "trigger": {"type": "segment", "segment": "Enterprise"}})
    left = create(
        pb, {**ISSUE_SHAPE, "name": "Out", "trigger": {"type": "segment", "segment": "Enterprise", "change": "left"}}
    )
    settle()  # primed: nobody in it yet
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"plan": "enterprise"}})
    wait_for(lambda: len(deliveries(pb, entered["id"])) == 1)
    assert deliveries(pb, left["id"]) == []
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"plan": "starter"}})
    wait_for(lambda: len(deliveries(pb, left["id"])) == 1)
    settle()
    assert len(deliveries(pb, entered["id"])) == 1 and len(deliveries(pb, left["id"])) == 1


def test_preview_of_an_event_trigger_lists_who_did_it_recently(pb: Project) -> None:
    event(pb, "ann", "payment_failed", account="acme")
    event(pb, "bob", "payment_failed", account="globex")
    event(pb, "cid", "logged_in", account="initech")
    found = pb.http.post("/v1/playbooks/preview", json={**ISSUE_SHAPE, "enabled": False}).json()
    assert found["basis"] == "recent_events"
    assert sorted(c["account_uid"] for c in found["customers"]) == ["acme", "globex"]
    assert "payment_failed" in found["explanation"]


# -- several servers --------------------------------------------------------------------------


def test_two_servers_on_one_postgresql_fire_each_alert_once(tmp_path: Path) -> None:
    with postgres_database() as url:
        first = ServerProcess(url, tmp_path / "first.log", env=ENV).start()
        second = ServerProcess(url, tmp_path / "second.log", env=ENV).start()
        try:
            created, secret = make_project(url)
            stored = StoredData(url, created.id)
            with httpx.Client(base_url=first.base_url, auth=(created.token, secret), timeout=30) as http:
                project = Project(created.id, created.name, created.token, secret, http, stored)
                saved = create(project, ISSUE_SHAPE)
                for index in range(20):
                    via = first if index % 2 else second
                    body = {
                        "contact_uid": f"c{index}",
                        "event_uid": "payment_failed",
                        "params": {"account_uid": f"a{index}"},
                    }
                    answer = httpx.post(
                        f"{via.base_url}/v1/track/event", json=body, auth=(created.token, ""), timeout=30
                    )
                    assert answer.status_code == 201
                wait_for(lambda: len(deliveries(project, saved["id"])) == 20, 20)
                settle()
                sent = deliveries(project, saved["id"])
                assert len(sent) == 20
                assert sorted(payload(d)["account_uid"] for d in sent) == sorted(f"a{i}" for i in range(20))
                assert len(tasks(project, saved["id"])) == 20
            stored.close()
        finally:
            first.stop()
            second.stop()
