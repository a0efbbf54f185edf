"""The description (/openapi.json) of api/health.py's endpoints, merged into api/openapi.py's.

Tagged "read": they take the token and the secret together, as reads do. The health document
is described here by hand (domain/health_model.py parses it; docs/health.md explains it); the
day-by-day answer and the Pulse are generated from api/models.py.
"""

from __future__ import annotations

from typing import Any

from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.health_model import MAX_WINDOW_DAYS, SIGNALS, HealthModel
from salesmachine_server.store.records.pulses import MAX_REASON

_ERROR = {"$ref": "#/components/schemas/Error"}
_SECURITY: list[dict[str, list[str]]] = [{"basic": []}]


def _answer(description: str, schema: dict[str, Any] | None = None, *headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema or _ERROR}}}
    if headers:
        answer["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return answer


_ERRORS = {
    "401": _answer(
        "The token and secret together are missing or wrong (HTTP Basic token:secret).", None, "WWW-Authenticate"
    ),
    "413": _answer("The body is too large."),
    "429": _answer("Too many requests for this project.", None, "Retry-After"),
    "500": _answer("A fault of the server."),
    "503": _answer("The database cannot be reached, or maintenance is on.", None, "Retry-After"),
}
_UID = {
    "name": "uid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": 'Any uid of it, percent-encoded whole ("/" as %2F).',
}
_CONDITION = {
    "type": "string",
    "description": "A condition in the list filter language (filters only, ANDed with &): `plan=trial`, "
    "`seats>=5`, `first_seen_at>-30d` (relative: 30 days before the day judged), `mrr>0`. Not `health`.",
}
_DAYS = {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_DAYS}
_SIGNAL = {
    "type": "object",
    "required": ["signal"],
    "description": "active_days {days, at_least|at_most}; event {event, days, at_least|at_most}; milestone "
    "{event, done}; attribute {condition}; mrr_contraction {days}; pulse {at_least|at_most} (0-5).",
    "properties": {
        "signal": {"enum": list(SIGNALS)},
        "days": _DAYS,
        "event": {"type": "string", "minLength": 1, "maxLength": 255},
        "at_least": {"type": "integer", "minimum": 0},
        "at_most": {"type": "integer", "minimum": 0},
        "done": {"type": "boolean"},
        "condition": _CONDITION,
    },
    "additionalProperties": False,
}
_SUBJECT = {
    "type": "object",
    "required": ["rules"],
    "additionalProperties": False,
    "properties": {
        "trial_when": {**_CONDITION, "type": ["string", "null"]},
        "stages": {
            "type": "array",
            "description": "Ordered; a customer is in the last one whose condition holds.",
            "items": {
                "type": "object",
                "required": ["name", "when"],
                "additionalProperties": False,
                "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}, "when": _CONDITION},
            },
        },
        "rules": {
            "type": "array",
            "minItems": 1,
            "description": 'One per stage at most, and one with "stage": null for the others. bad holds when any '
            "of its signals holds, good when all of its signals hold; bad first, average otherwise.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "stage": {"type": ["string", "null"]},
                    "good": {"type": "array", "items": _SIGNAL},
                    "bad": {"type": "array", "items": _SIGNAL},
                },
            },
        },
    },
}
HEALTH_DOCUMENT = {
    "type": "object",
    "required": ["accounts", "contacts"],
    "additionalProperties": False,
    "description": "The project's health model (docs/health.md): status conditions, stages and rules, for "
    "accounts and for contacts.",
    "properties": {
        "accounts": _SUBJECT,
        "contacts": _SUBJECT,
        "pulse_stale_after_days": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_DAYS, "default": 90},
    },
    "example": HealthModel.default().to_document(),
}
_PULSE_BODY = {
    "type": "object",
    "required": ["score"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "integer", "minimum": 0, "maximum": 5},
        "reason": {"type": "string", "maxLength": MAX_REASON},
    },
}


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    ok: dict[str, Any],
    parameters: list[dict[str, Any]],
    errors: dict[str, Any],
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["read"],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": _SECURITY,
        "parameters": parameters,
        "responses": {"200": ok, **errors, **_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _days(kind: str) -> dict[str, Any]:
    return _operation(
        f"{kind}_health",
        f"A{'n' if kind == 'account' else ''} {kind}'s status, stage and health band day by day",
        "From the daily history the server keeps (docs/health.md): one entry per day of [from, to] on which it "
        "existed, in the project's time zone. Bands: " + ", ".join(LEVELS) + ", or null (churned, not started).",
        _answer("The days.", {"$ref": "#/components/schemas/HealthDays"}),
        [
            _UID,
            {
                "name": "from",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date"},
                "description": "The first day, YYYY-MM-DD (default: 89 days before `to`; 1970-01-01 or later).",
            },
            {
                "name": "to",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date"},
                "description": "The last day, YYYY-MM-DD (default and latest: today). At most 731 days after from.",
            },
        ],
        {
            "400": _answer("from or to is no day, in the wrong order or too far apart (field and rule name it)."),
            "404": _answer("No such uid in the project (rule exists)."),
        },
    )


def health_paths() -> dict[str, dict[str, Any]]:
    bad_document = _answer(
        "A document the server cannot use: field (a dotted path such as accounts.rules[0].bad[1].days) and "
        "rule name what to change."
    )
    return {
        "/v1/settings/health": {
            "get": _operation(
                "get_health_settings",
                "The project's health model",
                "The document in force: the default one (today's rule on active days) until one is saved.",
                _answer("The document.", HEALTH_DOCUMENT),
                [],
                {},
            ),
            "put": _operation(
                "put_health_settings",
                "Save the project's health model",
                "Checked whole; saved as a new version, which is in force at once (profiles evaluate with it) "
                "and with which the server rebuilds the daily history within a minute or two.",
                _answer("The document saved, as GET will answer it.", HEALTH_DOCUMENT),
                [],
                {"400": bad_document},
                HEALTH_DOCUMENT,
            ),
        },
        "/v1/accounts/{uid}/health": {"get": _days("account")},
        "/v1/contacts/{uid}/health": {"get": _days("contact")},
        "/v1/accounts/{uid}/pulse": {
            "put": _operation(
                "put_pulse",
                "Rate an account 0 to 5: a Pulse",
                "Kept with its author (api:<token>) and time; a signal of the health model until it is older "
                "than pulse_stale_after_days.",
                _answer("The Pulse kept.", {"$ref": "#/components/schemas/PulseNow"}),
                [_UID],
                {
                    "400": _answer("The body is not {score: 0-5, reason: text} (field and rule name it)."),
                    "404": _answer("No such account in the project (rule exists)."),
                },
                _PULSE_BODY,
            )
        },
    }


def with_health(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The read paths with the health operations added (a path may hold several methods)."""
    merged = {path: dict(operations) for path, operations in paths.items()}
    for path, operations in health_paths().items():
        merged.setdefault(path, {}).update(operations)
    return merged
