"""Builds the ASGI application: routes, error answers, and the lifespan that owns the group commit."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from salesmachine_server.api import (
    backtest,
    data_rights,
    deliveries,
    display_settings,
    export,
    health,
    playbooks,
    profiles,
    revenue,
    smtp_settings,
    timelines,
    work_items,
)
from salesmachine_server.api.openapi import docs_page, openapi_json
from salesmachine_server.deliver.log_retention import prune_delivery_log
from salesmachine_server.deliver.sender import SenderSettings, send_due
from salesmachine_server.errors import ApiError, StoreUnavailable
from salesmachine_server.ingest.body import StrangerBodies
from salesmachine_server.ingest.endpoints import json_response, ping, write_endpoint
from salesmachine_server.ingest.journal import Journal, journal_path
from salesmachine_server.ingest.journal_append import JournalAppend
from salesmachine_server.ingest.segment_endpoints import (
    SEGMENT_PATHS,
    SHARED_PATHS,
    Endpoint,
    segment_endpoint,
    shared_endpoint,
)
from salesmachine_server.keys import load_server_key
from salesmachine_server.project.health_history import bring_up_to_date
from salesmachine_server.project.playbook_runner import run_playbooks
from salesmachine_server.serving.cors import WriteCors
from salesmachine_server.serving.credentials import ProjectDirectory
from salesmachine_server.serving.health_checks import readyz
from salesmachine_server.serving.metrics import metrics
from salesmachine_server.serving.periodic import Periodic, PeriodicTask
from salesmachine_server.serving.ratelimit import RateLimiter
from salesmachine_server.serving.read_your_writes import ReadYourWrites
from salesmachine_server.serving.request_metrics import RequestMetrics
from salesmachine_server.serving.sent_paths import EncodedRoute
from salesmachine_server.serving.server_faults import AnswerServerFaults, fault_response
from salesmachine_server.serving.state import STATE_NAME, AppState, app_state
from salesmachine_server.serving.write_front import WriteFront, WriteRoutes
from salesmachine_server.settings import Settings
from salesmachine_server.store.db.engine import Engines, open_engines
from salesmachine_server.store.write.retention import delete_expired_events
from salesmachine_server.web import javascripts
from salesmachine_server.web.routes import dashboard_routes

log = logging.getLogger("salesmachine")

WRITE_PATHS = {
    "/v1/contact": "contact",
    "/v1/account": "account",
    "/v1/track/event": "event",
    "/v1/track/pageview": "pageview",
    "/v1/alias": "alias",
    "/v1/batch": "batch",
}

# Requests that read nothing of the store's data, so need not wait for the projector.
NOT_READS = {
    *WRITE_PATHS,
    *SEGMENT_PATHS,
    "/v1/import",
    "/v1/ping",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/docs",
    "/signin",
    "/signout",
}


async def healthz(_request: Request) -> Response:
    return json_response({"status": "ok"})


def _write_endpoint(path: str, kind: str) -> Endpoint:
    ours = write_endpoint(kind)
    return shared_endpoint(SHARED_PATHS[path], ours) if path in SHARED_PATHS else ours


def segment_routes() -> list[BaseRoute]:
    """Segment's HTTP tracking API (docs/segment.md): its own paths, and /v1/import. /v1/alias and
    /v1/batch, shared with ours, answer Segment's content too (_write_endpoint)."""
    return [
        *(Route(path, segment_endpoint(kind), methods=["POST"]) for path, kind in SEGMENT_PATHS.items()),
        Route("/v1/import", shared_endpoint("batch", write_endpoint("batch")), methods=["POST"]),
    ]


