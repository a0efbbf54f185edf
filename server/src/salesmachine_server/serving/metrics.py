"""Prometheus metrics of the write path, served at /metrics.

Open when SALESMACHINE_METRICS_TOKEN is unset (Prometheus scrapes it without configuration, as
it does most exporters); with a token set, only `Authorization: Bearer <token>` is served, so a
server reachable from outside need not show its traffic to anyone (docs/security.md).
"""

from __future__ import annotations

import secrets

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.errors import ApiError
from salesmachine_server.serving.state import app_state

COMMITS = Counter("salesmachine_commits_total", "Write transactions committed (one per group commit)")
JOBS = Counter("salesmachine_write_jobs_total", "Write requests committed")
ITEMS = Counter("salesmachine_items_total", "Items received on the write path", ["outcome"])
COMMIT_SECONDS = Histogram(
    "salesmachine_commit_seconds",
    "Time to apply and commit one group",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUE_DEPTH = Gauge("salesmachine_writer_queue_depth", "Write requests waiting for the next group commit")


async def metrics(request: Request) -> Response:
    require_metrics_token(request)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


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
