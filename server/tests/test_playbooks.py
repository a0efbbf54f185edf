"""Playbooks over HTTP on SQLite and PostgreSQL: the document saved, refused by field and rule,
previewed; each kind of trigger fires once (or every time), within seconds of the data, with its
task and its deliveries committed together; two servers on one PostgreSQL fire each alert once.

These tests own their servers (a fresh database each, scans every second, private addresses
allowed for the receivers on 127.0.0.1), so that no other server holds the runner's lease.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.delivery_receivers import HttpReceiver, SmtpReceiver, documented_verify
from tests.support import Project, ServerProcess, StoredData, make_project, postgres_database

ENV = {
    "SALESMACHINE_PLAYBOOK_SCAN_SECONDS": "1",
    "SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS": "1",
    # The health history brought up to date every second, so that its triggers fire in seconds.
    "SALESMACHINE_PERIODIC_CHECK_SECONDS": "1",
    "SALESMACHINE_HEALTH_REFRESH_SECONDS": "1",
    "SALESMACHINE_DELIVERY_CHECK_SECONDS": "0.5",
}
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


HOOK_SECRET = "whsec_playbook_tests"


@pytest.fixture(scope="module")
def hooks(playbook_server: ServerProcess) -> Iterator[HttpReceiver]:
    """A webhook receiver for the playbooks of one server (their ids are its database's): what
    fires is really delivered to it."""
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


def create(project: Project, document: dict[str, Any], hooks: HttpReceiver | None = None) -> dict[str, Any]:
    """Save a playbook; given `hooks`, its webhooks go to that receiver (with HOOK_SECRET)."""
    if hooks is not None:
        document = {
            **document,
            "actions": [
                {**a, "url": hooks.url("/playbooks"), "secret": HOOK_SECRET} if a["type"] == "webhook" else a
                for a in document["actions"]
            ],
        }
    answer = project.http.post("/v1/playbooks", json=document)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def deliveries(project: Project, playbook_id: int) -> list[Any]:
    return project.stored.rows(
        "SELECT channel, target, payload FROM deliveries WHERE project_id = :p AND playbook_id = :b ORDER BY id",
        p=project.id,
        b=playbook_id,
    )


def received(hooks: HttpReceiver, playbook_id: int, count: int) -> list[dict[str, Any]]:
    """The webhook bodies of a playbook the receiver got, once `count` arrived (and no more
    after a while), each signature checked as docs/deliveries.md tells a receiver to."""

    def bodies() -> list[Any]:
        return [got for got in list(hooks.received) if json.loads(got.body)["playbook"]["id"] == playbook_id]

    wait_for(lambda: len(bodies()) >= count, 15)
    settle()
    found = bodies()
    assert len(found) == count, [json.loads(got.body) for got in found]
    verify = documented_verify()
    assert all(verify(HOOK_SECRET, got.headers["salesmachine-signature"], got.body) for got in found)
    return [json.loads(got.body) for got in found]


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
    assert saved["actions"][0] == {"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "(kept)"}
    assert "whsec_..." not in pb.http.get("/v1/playbooks").text
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


def test_an_event_fires_every_time_with_its_task_and_webhook(pb: Project, hooks: HttpReceiver) -> None:
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"name": "Acme", "mrr": 1200}})
    saved = create(
        pb, {**ISSUE_SHAPE, "trigger": {"type": "event", "event": "payment_failed", "where": "amount>=10"}}, hooks
    )
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
    assert [b["contact_uid"] for b in received(hooks, saved["id"], 2)] == ["ann", "bob"]


def test_an_event_fires_once_per_customer_when_enrollment_is_once(pb: Project, hooks: HttpReceiver) -> None:
    saved = create(pb, {**ISSUE_SHAPE, "enrollment": "once"}, hooks)
    # What GET shows, sent back unchanged, keeps the saved secret (the receiver checks it below).
    shown = {k: v for k, v in saved.items() if k not in ("id", "enrolled", "last_run_at", "created_at", "updated_at")}
    assert shown["actions"][0]["secret"] == "(kept)"
    assert pb.http.put(f"/v1/playbooks/{saved['id']}", json=shown).status_code == 200
    refused = pb.http.post("/v1/playbooks", json=shown)  # a new playbook has no saved secret to keep
    assert refused.status_code == 400 and refused.json()["field"] == "actions[0].secret"
    for _ in range(3):
        event(pb, "ann", "payment_failed")
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()
    assert len(deliveries(pb, saved["id"])) == 1 and len(tasks(pb, saved["id"])) == 1
    listed = pb.http.get(f"/v1/playbooks/{saved['id']}").json()
    assert listed["enrolled"] == 1
    assert [b["account_uid"] for b in received(hooks, saved["id"], 1)] == ["acme"]


def test_a_contact_playbook_fires_for_its_contacts_and_an_account_one_needs_an_account(
    pb: Project, hooks: HttpReceiver
) -> None:
    person = create(pb, {**ISSUE_SHAPE, "name": "Person", "subject": "contact", "conditions": "plan=pro"}, hooks)
    account = create(pb, {**ISSUE_SHAPE, "name": "Account"}, hooks)
    send(pb, "/v1/contact", {"contact_uid": "ann", "params": {"plan": "pro", "email": "ann@example.com"}})
    send(pb, "/v1/contact", {"contact_uid": "bob", "params": {"plan": "free"}})
    event(pb, "ann", "payment_failed", account=None)
    event(pb, "bob", "payment_failed", account=None)  # not pro: the conditions do not hold
    [body] = received(hooks, person["id"], 1)
    assert body["subject"] == "contact" and body["contact_uid"] == "ann" and "account_uid" not in body
    assert deliveries(pb, account["id"]) == []  # events of contacts in no account


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


def test_real_deliveries_reach_a_webhook_receiver_slack_and_smtp_once(pb: Project) -> None:
    """The issue's shape with real receivers: the webhook signed as docs/deliveries.md says a
    receiver checks it, its body naming the playbook, the trigger, the customer and the event;
    a Slack-shaped endpoint gets the text; aiosmtpd gets the e-mail, through the project's SMTP."""
    hooks, slack, smtp = HttpReceiver().start(), HttpReceiver().start(), SmtpReceiver().start()
    try:
        smtp_settings = {"host": "127.0.0.1", "port": smtp.port, "from": "cs@example.com", "security": "none"}
        assert pb.http.put("/v1/settings/smtp", json=smtp_settings).status_code == 200, "smtp settings"
        send(pb, "/v1/account", {"account_uid": "acme", "params": {"name": "Acme", "mrr": 1200}})
        secret = "whsec_receiver_8a1f"
        saved = create(
            pb,
            {
                **ISSUE_SHAPE,
                "actions": [
                    {"type": "webhook", "url": hooks.url(), "secret": secret},
                    {
                        "type": "slack",
                        "url": slack.url("/services/T0/B0/x"),
                        "text": "{{account.name}}: {{event.name}}",
                    },
                    {
                        "type": "email",
                        "to": "cs@example.com",
                        "subject": "{{account.name}} failed a payment",
                        "text": "{{event.amount}}",
                    },
                    {"type": "task", "title": "Call about the failed payment", "due_in_days": 2},
                ],
            },
        )
        event(pb, "ann", "payment_failed", amount=49)
        wait_for(lambda: len(hooks.received) == 1 and len(slack.received) == 1 and len(smtp.messages) == 1, 15)
        settle()
    finally:
        hooks.stop()
        slack.stop()
        smtp.stop()
    [got] = hooks.received
    verify = documented_verify()
    assert verify(secret, got.headers["salesmachine-signature"], got.body)
    assert not verify("whsec_another_secret", got.headers["salesmachine-signature"], got.body)
    body = json.loads(got.body)
    assert body["playbook"] == {"id": saved["id"], "name": "Payment failed"}
    assert body["trigger"]["type"] == "event" and body["account_uid"] == "acme" and body["contact_uid"] == "ann"
    assert body["event"]["name"] == "payment_failed" and body["event"]["params"]["amount"] == 49
    assert json.loads(slack.received[0].body) == {"text": "Acme: payment_failed"}
    [(mail_from, recipients, message)] = smtp.messages
    assert (
        mail_from == "cs@example.com"
        and recipients == ["cs@example.com"]
        and message["Subject"] == "Acme failed a payment"
    )
    assert len(tasks(pb, saved["id"])) == 1


# -- mrr triggers --------------------------------------------------------------------------------


def test_mrr_churn_and_expansion_above_an_amount_fire(pb: Project, hooks: HttpReceiver) -> None:
    churn = create(pb, {**ISSUE_SHAPE, "name": "Churn", "trigger": {"type": "mrr", "movement": "churn"}}, hooks)
    grew = create(
        pb, {**ISSUE_SHAPE, "name": "Grew", "trigger": {"type": "mrr", "movement": "expansion", "at_least": 500}}, hooks
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
    assert [b["trigger"]["before"] for b in received(hooks, grew["id"], 1)] == [1400.0]
    assert [b["trigger"]["movement"] for b in received(hooks, churn["id"], 1)] == ["churn"]


# -- state triggers ------------------------------------------------------------------------------


def inactive_account(project: Project, uid: str, mrr: float, days_ago: int = 20, **params: Any) -> None:
    """An account paying `mrr` whose one contact was last active `days_ago` days ago: its
    health turns bad 14 days after that (the default rule), so its history has that change."""
    old = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    send(project, "/v1/account", {"account_uid": uid, "params": {"mrr": mrr, **params}})
    send(
        project,
        "/v1/track/event",
        {"contact_uid": f"{uid}-user", "event_uid": "login", "created_at": old, "params": {"account_uid": uid}},
    )


def current_band(project: Project, uid: str) -> str | None:
    rows = project.stored.rows(
        "SELECT h.band FROM health_history h JOIN accounts a ON a.id = h.customer_id "
        "WHERE h.project_id = :p AND h.subject = 'account' AND a.account_uid = :u AND h.to_day IS NULL",
        p=project.id,
        u=uid,
    )
    return rows[0].band if rows else None


def history_built(project: Project, model_id: int | None = None) -> None:
    """Wait until the server built the project's health history (with model `model_id`): what
    it writes from then on is `live`, what fires triggers; a rebuild rewrites the past silently."""

    def built() -> bool:
        rows = project.stored.rows("SELECT model_id FROM health_cursors WHERE project_id = :p", p=project.id)
        return bool(rows) and (model_id is None or rows[0].model_id == model_id)

    wait_for(built, 20)


def current_status(project: Project, uid: str) -> str | None:
    rows = project.stored.rows(
        "SELECT h.status FROM health_history h JOIN accounts a ON a.id = h.customer_id "
        "WHERE h.project_id = :p AND h.subject = 'account' AND a.account_uid = :u AND h.to_day IS NULL",
        p=project.id,
        u=uid,
    )
    return rows[0].status if rows else None


SLACK_BAD = {
    "name": "Big account turned bad",
    "trigger": {"type": "health", "to": "bad"},
    "conditions": "mrr>1000",
    "actions": [{"type": "slack", "url": "https://hooks.slack.example/x", "text": "{{account.uid}} is bad"}],
}


def test_health_turning_bad_fires_from_the_live_history_when_the_conditions_hold(
    pb: Project, hooks: HttpReceiver
) -> None:
    webhook = {"type": "webhook", "url": "https://x.example", "secret": HOOK_SECRET}
    saved = create(pb, {**SLACK_BAD, "actions": [*SLACK_BAD["actions"], webhook]}, hooks)
    history_built(pb)
    inactive_account(pb, "big", 5000)
    inactive_account(pb, "small", 50)
    wait_for(lambda: current_band(pb, "big") == "bad" and current_band(pb, "small") == "bad", 20)
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 2)
    settle()
    sent = deliveries(pb, saved["id"])
    assert [payload(d)["text"] for d in sent if d.channel == "slack"] == ["big is bad"]
    [body] = received(hooks, saved["id"], 1)
    assert body["account_uid"] == "big" and body["trigger"]["to"] == "bad" and body["trigger"]["from"] != "bad"
    run = pb.stored.rows("SELECT fired_by FROM playbook_runs WHERE playbook_id = :b", b=saved["id"])
    assert len(run) == 1


def test_enabling_a_health_playbook_enrolls_who_the_preview_listed(pb: Project) -> None:
    history_built(pb)
    inactive_account(pb, "big", 5000)
    inactive_account(pb, "small", 50)
    wait_for(lambda: current_band(pb, "big") == "bad" and current_band(pb, "small") == "bad", 20)
    document = {**SLACK_BAD, "enabled": False}
    preview = pb.http.post("/v1/playbooks/preview", json=document).json()
    assert preview["basis"] == "current_state"
    assert [c["account_uid"] for c in preview["customers"]] == ["big"]
    saved = create(pb, document)
    settle()
    assert deliveries(pb, saved["id"]) == []  # paused: nothing
    assert pb.http.put(f"/v1/playbooks/{saved['id']}", json={**SLACK_BAD, "enabled": True}).status_code == 200
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()
    assert [payload(d)["text"] for d in deliveries(pb, saved["id"])] == ["big is bad"]


def test_status_entered_churned_fires_once(pb: Project, hooks: HttpReceiver) -> None:
    saved = create(pb, {**ISSUE_SHAPE, "name": "Churned", "trigger": {"type": "status", "status": "churned"}}, hooks)
    history_built(pb)
    # Paying since five days ago (a status is a day's: paying and churned on one day is neither).
    old = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"mrr": 100}, "created_at": old})
    send(
        pb,
        "/v1/track/event",
        {"contact_uid": "ann", "event_uid": "login", "params": {"account_uid": "acme"}, "created_at": old},
    )
    wait_for(lambda: current_status(pb, "acme") == "paying", 20)
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"mrr": 0}})
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1, 20)
    settle()
    sent = deliveries(pb, saved["id"])
    assert len(sent) == 1
    body = payload(sent[0])
    assert body["account_uid"] == "acme" and body["trigger"]["type"] == "status" and body["trigger"]["to"] == "churned"
    assert received(hooks, saved["id"], 1)[0]["trigger"]["from"] == "paying"