def routes() -> list[BaseRoute]:
    # GET on write paths is the legacy transport (`?data=<base64>&_method=post`).
    writes = [Route(path, _write_endpoint(path, kind), methods=["POST", "GET"]) for path, kind in WRITE_PATHS.items()]
    # The router tries routes in order: the write paths, nearly every request, come first.
    return [
        *writes,
        *segment_routes(),
        Route("/v1/ping", ping, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        Route("/javascripts/salesmachine.min.js", javascripts.salesmachine_min_js, methods=["GET"]),
        Route("/v1/contacts", profiles.contacts, methods=["GET"]),
        # A uid is one segment of the path as sent, "%2F" and all: matched before decoding.
        EncodedRoute("/v1/contacts/{uid}", profiles.contact, methods=["GET"]),
        EncodedRoute("/v1/contacts/{uid}/events", timelines.contact_events, methods=["GET"]),
        Route("/v1/accounts", profiles.accounts, methods=["GET"]),
        EncodedRoute("/v1/accounts/{uid}", profiles.account, methods=["GET"]),
        EncodedRoute("/v1/accounts/{uid}/events", timelines.account_events, methods=["GET"]),
        EncodedRoute("/v1/accounts/{uid}/health", health.account_health, methods=["GET"]),
        EncodedRoute("/v1/contacts/{uid}/health", health.contact_health, methods=["GET"]),
        EncodedRoute("/v1/accounts/{uid}/pulse", health.put_pulse, methods=["PUT"]),
        Route("/v1/settings/health", health.settings_health, methods=["GET"]),
        Route("/v1/settings/health", health.put_settings_health, methods=["PUT"]),
        Route("/v1/settings/display", display_settings.get_display, methods=["GET"]),
        Route("/v1/settings/display", display_settings.put_display, methods=["PUT"]),
        Route("/v1/events", timelines.project_events, methods=["GET"]),
        EncodedRoute("/v1/export/{kind}", export.export, methods=["GET"]),
        Route("/v1/revenue", revenue.revenue_report, methods=["GET"]),
        Route("/v1/health/backtest", backtest.health_backtest, methods=["POST"]),
        # Data rights (api/data_rights.py, docs/privacy.md): erase, export one person, the audit log.
        EncodedRoute("/v1/contacts/{uid}", data_rights.erase_contact, methods=["DELETE"]),
        EncodedRoute("/v1/accounts/{uid}", data_rights.erase_account, methods=["DELETE"]),
        EncodedRoute("/v1/contacts/{uid}/export", data_rights.export_contact, methods=["GET"]),
        Route("/v1/audit", data_rights.audit, methods=["GET"]),
        Route("/v1/suppressions", data_rights.suppressions, methods=["GET"]),
        # Playbooks (api/playbooks.py): token and secret, as reads.
        Route("/v1/playbooks", playbooks.playbooks_list, methods=["GET"]),
        Route("/v1/playbooks", playbooks.playbook_create, methods=["POST"]),
        Route("/v1/playbooks/preview", playbooks.playbook_preview, methods=["POST"]),
        Route("/v1/playbooks/{id}", playbooks.playbook_get, methods=["GET"]),
        Route("/v1/playbooks/{id}", playbooks.playbook_replace, methods=["PUT"]),
        # Work items (api/work_items.py, docs/work.md).
        Route("/v1/tasks", work_items.tasks_list, methods=["GET"]),
        Route("/v1/tasks", work_items.task_create, methods=["POST"]),
        Route("/v1/tasks/{id}", work_items.task_update, methods=["PATCH"]),
        EncodedRoute("/v1/accounts/{uid}/notes", work_items.account_notes, methods=["GET"]),
        EncodedRoute("/v1/accounts/{uid}/notes", work_items.account_note_create, methods=["POST"]),
        EncodedRoute("/v1/contacts/{uid}/notes", work_items.contact_notes, methods=["GET"]),
        EncodedRoute("/v1/contacts/{uid}/notes", work_items.contact_note_create, methods=["POST"]),
        EncodedRoute("/v1/accounts/{uid}/owner", work_items.account_owner, methods=["PUT"]),
        EncodedRoute("/v1/contacts/{uid}/owner", work_items.contact_owner, methods=["PUT"]),
        # Deliveries (deliver/, docs/deliveries.md): the log, and the SMTP server e-mails go through.
        Route("/v1/deliveries", deliveries.deliveries, methods=["GET"]),
        Route("/v1/settings/smtp", smtp_settings.get_smtp, methods=["GET"]),
        Route("/v1/settings/smtp", smtp_settings.put_smtp, methods=["PUT"]),
        *dashboard_routes(),
    ]


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "no such endpoint", 405: "this endpoint does not take that method"}.get(
        exc.status_code, str(exc.detail)
    )
    return ApiError(exc.status_code, message, headers=dict(exc.headers or {})).response()


# Causes of a 503 a client may be told in words (the driver's own text may name hosts).
_STORE_CAUSES = (
    ("database or disk is full", "the database's disk is full"),
    ("disk I/O error", "the database cannot write to its disk"),
    ("readonly database", "the database is read-only"),
)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    log.error("store unavailable: %s", exc)
    retry_after = str(app_state(request).settings.retry_after_seconds)
    cause = next((told for seen, told in _STORE_CAUSES if seen in str(exc)), "the database cannot be reached")
    return ApiError(503, f"{cause}; retry later", headers={"Retry-After": retry_after}).response()


