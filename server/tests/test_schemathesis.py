"""The server answers as its own description says: schemathesis reads the live /openapi.json,
generates requests for every operation in it (valid ones and deliberately broken ones), sends
them with a real project's credentials, and checks each answer.

Read operations are called with the token and secret together, on a project holding a contact,
an account and events, so that lists and timelines answer rows and not only empty pages.

A failure here is either a 5xx (a fault of ours: bad input must never cause one) or a drift
between api/openapi.py and what the server does: a status, content type, header or body shape that
the description does not admit.

The operations are listed from the description built in-process (so each has its own test id)
and each is then taken from the live server's document. Each operation is driven through
`as_strategy` under plain Hypothesis, not schemathesis' pytest plugin, whose lazy loader does
not run on pytest 9.
"""

from __future__ import annotations

import base64
import json

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from salesmachine_server.api.openapi import build_openapi
from salesmachine_server.app import routes
from salesmachine_server.web.routes import dashboard_routes
from tests.support import Project, ServerProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
DESCRIBED = build_openapi()["paths"]
OPERATIONS = [(path, method) for path, operations in DESCRIBED.items() for method in operations]
HISTORY = [
    {
        "method": "account",
        "account_uid": "78910",
        "params": {"name": "Tesla Motors", "mrr": 999},
        "created_at": "2024-01-15T10:00:00Z",
    },
    {
        "method": "contact",
        "contact_uid": "123456",
        "created_at": "2024-01-15T10:00:00Z",
        "params": {"email": "elon@teslamotors.com", "name": "Elon Musk", "mrr": 99, "account_uid": "78910"},
    },
    {"method": "alias", "contact_uid": "123456", "alias": "anonymous-1"},
    {
        "method": "event",
        "contact_uid": "123456",
        "event_uid": "registration",
        "messageId": "m-1",
        "created_at": "2024-02-01T10:00:00.250Z",
    },
    # Located and parsed when written (enrich/): the profile's location, agent and visits read back.
    {
        "method": "pageview",
        "contact_uid": "123456",
        "params": {
            "visit_url": "http://myproduct.com/",
            "visit_ip": "8.8.8.8",
            "visit_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36",
        },
    },
    {"method": "contact", "contact_uid": "never-seen", "params": {"plan": "free", "seats": 3}},
]


def auth_for(project: Project, path: str, method: str) -> tuple[str, str]:
    """Reading takes the token and the secret; everything else the token alone."""
    reads = "read" in DESCRIBED[path][method].get("tags", [])
    return (project.token, project.secret if reads else "")


def with_history(project: Project) -> Project:
    answer = project.http.post("/v1/batch", json=HISTORY)
    assert answer.status_code == 201 and "rejected" not in answer.json(), answer.text
    return project


@pytest.fixture(scope="session")
def live_api(server: ServerProcess) -> schemathesis.BaseSchema:
    """The description as the running server serves it."""
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_operation_answers_as_described(
    live_api: schemathesis.BaseSchema, server: ServerProcess, project: Project, path: str, method: str
) -> None:
    operation = live_api[path][method]
    auth = auth_for(with_history(project) if path.startswith("/v1/") else project, path, method)
    requests = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=requests)
    @settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def answers_as_described(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=server.base_url, auth=auth, timeout=30, checks=CHECKS)

    answers_as_described()


@pytest.mark.parametrize(
    "path", ["/v1/contacts/{uid}", "/v1/accounts/{uid}", "/v1/contacts/{uid}/events", "/v1/accounts/{uid}/events"]
)
def test_a_real_profile_validates_against_its_description(
    live_api: schemathesis.BaseSchema, server: ServerProcess, project: Project, path: str
) -> None:
    """Generated uids mostly name nobody (404): this reads the profiles that exist, field by field
    against the described schema (closed objects: no key the description does not name)."""
    uid = "anonymous-1" if "contacts" in path else "78910"  # an alias reads the contact too
    case = live_api[path]["GET"].Case(path_parameters={"uid": uid})
    answer = case.call_and_validate(
        base_url=server.base_url, auth=auth_for(with_history(project), path, "get"), timeout=30, checks=CHECKS
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    if path.endswith("/events"):
        assert body["data"] and body["next_cursor"] is None
        assert any(event["geo"] and event["agent"] for event in body["data"])
    else:
        assert body["mrr"] in (99, 999) and body["mrr_history"]
        assert body["location"] and body["visits_by_country"]


@pytest.mark.parametrize("kind", ["contacts", "accounts", "events"])
def test_exported_rows_validate_against_their_described_schema(project: Project, kind: str) -> None:
    """ndjson is no JSON document, so schemathesis checks only its content type: each line is
    checked here against the schema the description names for it (x-item-schema)."""
    described = project.http.get("/openapi.json").json()
    ndjson = described["paths"]["/v1/export/{kind}"]["get"]["responses"]["200"]["content"]["application/x-ndjson"]
    name = f"Export{kind[:-1].title()}"
    assert {"$ref": f"#/components/schemas/{name}"} in ndjson["x-item-schema"]["oneOf"]
    validator = jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": described["components"]}
    )
    with_history(project)
    with httpx.Client(base_url=project.http.base_url, auth=(project.token, project.secret), timeout=30) as reader:
        lines = reader.get(f"/v1/export/{kind}").text.splitlines()
    assert lines
    for line in lines:
        validator.validate(json.loads(line))