def test_stage_entered_fires_with_the_projects_model(pb: Project, hooks: HttpReceiver) -> None:
    import orjson

    from salesmachine_server.domain.health_model import HealthModel

    model = HealthModel.default().to_document()
    model["accounts"]["stages"] = [{"name": "Adopted", "when": "seats>=5"}]
    HealthModel.parse(model)  # as PUT /v1/settings/health would have checked it
    with pb.stored.engines.writer.begin() as conn:
        from sqlalchemy import text

        conn.execute(
            text("INSERT INTO health_models (project_id, document, saved_at) VALUES (:p, :d, :t)"),
            {"p": pb.id, "d": orjson.dumps(model).decode(), "t": datetime.now(UTC).replace(tzinfo=None)},
        )
        model_id = conn.execute(text("SELECT max(id) FROM health_models WHERE project_id = :p"), {"p": pb.id}).scalar()
    history_built(pb, model_id)
    saved = create(pb, {**ISSUE_SHAPE, "name": "Adopted", "trigger": {"type": "stage", "stage": "Adopted"}}, hooks)
    old = (datetime.now(UTC) - timedelta(days=5)).isoformat()
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"seats": 1}, "created_at": old})
    send(
        pb,
        "/v1/track/event",
        {"contact_uid": "ann", "event_uid": "login", "params": {"account_uid": "acme"}, "created_at": old},
    )
    wait_for(lambda: current_status(pb, "acme") == "free", 20)
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"seats": 12}})
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1, 20)
    settle()
    assert len(deliveries(pb, saved["id"])) == 1
    assert payload(deliveries(pb, saved["id"])[0])["trigger"]["to"] == "Adopted"
    assert received(hooks, saved["id"], 1)[0]["trigger"]["stage"] == "Adopted"