async def _database_error(request: Request, exc: Exception) -> Response:
    """A database error outside the group commit (reads, credentials): the database unreachable or
    out of service is a 503 like the group commit's, anything else a fault of ours. Logged by the
    driver's first line only: SQLAlchemy's text carries the statement's parameters."""
    assert isinstance(exc, DBAPIError)
    driver = str(exc.orig).strip() if exc.orig is not None else ""
    reason = driver.splitlines()[0] if driver else type(exc).__name__
    if isinstance(exc, OperationalError) or exc.connection_invalidated:
        return await _store_unavailable(request, StoreUnavailable(reason))
    return await _server_fault(request, RuntimeError(f"{type(exc).__name__}: {reason}"))


async def _server_fault(_request: Request, exc: Exception) -> Response:
    log.error("server fault: %r", exc)
    return fault_response().response()


def create_app(settings: Settings, engines: Engines | None = None) -> Starlette:
    """The application. `engines` may be given when the caller already opened the database."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        opened = engines or open_engines(settings.database_url)
        journal = Journal(journal_path(settings.database_url, settings.journal_path))
        state = AppState(
            settings=settings,
            engines=opened,
            server_key=load_server_key(settings),
            rate_limiter=RateLimiter(settings.rate_limit, settings.rate_limit_burst, opened, journal.take_token),
            projects=ProjectDirectory(opened.reader),
            journal=journal,
            journal_append=JournalAppend(journal, settings.max_group_items),
            stranger_bodies=StrangerBodies(),
        )
        setattr(app.state, STATE_NAME, state)
        await state.journal_append.start()
        # Periodic work, one process of those on the database at a time (serving/periodic.py).
        periodic = Periodic(
            opened.writer,
            [
                PeriodicTask(
                    "retention",
                    settings.retention_interval_seconds,
                    functools.partial(delete_expired_events, opened.writer),
                ),
                # Playbooks' triggers firing (project/playbook_runner.py): a loop that runs
                # while this process holds the lease, so "every" is only how soon it restarts.
                PeriodicTask(
                    "playbooks",
                    1.0,
                    functools.partial(run_playbooks, opened.writer, scan_seconds=settings.playbook_scan_seconds),
                ),
                PeriodicTask(
                    "health",
                    settings.health_refresh_seconds,
                    functools.partial(bring_up_to_date, opened),
                ),
                # The delivery log's retention (deliver/log_retention.py), hourly.
                PeriodicTask(
                    "delivery_log",
                    3_600,
                    functools.partial(prune_delivery_log, opened.writer, settings.delivery_log_days),
                ),
            ],
            settings.periodic_check_seconds,
        )
        await periodic.start()
        # The delivery sender looks every second or so (deliver/sender.py), so it keeps a lease
        # of its own, renewed as often, beside the daily work's.
        sender = Periodic(
            opened.writer,
            [
                PeriodicTask(
                    "deliveries",
                    settings.delivery_check_seconds,
                    functools.partial(send_due, opened.writer, opened.reader, SenderSettings.of(settings)),
                ),
            ],
            settings.delivery_check_seconds,
        )
        await sender.start()
        try:
            yield
        finally:
            await sender.stop()
            await periodic.stop()
            await state.journal_append.stop()
            journal.close()
            opened.dispose()

    every_route = routes()
    handlers: dict[Any, Any] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        StoreUnavailable: _store_unavailable,
        DBAPIError: _database_error,
        Exception: _server_fault,
    }
    writes = WriteRoutes(
        [route for route in every_route if isinstance(route, Route) and route.path in WRITE_PATHS], handlers
    )
    app = Starlette(
        routes=every_route,
        lifespan=lifespan,
        # AnswerServerFaults answers what no handler took without re-raising it (serving/server_faults.py):
        # a 500 then leaves the keep-alive connection usable.
        middleware=[
            # Writes, nearly all requests, are taken here, past the rest (serving/write_front.py).
            Middleware(WriteFront, routes=writes),
            Middleware(RequestMetrics),
            Middleware(AnswerServerFaults),
            Middleware(WriteCors, paths={"/v1/ping", *WRITE_PATHS, *SEGMENT_PATHS, "/v1/import"}),
            # Reads wait for the writes acknowledged before them (serving/read_your_writes.py).
            Middleware(ReadYourWrites, skip=NOT_READS, skip_prefixes=("/static/", "/javascripts/")),
        ],
        exception_handlers=handlers,
    )
    # The HTTP protocol takes the write paths' POST itself (serving/http_protocol.py).
    app.state.write_routes = writes
    return app
