"""Prometheus metrics of the write path, served at /metrics.

Open when SALESMACHINE_METRICS_TOKEN is unset (Prometheus scrapes it without configuration, as
it does most exporters); with a token set, only `Authorization: Bearer <token>` is served, so a
server reachable from outside need not show its traffic to anyone (docs/security.md).
"""

from __future__ import annotations

import os
import secrets

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.metrics import MetricWrapperBase
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.errors import ApiError
from salesmachine_server.serving.journal_metrics import JournalCollector
from salesmachine_server.serving.state import app_state

COMMITS = Counter("salesmachine_commits_total", "Write transactions committed (one per group commit)")
JOBS = Counter("salesmachine_write_jobs_total", "Write requests committed")
ITEMS = Counter("salesmachine_items_total", "Items received on the write path", ["outcome"])
COMMIT_SECONDS = Histogram(
    "salesmachine_commit_seconds",
    "Time to apply and commit one group",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUE_DEPTH = Gauge(
    "salesmachine_writer_queue_depth",
    "Write requests waiting for the next journal append",
    multiprocess_mode="livesum",
)


async def metrics(request: Request) -> Response:
    """This process's metrics, or, under `serve` (several request workers: supervisor.py), the
    sum of every worker's, from the directory they share; and the journal's depth, lag and rate,
    read from the journal at the scrape (serving/journal_metrics.py)."""
    require_metrics_token(request)
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    journal = JournalCollector(app_state(request).journal)
    return Response(
        generate_latest(registry) + generate_latest(journal),
        media_type=CONTENT_TYPE_LATEST,
    )


def share_between_processes(directory: str) -> None:
    """Make this process's metrics, and those of the processes it forks next, add up in
    `directory` (Prometheus's multiprocess mode): called by `serve`'s supervisor before it forks
    the request workers (supervisor.py). prometheus_client chooses how values are kept when it
    is imported, before the metrics above were made; so the choice is made again, and the
    metrics' values made again with it (nothing was counted yet)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    for collector in list(REGISTRY._collector_to_names):
        if isinstance(collector, MetricWrapperBase):
            if collector._is_observable():  # type: ignore[no-untyped-call]
                collector._metric_init()  # type: ignore[no-untyped-call]
            else:
                collector._metrics.clear()


def require_metrics_token(request: Request) -> None:
    """401 unless the request carries the configured bearer token (nothing to check if none)."""
    expected: str = app_state(request).settings.metrics_token
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), expected.encode()):
        raise ApiError(
            401,
            "/metrics needs Authorization: Bearer <SALESMACHINE_METRICS_TOKEN>",
            field="authorization",
            rule="metrics_token",
            headers={"WWW-Authenticate": 'Bearer realm="salesmachine metrics"'},
        )
