"""Every read answer decodes into the Struct of api/models.py it is described by.

/openapi.json's read half is generated from those Structs, so this is what keeps it true: a
handler that answers a key the Struct lacks (every answer but the error is closed), leaves one
out, or writes a time without its Z, fails here. The answers come from the application itself,
on a project holding a contact, an alias, an account with revenue, an event and a located
pageview, so no part of an answer is only ever empty.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest

from salesmachine_server.api import models
from salesmachine_server.api.render import dumps, model_answer
from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.revenue import INTERVALS, MOVEMENTS
from tests.support import Project

HISTORY = [
    {
        "method": "account",
        "account_uid": "acme",
        "params": {"name": "Acme", "mrr": 999},
        "created_at": "2024-01-15T10:00:00Z",
    },
    {
        "method": "contact",
        "contact_uid": "ann",
        "created_at": "2024-01-15T10:00:00.250Z",
        "params": {"email": "ann@acme.test", "name": "Ann", "mrr": 99, "account_uid": "acme"},
    },
    {"method": "contact", "contact_uid": "bob", "params": {"mrr": 10}, "created_at": "2024-02-03T00:00:00Z"},
    {"method": "alias", "contact_uid": "ann", "alias": "anonymous-1"},
    {
        "method": "event",
        "contact_uid": "ann",
        "event_uid": "registration",
        "messageId": "m-1",
        "created_at": "2024-02-01T10:00:00.250Z",
    },
    {
        "method": "pageview",
        "contact_uid": "ann",
        "params": {
            "visit_url": "http://myproduct.com/",
            "visit_ip": "8.8.8.8",
            "visit_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
        },
    },
]


@pytest.fixture
def stocked(project: Project) -> Project:
    answer = project.http.post("/v1/batch", json=HISTORY)
    assert answer.status_code == 201 and "rejected" not in answer.json(), answer.text
    return project


def read(project: Project, path: str, status: int = 200) -> bytes:
    answer = project.http.get(path, auth=(project.token, project.secret))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    return answer.content


def test_profiles_decode_into_their_structs(stocked: Project) -> None:
    ann = msgspec.json.decode(read(stocked, "/v1/contacts/anonymous-1"), type=models.Contact, strict=True)
    assert ann.contact_uid == "ann" and ann.aliases == ["anonymous-1"]
    assert ann.accounts == [models.ContactAccount(account_uid="acme", name="Acme")]
    assert ann.mrr == 99 and [c.mrr for c in ann.mrr_history] == [99]
    assert ann.mrr_history[0].effective_at == datetime(2024, 1, 15, 10, 0, 0, 250000, tzinfo=UTC)
    assert ann.health is not None and ann.health.band in LEVELS and ann.health.reason
    assert (ann.status, ann.stage, ann.pulse) == ("paying", None, None)
    assert ann.location is not None and ann.location.country == "US"
    assert ann.visits_by_country == [models.CountryVisits(country="US", visits=1)]
    assert ann.agent is not None and ann.agent.browser == "Chrome" and ann.agent.device in models.DEVICES

    acme = msgspec.json.decode(read(stocked, "/v1/accounts/acme"), type=models.Account, strict=True)
    assert [c.contact_uid for c in acme.contacts] == ["ann"] and acme.contacts[0].email == "ann@acme.test"
    assert acme.contacts_count == 1 and acme.mrr == 999 and acme.health is not None
    assert acme.location is not None and acme.visits_by_country


def test_list_pages_decode_into_their_structs(stocked: Project) -> None:
    contacts = msgspec.json.decode(
        read(stocked, "/v1/contacts?limit=1&sort=contact_uid"), type=models.ContactPage, strict=True
    )
    assert [c.contact_uid for c in contacts.data] == ["ann"] and contacts.next_cursor
    rest = msgspec.json.decode(
        read(stocked, f"/v1/contacts?limit=1&sort=contact_uid&cursor={contacts.next_cursor}"),
        type=models.ContactPage,
        strict=True,
    )
    assert [c.contact_uid for c in rest.data] == ["bob"] and rest.next_cursor is None
    # The band in force in the history, which the periodic task (not run in process) writes.
    assert all(c.health in (*LEVELS, None) for c in contacts.data + rest.data)

    accounts = msgspec.json.decode(read(stocked, "/v1/accounts"), type=models.AccountPage, strict=True)
    assert [(a.account_uid, a.contacts_count, a.domain) for a in accounts.data] == [("acme", 1, "acme.test")]


def test_events_decode_into_their_structs(stocked: Project) -> None:
    for path in ("/v1/events", "/v1/contacts/ann/events", "/v1/accounts/acme/events"):
        page = msgspec.json.decode(read(stocked, path), type=models.EventPage, strict=True)
        assert page.data and page.next_cursor is None, path
        assert {e.kind for e in page.data} == {"event", "pageview"}, path
    everything = msgspec.json.decode(read(stocked, "/v1/events"), type=models.EventPage, strict=True)
    registration = next(e for e in everything.data if e.event_uid == "registration")
    assert registration.message_id == "m-1" and registration.geo is None and registration.agent is None
    assert registration.created_at == datetime(2024, 2, 1, 10, 0, 0, 250000, tzinfo=UTC)
    pageview = next(e for e in everything.data if e.kind == "pageview")
    assert pageview.geo is not None and pageview.geo.scope in models.SCOPES and pageview.geo.country == "US"
    assert pageview.agent is not None and pageview.agent.device in models.DEVICES


def test_the_revenue_report_decodes_into_its_struct(stocked: Project) -> None:
    body = read(stocked, "/v1/revenue?from=2024-01-01&to=2024-03-31")
    report = msgspec.json.decode(body, type=models.RevenueReport, strict=True)
    assert (str(report.from_), str(report.to), report.interval) == ("2024-01-01", "2024-03-31", "month")
    assert report.interval in INTERVALS and len(report.periods) == 3
    january, february = report.periods[0], report.periods[1]
    assert january.mrr == 999 and january.movements.new.units == [
        models.UnitMovement(account_uid="acme", from_=0, to=999)
    ]
    assert february.movements.new.units == [models.UnitMovement(contact_uid="bob", from_=0, to=10)]
    # The movements in revenue.MOVEMENTS' order, each unit by exactly one uid.
    assert list(json.loads(body)["periods"][0]["movements"]) == list(MOVEMENTS)
    assert list(json.loads(body)["periods"][1]["movements"]["new"]["units"][0]) == ["contact_uid", "from", "to"]


@pytest.mark.parametrize(
    ("kind", "struct"),
    [("contacts", models.ExportContact), ("accounts", models.ExportAccount), ("events", models.ExportEvent)],
)
def test_export_lines_decode_into_their_structs(stocked: Project, kind: str, struct: type[msgspec.Struct]) -> None:
    answer = stocked.http.get(f"/v1/export/{kind}", auth=(stocked.token, stocked.secret))
    assert answer.status_code == 200
    lines = answer.content.splitlines()
    assert lines
    for line in lines:
        msgspec.json.decode(line, type=struct, strict=True)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/v1/contacts/nobody", 404), ("/v1/events?limit=0", 400), ("/v1/revenue?interval=decade", 400)],
)
def test_errors_decode_into_the_error_struct(stocked: Project, path: str, status: int) -> None:
    error = msgspec.json.decode(read(stocked, path, status), type=models.Error, strict=True)
    assert error.error == error.message and error.field and error.rule


def test_structs_encode_as_the_untyped_answers_did() -> None:
    """The same values as the dicts the handlers answered before the Structs (naive UTC times,
    through api/render.py's orjson options) give the same bytes: key order, times with a Z and
    microseconds, whole numbers left whole, None as null, unset uids left out."""
    at, aware = datetime(2024, 2, 1, 10, 0, 0, 250), datetime(2024, 2, 1, 10, 0, 0, 250, tzinfo=UTC)
    event = models.Event(
        id=7,
        event_uid="signup",
        kind="event",
        contact_uid="ann",
        account_uid=None,
        params={"plan": "pro", "seats": 3, "ratio": 0.25, "tags": ["a"], "n": None},
        created_at=aware,
        received_at=aware.replace(microsecond=0),
        message_id="m-1",
        geo=models.EventGeo(scope="public", country="US", region=None, city=None, latitude=1.5, longitude=-2.0),
        agent=None,
    )
    assert model_bytes(event) == dumps(
        {
            "id": 7,
            "event_uid": "signup",
            "kind": "event",
            "contact_uid": "ann",
            "account_uid": None,
            "params": {"plan": "pro", "seats": 3, "ratio": 0.25, "tags": ["a"], "n": None},
            "created_at": at,
            "received_at": at.replace(microsecond=0),
            "message_id": "m-1",
            "geo": {
                "scope": "public",
                "country": "US",
                "region": None,
                "city": None,
                "latitude": 1.5,
                "longitude": -2.0,
            },
            "agent": None,
        }
    )
    assert model_bytes(models.MrrChange(mrr=99, effective_at=aware)) == dumps({"mrr": 99, "effective_at": at})
    assert model_bytes(models.UnitMovement(contact_uid="bob", from_=0.0, to=10.5)) == dumps(
        {"contact_uid": "bob", "from": 0.0, "to": 10.5}
    )


def model_bytes(struct: msgspec.Struct) -> bytes:
    return bytes(model_answer(struct).body)
