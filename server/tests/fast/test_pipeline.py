"""The item pipeline (ingest/pipeline.py) step by step: each step's refusal names its field and
rule, a step with no input is left out, and the importer and the HTTP endpoints, which both run
the pipeline, agree on the same item."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from salesmachine_server.domain.messages import Message, MessageKind, Refusal
from salesmachine_server.domain.project_settings import from_stored
from salesmachine_server.enrich.events import Enricher, enricher_from
from salesmachine_server.ingest.importer import import_file
from salesmachine_server.ingest.pipeline import Steps, accept
from salesmachine_server.ingest.verification import Identity
from salesmachine_server.keys import derive_secret, user_hash
from salesmachine_server.serving.credentials import Credentials
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import open_engines
from salesmachine_server.store.records.projects import Project as StoredProject
from salesmachine_server.store.records.projects import find_by_token
from tests.fast.conftest import InProcess
from tests.support import Project

NOW = datetime(2026, 12, 5, 12, 0, 0)
SERVER_KEY = b"k" * 32
AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
)


def refused(item: Any, kind: str, steps: Steps) -> tuple[str, str, int]:
    outcome = accept(item, kind, steps)
    assert isinstance(outcome, Refusal), outcome
    return outcome.field, outcome.rule, outcome.status


def accepted(item: Any, kind: str, steps: Steps) -> Message:
    outcome = accept(item, kind, steps)
    assert isinstance(outcome, Message), outcome
    return outcome


def identity(verifying: bool, with_secret: bool = False) -> Identity:
    project = StoredProject(1, "p", "the-token", "", from_stored({"identity_verification": verifying}), NOW)
    return Identity(Credentials(project, has_secret=with_secret), SERVER_KEY)


def proof(contact_uid: str) -> str:
    return user_hash(derive_secret(SERVER_KEY, "the-token"), contact_uid)


def enricher() -> Enricher:
    return enricher_from(Settings(), enabled=True)


# -- limit ------------------------------------------------------------------------------------


def test_limit_refuses_an_item_over_it_before_anything_else() -> None:
    item = {"contact_uid": "ann", "params": {"note": "x" * 100}}
    size = len(orjson.dumps(item))
    assert refused(item, "contact", Steps(NOW, item_limit=size - 1)) == ("item", "max_size", 400)
    assert accepted(item, "contact", Steps(NOW, item_limit=size)).contact_uid == "ann"
    # First of the steps: an item over the limit is not parsed, however bad it is.
    assert refused({"params": "x" * 100}, "contact", Steps(NOW, item_limit=10)) == ("item", "max_size", 400)


# -- parse ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "item,kind,field,rule",
    [
        ({"params": {}}, "contact", "contact_uid", "required"),
        ([1, 2], "event", "body", "object"),
        ({"contact_uid": "ann", "params": {"mrr": "lots"}}, "contact", "params.mrr", "number"),
        ({"method": "teleport"}, "batch", "method", "one_of"),
    ],
)
def test_parse_refuses_naming_field_and_rule(item: Any, kind: str, field: str, rule: str) -> None:
    assert refused(item, kind, Steps(NOW)) == (field, rule, 400)


def test_parse_gives_each_message_its_kind() -> None:
    steps = Steps(NOW)
    assert accepted({"contact_uid": "a"}, "contact", steps).kind is MessageKind.CONTACT
    assert accepted({"account_uid": "a"}, "account", steps).kind is MessageKind.ACCOUNT
    assert accepted({"contact_uid": "a", "event_uid": "e"}, "event", steps).kind is MessageKind.EVENT
    assert accepted({"contact_uid": "a"}, "pageview", steps).kind == "event"  # a StrEnum: equal to its text
    assert accepted({"contact_uid": "a", "alias": "b"}, "alias", steps).kind is MessageKind.ALIAS


# -- verify identity --------------------------------------------------------------------------


def test_verify_identity_refuses_with_403_naming_field_and_rule() -> None:
    steps = Steps(NOW, identity=identity(verifying=True))
    assert refused({"contact_uid": "ann"}, "contact", steps) == ("user_hash", "identity_verification", 403)
    assert refused({"contact_uid": "ann", "user_hash": "00"}, "contact", steps) == (
        "user_hash",
        "identity_verification",
        403,
    )
    assert refused({"contact_uid": "ann", "alias": "b"}, "alias", steps) == ("alias", "identity_verification", 403)
    assert refused({"contact_uid": "ann", "user_hash": proof("ann"), "params": {"mrr": 5}}, "contact", steps) == (
        "params.mrr",
        "identity_verification",
        403,
    )
    assert refused({"account_uid": "acme"}, "account", steps) == ("contact_uid", "identity_verification", 403)
    assert accepted({"contact_uid": "ann", "user_hash": proof("ann")}, "contact", steps).contact_uid == "ann"


def test_verify_identity_passes_the_secret_and_projects_that_do_not_verify() -> None:
    for who in (identity(verifying=True, with_secret=True), identity(verifying=False), None):
        assert accepted({"contact_uid": "ann", "alias": "b"}, "alias", Steps(NOW, identity=who)).alias == "b"


# -- visit IP ---------------------------------------------------------------------------------


def test_visit_ip_is_filled_on_events_that_have_none() -> None:
    steps = Steps(NOW, visit_ip="203.0.113.9")
    assert accepted({"contact_uid": "a", "event_uid": "e"}, "event", steps).params["visit_ip"] == "203.0.113.9"
    assert accepted({"contact_uid": "a"}, "pageview", steps).params["visit_ip"] == "203.0.113.9"
    sent = {"contact_uid": "a", "event_uid": "e", "params": {"visit_ip": "198.51.100.1"}}
    assert accepted(sent, "event", steps).params["visit_ip"] == "198.51.100.1"
    assert "visit_ip" not in accepted({"contact_uid": "a"}, "contact", steps).params
    assert "visit_ip" not in accepted({"contact_uid": "a", "event_uid": "e"}, "event", Steps(NOW)).params


# -- enrich -----------------------------------------------------------------------------------


def test_enrich_gives_events_their_agent_and_leaves_the_rest() -> None:
    steps = Steps(NOW, enricher=enricher(), browser_agent=AGENT)
    event = accepted({"contact_uid": "a", "event_uid": "e"}, "event", steps)
    assert event.enrichment is not None and event.enrichment.agent is not None
    assert event.enrichment.agent.columns[0] == "Chrome"
    assert accepted({"contact_uid": "a"}, "contact", steps).enrichment is None
    assert accepted({"contact_uid": "a", "event_uid": "e"}, "event", Steps(NOW, browser_agent=AGENT)).enrichment is None


# -- the importer and the HTTP endpoints agree --------------------------------------------------


ITEMS = [
    ("accounts", "/v1/account", {"account_uid": "acme", "params": {"name": "Acme", "mrr": "49.50"}}),
    ("accounts", "/v1/account", {"account_uid": "bad-mrr", "params": {"mrr": "lots"}}),
    ("contacts", "/v1/contact", {"contact_uid": "ann", "params": {"plan": "pro", "account_uid": "acme"}}),
    ("contacts", "/v1/contact", {"contact_uid": "", "params": {}}),
    ("contacts", "/v1/contact", {"contact_uid": "deep", "params": {"n": "\x00"}}),
    (
        "events",
        "/v1/track/event",
        {
            "contact_uid": "ann",
            "event_uid": "signed_in",
            "params": {"via": "sso"},
            "created_at": "2026-01-02T03:04:05Z",
        },
    ),
    ("events", "/v1/track/event", {"contact_uid": "ann", "event_uid": "x" * 256}),
]


@pytest.mark.parametrize("kind,path,item", ITEMS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(ITEMS)])
def test_the_importer_and_the_http_path_agree(
    inprocess: InProcess, tmp_path: Path, kind: str, path: str, item: dict[str, Any]
) -> None:
    sent, imported = inprocess.project(), inprocess.project()
    try:
        answer = sent.http.post(path, json=item)
        report = import_ndjson(inprocess.database_url, imported, tmp_path, kind, item)
        if answer.status_code == 201:
            assert report.refused == [] and report.messages == 1
            assert stored(sent, item) == stored(imported, item)
        else:
            body = answer.json()
            assert report.refused == [f"line 1: {body['message']}"]
            assert [(r.field, r.reason) for r in imported.stored.rejected()] == [(body["field"], body["message"])]
            assert [(r.field, r.reason) for r in sent.stored.rejected()] == [(body["field"], body["message"])]
    finally:
        sent.stored.close()
        imported.stored.close()


def import_ndjson(database_url: str, project: Project, tmp_path: Path, kind: str, item: dict[str, Any]) -> Any:
    path = tmp_path / f"{kind}.ndjson"
    path.write_bytes(orjson.dumps(item) + b"\n")
    engines = open_engines(database_url)
    try:
        target = find_by_token(engines.reader, project.token)
        assert target is not None
        return import_file(engines, target, path, kind)
    finally:
        engines.dispose()


def stored(project: Project, item: dict[str, Any]) -> Any:
    if "event_uid" in item:
        contact = project.stored.contact(item["contact_uid"])
        assert contact is not None
        return [(e["name"], e["params"], e["occurred_at"]) for e in contact["events"]]
    if "account_uid" in item:
        account = project.stored.account(item["account_uid"])
        assert account is not None
        return {key: account[key] for key in ("params", "contacts", "mrr")}  # not when: received at different times
    contact = project.stored.contact(item["contact_uid"])
    assert contact is not None
    return {key: contact[key] for key in ("params", "accounts", "mrr")}