def cursor(value: object, row_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode().rstrip("=")


# Reads that once answered 500 (or 503 on SQLite): NUL reaching PostgreSQL or an SQLite JSON path,
# "²" passing str.isdigit() but not int(), an id past 64 bits reaching the driver. Generation
# seldom draws them, so they are sent here by name, and checked like the generated ones.
REFUSED_READS = [
    ("/v1/contacts", {}, {"q": "\x00"}, 400),
    ("/v1/contacts", {}, {"plan": "a\x00"}, 400),
    ("/v1/accounts", {}, {"pl\x00an": "x"}, 400),
    ("/v1/contacts", {}, {"limit": "\u00b2"}, 400),
    ("/v1/contacts", {}, {"sort": "mrr", "cursor": cursor(1.0, 2**63)}, 400),
    ("/v1/accounts", {}, {"sort": "account_uid", "cursor": cursor("\x00", 1)}, 400),
    ("/v1/events", {}, {"event": "\x00"}, 400),
    ("/v1/events", {}, {"limit": "\u00b2"}, 400),
    ("/v1/events", {}, {"cursor": cursor("2024-01-01T00:00:00", 2**64)}, 400),
]


def test_reads_that_once_failed_are_refused_by_name(
    live_api: schemathesis.BaseSchema, server: ServerProcess, project: Project
) -> None:
    for path, path_parameters, query, status in REFUSED_READS:
        case = live_api[path]["GET"].Case(path_parameters=path_parameters, query=query)
        answer = case.call_and_validate(
            base_url=server.base_url, auth=auth_for(project, path, "get"), timeout=30, checks=CHECKS
        )
        assert answer.status_code == status, (path, query, answer.text)


def test_every_route_is_described(project: Project) -> None:
    """Each route of app.py but the dashboard's pages and the browser library (an asset, not an
    operation) is in the served description, with each of its methods."""
    described = project.http.get("/openapi.json").json()["paths"]
    skipped = {route.path for route in dashboard_routes()} | {"/javascripts/salesmachine.min.js"}
    api_routes = [route for route in routes() if route.path not in skipped]
    assert {"/readyz", "/v1/contacts", "/v1/export/{kind}", "/v1/revenue"} <= {route.path for route in api_routes}
    for route in api_routes:
        assert route.path in described, route.path
        methods = {m.lower() for m in getattr(route, "methods", None) or ()} - {"head"}
        assert methods and methods <= set(described[route.path]), route.path
    reads = [path for path in described if "read" in described[path].get("get", {}).get("tags", [])]
    assert len(reads) == 12  # 9, and GET /v1/settings/health, /v1/accounts/{uid}/health, /v1/contacts/{uid}/health
    for path in reads:
        operation = described[path]["get"]
        assert operation["security"] == [{"basic": []}], path
        assert {"200", "401", "503"} <= set(operation["responses"]), path


def test_the_description_covers_every_write_endpoint(project: Project) -> None:
    described = project.http.get("/openapi.json").json()
    assert described["openapi"].startswith("3.1")
    paths = described["paths"]
    for path in ("/v1/contact", "/v1/account", "/v1/track/event", "/v1/track/pageview", "/v1/alias", "/v1/batch"):
        assert {"post", "get"} <= set(paths[path]), path
        assert set(paths[path]["post"]["responses"]) >= {"201", "400", "401", "406", "413", "429", "503"}
    assert {"get", "post"} <= set(paths["/v1/ping"])
    assert "/healthz" in paths
    methods = described["components"]["schemas"]["BatchItem"]["properties"]["method"]["enum"]
    assert set(methods) == {"contact", "account", "event", "pageview", "alias", "track"}
    basic = described["components"]["securitySchemes"]["basic"]
    assert (basic["type"], basic["scheme"]) == ("http", "basic")


def test_the_docs_page_draws_the_description_without_outside_assets(project: Project) -> None:
    # Swagger UI, served by this server, draws /openapi.json; test_dashboard_revenue.py checks in
    # the browser that it shows every operation and asks no other site for anything.
    page = project.http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-url="/openapi.json"' in page.text and "/static/vendor/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text and "http://" not in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]
