"""The server answers as its own description says: schemathesis reads the live /openapi.json,
generates requests for every operation in it (valid ones and deliberately broken ones), sends
them with a real project's credentials, and checks each answer.

A failure here is either a 5xx (a fault of ours: bad input must never cause one) or a drift
between openapi.py and what the server does: a status, content type, header or body shape that
the description does not admit.

The operations are listed from the description built in-process (so each has its own test id)
and each is then taken from the live server's document. Each operation is driven through
`as_strategy` under plain Hypothesis, not schemathesis' pytest plugin, whose lazy loader does
not run on pytest 9.
"""

from __future__ import annotations

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

from salesmachine_server.openapi import build_openapi
from tests.support import Project, ServerProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
OPERATIONS = [(path, method) for path, operations in build_openapi()["paths"].items() for method in operations]


@pytest.fixture(scope="session")
def live_api(server: ServerProcess) -> schemathesis.BaseSchema:
    """The description as the running server serves it."""
    return schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")


@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_operation_answers_as_described(
    live_api: schemathesis.BaseSchema, server: ServerProcess, project: Project, path: str, method: str
) -> None:
    operation = live_api[path][method]
    requests = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=requests)
    @settings(max_examples=40, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def answers_as_described(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=server.base_url, auth=(project.token, ""), timeout=30, checks=CHECKS)

    answers_as_described()


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


def test_the_docs_page_lists_every_operation_without_outside_assets(project: Project) -> None:
    page = project.http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in project.http.get("/openapi.json").json()["paths"]:
        assert f"<code>{path}</code>" in page.text
    assert "<script" not in page.text and "https://" not in page.text
