"""The description (/openapi.json) of POST /v1/health/backtest (api/backtest.py), merged into
api/openapi.py's. The answer's schema is generated from api/models.py's `Backtest`; the request
body is described here by hand, as the write half's are."""

from __future__ import annotations

from typing import Any

from salesmachine_server.api.backtest import MAX_BODY_BYTES, MAX_DAYS
from salesmachine_server.domain.health_model import HealthModel

_ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(description: str, schema: dict[str, Any] | None = None, *headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema or _ERROR}}}
    if headers:
        answer["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return answer


def draft_example() -> dict[str, Any]:
    """The default model with a stricter bad: no `login` in 21 days."""
    document = HealthModel.default().to_document()
    document["accounts"]["rules"][-1]["bad"].append({"signal": "event", "event": "login", "days": 21, "at_most": 0})
    return {"rules": document, "from": "2025-07-01", "to": "2026-06-30"}


def backtest_paths() -> dict[str, Any]:
    body = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "rules": {
                "type": ["object", "null"],
                "description": "A health settings document, as PUT /v1/settings/health takes it (docs/health.md): "
                "the draft to replay. Absent or null: the project's saved one.",
            },
            "from": {
                "type": "string",
                "format": "date",
                "description": "The first day, YYYY-MM-DD in the project's time zone (default: the day after "
                "the same date a year before `to`).",
            },
            "to": {
                "type": "string",
                "format": "date",
                "description": f"The last day, included, not after today (default: today). At most {MAX_DAYS} days "
                "from `from`.",
            },
        },
    }
    return {
        "/v1/health/backtest": {
            "post": {
                "tags": ["read"],
                "operationId": "health_backtest",
                "summary": "Backtest a health model against the project's own churn",
                "description": "Replays the saved health model, or a draft, over the range (and the 60 days before "
                "it) without storing anything, and reports the accounts that churned (an mrr churn movement), how "
                "many were bad, and bad or average, 7, 30 and 60 days before, the median of their days bad "
                "before churning, and the false alarms (bad while paying for 30 days or more, no churn), each "
                "with its accounts (docs/health.md, The backtest). Changes nothing: token and secret, as reads.",
                "security": [{"basic": []}],
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": body, "example": draft_example()}},
                },
                "responses": {
                    "200": _answer(
                        "The figures and the accounts behind them.", {"$ref": "#/components/schemas/Backtest"}
                    ),
                    "400": _answer(
                        "The body is not a JSON object, names an unknown key, or a date or range it cannot take; or "
                        "the rules document is refused (field is rules.<its path>, rule the rule broken)."
                    ),
                    "401": _answer(
                        "The token and secret together are missing or wrong (HTTP Basic token:secret).",
                        None,
                        "WWW-Authenticate",
                    ),
                    "413": _answer(f"The body is over {MAX_BODY_BYTES} bytes."),
                    "429": _answer("Too many requests for this project.", None, "Retry-After"),
                    "500": _answer("A fault of the server."),
                    "503": _answer("The database cannot be reached, or maintenance is on.", None, "Retry-After"),
                },
            }
        }
    }
