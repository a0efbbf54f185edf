"""Health over HTTP (docs/health.md), all with the project token and secret:
GET and PUT /v1/settings/health: the project's health model, one JSON document;
GET /v1/accounts/{uid}/health and /v1/contacts/{uid}/health?from=&to=: states day by day;
PUT /v1/accounts/{uid}/pulse: a manager's 0-5 rating of an account, with why.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import shapes
from salesmachine_server.api.context import path_uid, read_context
from salesmachine_server.api.render import json_answer, model_answer
from salesmachine_server.domain.health_model import DocumentError, HealthModel
from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.body import read_body
from salesmachine_server.project.health_history import HISTORY_DAYS
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.read import health_states
from salesmachine_server.store.read.health_models import in_force
from salesmachine_server.store.read.profiles import account_row, contact_id_for
from salesmachine_server.store.read.pulses import latest
from salesmachine_server.store.records.health_models import save_model
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.pulses import MAX_REASON, record_pulse

DEFAULT_DAYS = 90
EARLIEST = date(1970, 1, 1)
MAX_SETTINGS_BYTES = 256 * 1024


def _actor(token: str) -> str:
    return f"api:{token}"


def bad(field: str, rule: str, message: str) -> ApiError:
    return ApiError(400, message, field=field, rule=rule)


async def _json_body(request: Request, limit: int) -> Any:
    raw = await read_body(request, limit)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise bad("body", "json", "the body must be a JSON document") from None


# -- the model ---------------------------------------------------------------------------------


async def settings_health(request: Request) -> Response:
    """GET: the model in force (the default one until a project saves its own)."""
    context = await read_context(request)
    found = await context.run(lambda conn: in_force(conn, context.project.id))
    return json_answer(found.model.to_document())


async def put_settings_health(request: Request) -> Response:
    """PUT: check a whole document, save it as the model in force; the history is rebuilt with it
    by the server's periodic task (project/health_history.py) within a minute or two."""
    context = await read_context(request)
    document = await _json_body(request, MAX_SETTINGS_BYTES)
    try:
        model = HealthModel.parse(document)
    except DocumentError as exc:
        raise bad(exc.field, exc.rule, exc.message) from None
    saved = model.to_document()
    engine = app_state(request).engines.writer
    await on_thread(save_model, engine, context.project.id, saved, _actor(context.project.token), utcnow())
    return json_answer(saved)


# -- states by day -----------------------------------------------------------------------------


def _day(request: Request, name: str, default: date) -> date:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise bad(name, "date", f"{name} must be a day written YYYY-MM-DD, got {value!r}") from None


async def account_health(request: Request) -> Response:
    return await _health_days(request, "account")


async def contact_health(request: Request) -> Response:
    return await _health_days(request, "contact")


async def _health_days(request: Request, subject: str) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    today = context.window.today
    to_day = min(_day(request, "to", today), today)  # no state after today
    if to_day < EARLIEST:
        raise bad("to", "range", f"to must be {EARLIEST.isoformat()} or later")
    from_day = _day(request, "from", max(EARLIEST, to_day - timedelta(days=DEFAULT_DAYS - 1)))
    if from_day < EARLIEST:
        raise bad("from", "range", f"from must be {EARLIEST.isoformat()} or later")
    if from_day > to_day:
        raise bad("from", "order", "from must be on or before to")
    if (to_day - from_day).days >= HISTORY_DAYS:
        raise bad("from", "range", f"from and to may be at most {HISTORY_DAYS} days apart")
    project_id = context.project.id

    def run(conn: Connection) -> list[health_states.DayHealth] | None:
        customer_id = _customer_id(conn, project_id, subject, uid)
        if customer_id is None:
            return None
        return health_states.days(conn, project_id, subject, customer_id, from_day, to_day)

    found = await context.run(run)
    if found is None:
        raise _missing(subject, uid)
    return model_answer(shapes.health_days(found))


def _customer_id(conn: Connection, project_id: int, subject: str, uid: str) -> int | None:
    if subject == "contact":
        return contact_id_for(conn, project_id, uid)
    row = account_row(conn, project_id, uid)
    return None if row is None else int(row.id)


def _missing(subject: str, uid: str) -> ApiError:
    return ApiError(404, f"no {subject} has the uid {uid!r}", field="uid", rule="exists")


# -- the Pulse ---------------------------------------------------------------------------------


async def put_pulse(request: Request) -> Response:
    """PUT {"score": 0-5, "reason": "..."}: keep a Pulse of the account; answers it."""
    context = await read_context(request)
    uid = path_uid(request, "uid")
    body = await _json_body(request, 64 * 1024)
    if not isinstance(body, dict):
        raise bad("body", "object", 'the body must be an object: {"score": 0-5, "reason": "..."}')
    unknown = sorted(set(body) - {"score", "reason"})
    if unknown:
        raise bad(unknown[0], "known_field", f"{unknown[0]} is not a field of a Pulse: score and reason")
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 5:
        raise bad("score", "range", "score must be a whole number from 0 to 5")
    reason = body.get("reason", "")
    if not isinstance(reason, str) or len(reason) > MAX_REASON or "\x00" in reason:
        raise bad("reason", "string", f"reason must be text of at most {MAX_REASON} characters")
    project_id = context.project.id
    row = await context.run(lambda conn: account_row(conn, project_id, uid))
    if row is None:
        raise _missing("account", uid)
    engine = app_state(request).engines.writer
    await on_thread(record_pulse, engine, project_id, row.id, score, reason, _actor(context.project.token), utcnow())
    found = await context.run(lambda conn: latest(conn, project_id, [int(row.id)]).get(int(row.id)))
    answer = shapes.pulse_now(found)
    assert answer is not None, "the Pulse just recorded"
    return model_answer(answer)
