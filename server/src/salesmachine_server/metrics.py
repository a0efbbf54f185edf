"""Prometheus metrics of the write path, served at /metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

COMMITS = Counter("salesmachine_commits_total", "Write transactions committed (one per group commit)")
JOBS = Counter("salesmachine_write_jobs_total", "Write requests committed")
ITEMS = Counter("salesmachine_items_total", "Items received on the write path", ["outcome"])
COMMIT_SECONDS = Histogram(
    "salesmachine_commit_seconds",
    "Time to apply and commit one group",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUE_DEPTH = Gauge("salesmachine_writer_queue_depth", "Write requests waiting for the next group commit")


async def metrics(_request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
