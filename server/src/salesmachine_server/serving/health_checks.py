"""`GET /readyz`: may this process take traffic now? 200 when the database answers, else 503.
The same probe makes `/v1/ping` answer 503 while the database is unreachable.

`/healthz` says the process is up (restart it if not); `/readyz` says whether it can do its
job (send it no traffic if not): a trivial query on a real table must answer within
`PROBE_TIMEOUT_SECONDS`, and the projection lag (the age of the oldest write in the journal not
yet applied to the store: ingest/journal.py) must be under `ready_lag_seconds`.
The query runs on a thread because the drivers block; at most one
probe runs at a time, shared by concurrent callers, so that a database that hangs costs one
thread however often a load balancer asks. Maintenance mode is not ready either.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.errors import ApiError
from salesmachine_server.serving.state import AppState, app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.db.engine import Engines

log = logging.getLogger("salesmachine.health")

PROBE_TIMEOUT_SECONDS = 2.0
# A real table, so that SQLite opens the file rather than answering from memory.
PROBE_SQL = text("SELECT 1 FROM projects LIMIT 1")


async def readyz(request: Request) -> Response:
    state = app_state(request)
    retry_after = {"Retry-After": str(state.settings.retry_after_seconds)}
    if state.settings.maintenance:
        return ApiError(503, "not ready: the server is in maintenance", headers=retry_after).response()
    problem = await database_problem(state)
    if problem is not None:
        return ApiError(503, f"not ready: {problem}", headers=retry_after).response()
    lag = state.journal.depth().lag_seconds
    if lag > state.settings.ready_lag_seconds:
        message = (
            f"not ready: writes take {lag:.1f} s to reach the store (over {state.settings.ready_lag_seconds:g} s); "
            "the journal keeps them"
        )
        return ApiError(503, message, headers=retry_after).response()
    return Response(b'{"status":"ready"}', media_type="application/json")


async def database_problem(state: AppState) -> str | None:
    """Why the database cannot serve this process now, in words a client may read; None when
    a trivial query answers. Shared by /readyz and /v1/ping (ingest/endpoints.py)."""
    try:
        await asyncio.wait_for(asyncio.shield(_shared_probe(state)), PROBE_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("the database did not answer within %.1f s", PROBE_TIMEOUT_SECONDS)
        return f"the database did not answer within {PROBE_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        log.warning("the database cannot be reached: %s", _first_line(exc))
        return "the database cannot be reached"
    return None


def _shared_probe(state: AppState) -> asyncio.Future[None]:
    """The probe in flight, or a new one: concurrent callers wait on the same query."""
    running = state.readiness_probe
    if running is None or running.done():
        running = asyncio.ensure_future(on_thread(probe_database, state.engines))
        # A probe that outlived its callers' timeout must not log "exception never retrieved".
        running.add_done_callback(lambda done: done.cancelled() or done.exception())
        state.readiness_probe = running
    return running


def probe_database(engines: Engines) -> None:
    """Raises when the database cannot run a trivial query (blocking: run on a thread)."""
    with engines.reader.connect() as conn:
        conn.execute(PROBE_SQL).all()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else repr(exc)