def test_a_pulse_going_stale_fires(pb: Project, hooks: HttpReceiver) -> None:
    send(pb, "/v1/account", {"account_uid": "old", "params": {"name": "Old"}})
    send(pb, "/v1/account", {"account_uid": "fresh", "params": {"name": "Fresh"}})
    ids = {
        r.account_uid: r.id
        for r in pb.stored.rows("SELECT id, account_uid FROM accounts WHERE project_id = :p", p=pb.id)
    }
    now = datetime.now(UTC).replace(tzinfo=None)
    with pb.stored.engines.writer.begin() as conn:
        from sqlalchemy import text

        for uid, age in (("old", 120), ("fresh", 3)):
            conn.execute(
                text(
                    "INSERT INTO pulses (project_id, account_id, score, reason, author, rated_at) "
                    "VALUES (:p, :a, 4, 'ok', 'ann@example.com', :t)"
                ),
                {"p": pb.id, "a": ids[uid], "t": now - timedelta(days=age)},
            )
    saved = create(pb, {**ISSUE_SHAPE, "name": "Stale", "trigger": {"type": "pulse_stale"}}, hooks)
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()
    assert [payload(d)["account_uid"] for d in deliveries(pb, saved["id"])] == ["old"]
    assert [b["account_uid"] for b in received(hooks, saved["id"], 1)] == ["old"]


