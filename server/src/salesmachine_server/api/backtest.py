"""POST /v1/health/backtest: would the saved health model, or a draft of one, have warned of the
churn the project actually had? (docs/health.md, The backtest.)

The body: `{"rules": <a health settings document, or absent/null for the saved one>, "from":
"YYYY-MM-DD", "to": "YYYY-MM-DD"}`, dates local to the project, both included; default the
twelve months ending today. Nothing is stored: a draft is replayed and forgotten. A POST
because a draft document is a body, but it changes nothing, so it reads as reads do: token
and secret. project/health_backtest.py runs it; api/shapes.py shapes the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import shapes
from salesmachine_server.api.context import read_context
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain.health_model import DocumentError, HealthModel
from salesmachine_server.domain.revenue import MAX_PERIODS
from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.body import read_body
from salesmachine_server.project.health_backtest import BacktestRun, run_backtest
from salesmachine_server.store.read.health_models import in_force

KNOWN = ("rules", "from", "to")
MAX_BODY_BYTES = 256 * 1024  # a health document is a few KiB
MAX_DAYS = MAX_PERIODS  # the range, in days: churn is found by the revenue report's daily periods
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class BacktestRequest:
    draft: HealthModel | None  # None: the saved model
    first: date
    last: date


async def health_backtest(request: Request) -> Response:
    context = await read_context(request)
    asked = parse_request(await read_body(request, MAX_BODY_BYTES), context.window.today)
    project_id, zone = context.project.id, context.zone

    def run(conn: Connection) -> BacktestRun:
        model = asked.draft if asked.draft is not None else in_force(conn, project_id).model
        return run_backtest(conn, project_id, model, asked.first, asked.last, zone)

    done = await context.run(run)
    return model_answer(shapes.backtest(done, zone.key, asked.draft is not None))


def parse_request(body: bytes, today: date) -> BacktestRequest:
    """The backtest asked for, or a 400 naming the field and the rule."""
    try:
        document = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        raise ApiError(400, "the body is not JSON", field="body", rule="json") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the body must be a JSON object", field="body", rule="object")
    for name in document:
        if name not in KNOWN:
            raise ApiError(
                400, f"unknown key {name!r}; the backtest takes {', '.join(KNOWN)}", field=name, rule="known"
            )
    return BacktestRequest(parse_rules(document.get("rules")), *parse_range(document, today))


def parse_rules(rules: Any) -> HealthModel | None:
    """A draft model, None for the saved one; a bad document is refused at its field and rule."""
    if rules is None:
        return None
    if not isinstance(rules, dict):
        raise ApiError(
            400, "rules must be a health settings document (an object), or absent", field="rules", rule="object"
        )
    try:
        return HealthModel.parse(rules)
    except DocumentError as exc:
        raise ApiError(400, f"in rules, {exc.message}", field=f"rules.{exc.field}", rule=exc.rule) from None


def parse_range(document: dict[str, Any], today: date) -> tuple[date, date]:
    last = _date(document, "to") or today
    first = _date(document, "from") or a_year_before(last)
    if last > today:
        raise ApiError(400, f"to ({last}) is after today ({today}): the past only", field="to", rule="not_after_today")
    if last < first:
        raise ApiError(400, f"to ({last}) is before from ({first})", field="to", rule="not_before_from")
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise ApiError(400, f"from {first} to {last} is {days} days; at most {MAX_DAYS}", field="from", rule="max_days")
    return first, last


def a_year_before(last: date) -> date:
    """The first day of the twelve months ending on `last` (the day after the same date a year
    earlier; 29 February counts from 1 March)."""
    try:
        return last.replace(year=last.year - 1) + timedelta(days=1)
    except ValueError:
        return date(last.year - 1, 3, 1)


def _date(document: dict[str, Any], name: str) -> date | None:
    value = document.get(name)
    if value is None:
        return None
    try:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a date YYYY-MM-DD, got {value!r}", field=name, rule="date") from None
