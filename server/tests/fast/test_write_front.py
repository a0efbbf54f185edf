"""The write paths' own way in (serving/write_front.py) answers as the stack it bypasses would:
the app's exception handlers, a fault as a logged 500, the CORS headers, the request counted by
route and status; and what it does not take (another method, another path) goes through."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from salesmachine_server.errors import ApiError
from salesmachine_server.serving.write_front import WriteFront, WriteRoutes


async def ok(_request: Request) -> Response:
    return Response(b'{"status":"success"}', status_code=201, media_type="application/json")


async def refused(_request: Request) -> Response:
    raise ApiError(400, "contact_uid must not be empty", field="contact_uid", rule="not_empty")


async def broken(_request: Request) -> Response:
    raise RuntimeError("a bug")


async def handled_badly(_request: Request) -> Response:
    raise LookupError("the handler of this one fails")


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def failing_handler(_request: Request, _exc: Exception) -> Response:
    raise ValueError("the handler itself")


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return Response(b"stack", status_code=exc.status_code)


@pytest.fixture
def client() -> Iterator[TestClient]:
    writes = [
        Route("/w/ok", ok, methods=["POST"]),
        Route("/w/refused", refused, methods=["POST"]),
        Route("/w/broken", broken, methods=["POST"]),
        Route("/w/handled-badly", handled_badly, methods=["POST"]),
    ]
    handlers = {ApiError: api_error, LookupError: failing_handler, HTTPException: http_error}
    app = Starlette(
        routes=[*writes, Route("/other", ok, methods=["POST"])],
        middleware=[Middleware(WriteFront, routes=WriteRoutes(writes, handlers))],
        exception_handlers=handlers,
    )
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def counted(path: str, status: int) -> float:
    value = REGISTRY.get_sample_value("salesmachine_requests_total", {"path": path, "status": str(status)})
    return value or 0.0


def test_an_answer_carries_the_cors_headers_and_is_counted(client: TestClient) -> None:
    before = counted("/w/ok", 201)
    response = client.post("/w/ok")
    assert response.status_code == 201 and response.json() == {"status": "success"}
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "Retry-After"
    assert counted("/w/ok", 201) == before + 1


def test_an_exception_is_answered_by_the_apps_handler(client: TestClient) -> None:
    before = counted("/w/refused", 400)
    response = client.post("/w/refused")
    assert response.status_code == 400
    assert response.json()["field"] == "contact_uid" and response.json()["rule"] == "not_empty"
    assert response.headers["access-control-allow-origin"] == "*"
    assert counted("/w/refused", 400) == before + 1


@pytest.mark.parametrize("path", ["/w/broken", "/w/handled-badly"])
def test_a_fault_is_logged_and_answered_500(client: TestClient, path: str, caplog: pytest.LogCaptureFixture) -> None:
    before = counted(path, 500)
    with caplog.at_level(logging.ERROR, logger="salesmachine"):
        response = client.post(path)
    assert response.status_code == 500 and response.json()["code"] == "internal_error", response.text
    assert response.headers["access-control-allow-origin"] == "*"
    assert any("server fault" in record.getMessage() for record in caplog.records)
    assert counted(path, 500) == before + 1
    assert client.post("/w/ok").status_code == 201  # the connection and the app carry on


def test_what_it_does_not_take_goes_through_the_stack(client: TestClient) -> None:
    wrong_method = client.get("/w/ok")
    assert wrong_method.status_code == 405 and wrong_method.text == "stack"  # the router's answer
    assert "access-control-allow-origin" not in wrong_method.headers
    other = client.post("/other")
    assert other.status_code == 201 and "access-control-allow-origin" not in other.headers