def test_renewal_within_days_fires_once_per_renewal_date(pb: Project, hooks: HttpReceiver) -> None:
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
        hooks,
    )
    wait_for(lambda: len(deliveries(pb, saved["id"])) == 1)
    settle()  # scanned again every second: still one
    assert [payload(d)["account_uid"] for d in deliveries(pb, saved["id"])] == ["soon"]
    assert payload(deliveries(pb, saved["id"])[0])["trigger"]["renewal_date"] == soon
    # Renewed: a new date within the window is a renewal of its own.
    sooner = (date.today() + timedelta(days=20)).isoformat()
    send(pb, "/v1/account", {"account_uid": "soon", "params": {"renewal_date": sooner}})
    bodies = received(hooks, saved["id"], 2)
    assert [b["trigger"]["renewal_date"] for b in bodies] == [soon, sooner]


def test_segment_entered_and_left_every_time(pb: Project, hooks: HttpReceiver) -> None:
    from salesmachine_server.domain.list_query import Subject
    from salesmachine_server.store.records.saved_segments import save_segment

    save_segment(pb.stored.engines.writer, pb.id, Subject.ACCOUNTS, "Enterprise", "plan=enterprise", None)
    entered = create(pb, {**ISSUE_SHAPE, "name": "In", "trigger": {"type": "segment", "segment": "Enterprise"}}, hooks)
    left = create(
        pb,
        {**ISSUE_SHAPE, "name": "Out", "trigger": {"type": "segment", "segment": "Enterprise", "change": "left"}},
        hooks,
    )
    settle()  # primed: nobody in it yet
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"plan": "enterprise"}})
    wait_for(lambda: len(deliveries(pb, entered["id"])) == 1)
    assert deliveries(pb, left["id"]) == []
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"plan": "starter"}})
    wait_for(lambda: len(deliveries(pb, left["id"])) == 1)
    settle()
    assert len(deliveries(pb, entered["id"])) == 1 and len(deliveries(pb, left["id"])) == 1
    send(pb, "/v1/account", {"account_uid": "acme", "params": {"plan": "enterprise"}})  # back in: again
    assert [b["trigger"]["change"] for b in received(hooks, entered["id"], 2)] == ["entered", "entered"]
    assert [b["account_uid"] for b in received(hooks, left["id"], 1)] == ["acme"]


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
    hooks = HttpReceiver().start()
    with postgres_database() as url:
        first = ServerProcess(url, tmp_path / "first.log", env=ENV).start()
        second = ServerProcess(url, tmp_path / "second.log", env=ENV).start()
        try:
            created, secret = make_project(url)
            stored = StoredData(url, created.id)
            with httpx.Client(base_url=first.base_url, auth=(created.token, secret), timeout=30) as http:
                project = Project(created.id, created.name, created.token, secret, http, stored)
                secret = "whsec_two_servers"
                webhook = {"type": "webhook", "url": hooks.url(), "secret": secret}
                saved = create(project, {**ISSUE_SHAPE, "actions": [webhook, ISSUE_SHAPE["actions"][1]]})
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
                wait_for(lambda: len(hooks.received) >= 20, 20)
                settle()
            stored.close()
        finally:
            first.stop()
            second.stop()
            hooks.stop()
    verify = documented_verify()
    assert all(verify(secret, got.headers["salesmachine-signature"], got.body) for got in hooks.received)
    alerted = sorted(json.loads(got.body)["account_uid"] for got in hooks.received)
    assert alerted == sorted(f"a{i}" for i in range(20))  # each once
