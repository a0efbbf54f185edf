"""The description (/openapi.json) of api/playbooks.py's endpoints, merged into api/openapi.py's.

The document's schema here is the outline a client needs; its one reader is
domain/playbooks.py, whose 400 names the field and rule of anything the outline lets through
(docs/playbooks.md lists every trigger and action with examples).
"""

from __future__ import annotations

from typing import Any

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
    "429": _answer("Too many requests for this project.", None, "Retry-After"),
    "500": _answer("A fault of the server."),
    "503": _answer("The database cannot be reached, or maintenance is on.", None, "Retry-After"),
}
_BAD = {"400": _answer("The document cannot be read: `field` and `rule` say where and why.")}
_TOO_BIG = {"413": _answer("The document is over 256 KiB.")}
_MISSING = {"404": _answer("This project has no playbook with that id.")}
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The playbook's id.",
}

TRIGGER = {
    "type": "object",
    "required": ["type"],
    "description": "What starts the playbook. By type: `event` (`event`, optional `where`: conditions on its "
    "params), `health` (`to`: bad, good, average or any), `status` (`status`, `change`: entered or left), "
    "`stage` (`stage`, `change`), `segment` (`segment`: a saved segment's name, `change`), `mrr` (`movement`: "
    "churn, contraction, expansion or any; `at_least`: the size of the move), `pulse_stale`, `renewal` "
    "(`within_days`, `field`: the param holding the date, renewal_date by default).",
    "properties": {
        "type": {"enum": ["event", "health", "status", "stage", "segment", "mrr", "pulse_stale", "renewal"]},
        "event": {"type": "string"},
        "where": {"type": "string"},
        "to": {"enum": ["bad", "good", "average", "any"]},
        "status": {"enum": ["paying", "churned", "trial", "free"]},
        "stage": {"type": "string"},
        "segment": {"type": "string"},
        "change": {"enum": ["entered", "left"]},
        "movement": {"enum": ["churn", "contraction", "expansion", "any"]},
        "at_least": {"type": "number", "minimum": 0},
        "within_days": {"type": "integer", "minimum": 0},
        "field": {"type": "string"},
    },
}
ACTION = {
    "type": "object",
    "required": ["type"],
    "description": "By type: `task` (`title`, `due_in_days`, `assignee`: owner or a user's e-mail), `set_owner` "
    "(`user`), `webhook` (`url`, `secret`, optional `message`), `slack` (`url`: an incoming webhook, `text`), "
    "`email` (`to`: an address or owner, `subject`, `text`). Texts are templates: {{account.name}}, "
    '{{account.mrr}}, {{event.name}}... Answers show a webhook\'s secret as "(kept)" and URLs without '
    "credentials, query values or a Slack token; sent back unchanged to PUT, the saved ones stay.",
    "properties": {
        "type": {"enum": ["task", "set_owner", "webhook", "slack", "email"]},
        "title": {"type": "string"},
        "due_in_days": {"type": "integer", "minimum": 0},
        "assignee": {"type": "string"},
        "user": {"type": "string"},
        "url": {"type": "string"},
        "secret": {"type": "string"},
        "message": {"type": "string"},
        "text": {"type": "string"},
        "to": {"type": "string"},
        "subject": {"type": "string"},
    },
}
DOCUMENT = {
    "type": "object",
    "required": ["name", "trigger", "actions"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "enrollment": {"enum": ["once", "every_time"], "default": "once"},
        "subject": {"enum": ["account", "contact"], "default": "account"},
        "trigger": TRIGGER,
        "conditions": {
            "type": "string",
            "description": "Filters in the list filter language, as GET /v1/accounts takes them: mrr>1000&plan=pro.",
        },
        "actions": {"type": "array", "minItems": 1, "maxItems": 20, "items": ACTION},
        "enabled": {"type": "boolean", "default": True},
        "description": {"type": "string"},
    },
    "example": {
        "name": "Payment failed",
        "enrollment": "every_time",
        "trigger": {"type": "event", "event": "payment_failed"},
        "actions": [
            {"type": "webhook", "url": "https://hooks.example.com/cs", "secret": "whsec_..."},
            {"type": "task", "title": "Call about the failed payment", "due_in_days": 2},
        ],
    },
}
STORED = {
    "type": "object",
    "required": ["id", "name", "enrollment", "subject", "trigger", "conditions", "actions", "enabled"],
    "properties": {
        "id": {"type": "integer"},
        **DOCUMENT["properties"],  # type: ignore[dict-item]
        "enrolled": {"type": "integer", "description": "Enrollments so far."},
        "last_run_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}
PREVIEW = {
    "type": "object",
    "required": ["basis", "explanation", "count", "truncated", "customers"],
    "properties": {
        "basis": {
            "enum": ["current_state", "recent_events"],
            "description": "current_state: who is in the trigger's state now (enabling enrolls them); "
            "recent_events: who the event or move happened to in the last 7 days.",
        },
        "explanation": {"type": "string"},
        "count": {"type": "integer"},
        "truncated": {"type": "boolean"},
        "customers": {"type": "array", "items": {"type": "object"}},
    },
}


def _operation(
    operation_id: str, summary: str, description: str, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "tags": ["playbooks"],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": _SECURITY,
        **extra,
        "responses": {**responses, **_ERRORS},
    }


def _body(description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": {"application/json": {"schema": DOCUMENT}}}


def playbook_paths() -> dict[str, dict[str, Any]]:
    return {
        "/v1/playbooks": {
            "get": _operation(
                "listPlaybooks",
                "The project's playbooks",
                "Every playbook of the project, oldest first, with its enrollments so far.",
                {
                    "200": _answer(
                        "The playbooks.",
                        {"type": "object", "properties": {"playbooks": {"type": "array", "items": STORED}}},
                    )
                },
            ),
            "post": _operation(
                "createPlaybook",
                "Add a playbook",
                "Save a playbook document (docs/playbooks.md). Enabled unless `enabled` is false.",
                {"201": _answer("The playbook as saved.", STORED), **_BAD, **_TOO_BIG},
                requestBody=_body("The playbook document."),
            ),
        },
        "/v1/playbooks/preview": {
            "post": _operation(
                "previewPlaybook",
                "Who a playbook would enroll now",
                "For a document (saved or not): the customers it would enroll now, and on which basis.",
                {"200": _answer("The preview.", PREVIEW), **_BAD, **_TOO_BIG},
                requestBody=_body("The playbook document."),
            ),
        },
        "/v1/playbooks/{id}": {
            "get": _operation(
                "getPlaybook",
                "One playbook",
                "The playbook as saved.",
                {"200": _answer("The playbook.", STORED), **_BAD, **_MISSING},
                parameters=[_ID],
            ),
            "put": _operation(
                "replacePlaybook",
                "Replace a playbook",
                "Put a new document in place (pause it with `enabled: false`).",
                {"200": _answer("The playbook as saved.", STORED), **_BAD, **_MISSING, **_TOO_BIG},
                parameters=[_ID],
                requestBody=_body("The playbook document."),
            ),
        },
    }
