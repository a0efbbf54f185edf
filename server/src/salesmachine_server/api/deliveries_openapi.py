"""The description (/openapi.json) of the delivery log and the SMTP settings (api/deliveries.py,
api/smtp_settings.py), merged into api/openapi.py's, tagged "deliveries". The log's answer is
generated from api/delivery_models.py's Structs; the settings' document is written here."""

from __future__ import annotations

from typing import Any

from salesmachine_server.api import delivery_models
from salesmachine_server.domain.list_query import DEFAULT_LIMIT, MAX_LIMIT

_ERROR = {"$ref": "#/components/schemas/Error"}


def _answer(description: str, schema: dict[str, Any] | None = None, *headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema or _ERROR}}}
    if headers:
        answer["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return answer


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


# As the read API's: outside the CORS middleware, the secret required.
_ERRORS = {
    "401": _answer(
        "The token and secret together are missing or wrong (HTTP Basic token:secret).", None, "WWW-Authenticate"
    ),
    "429": _answer("Too many requests for this project.", None, "Retry-After"),
    "500": _answer("A fault of ours, never bad input; it is logged."),
    "503": _answer("The database cannot be reached, or maintenance is on.", None, "Retry-After"),
}

TAG = {
    "name": "deliveries",
    "description": "The delivery log and the SMTP server (token and secret; docs/deliveries.md).",
}

_SMTP_FIELDS: dict[str, Any] = {
    "host": {"type": "string", "maxLength": 255, "description": "The SMTP server's host name or address."},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 587},
    "username": {"type": "string", "maxLength": 255, "description": "Empty: no login."},
    "from": {
        "type": "string",
        "maxLength": 320,
        "description": 'The From of every e-mail: "Name <a@b.c>" or an address.',
    },
    "security": {"enum": ["starttls", "ssl", "none"], "default": "starttls"},
}
SMTP_CHANGE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_SMTP_FIELDS,
        "password": {
            "type": ["string", "null"],
            "maxLength": 1000,
            "description": "Written, never read back. Absent: the current one is kept; null: removed.",
        },
    },
    "example": {
        "host": "smtp.example.com",
        "port": 587,
        "username": "alerts",
        "password": "app-password",
        "from": "Salesmachine <alerts@example.com>",
        "security": "starttls",
    },
}
SMTP_SHOWN = {
    "type": "object",
    "required": ["configured", "host", "port", "username", "password_set", "from", "security"],
    "additionalProperties": False,
    "properties": {
        "configured": {"type": "boolean"},
        "host": {"type": ["string", "null"]},
        "port": {"type": ["integer", "null"]},
        "username": {"type": ["string", "null"]},
        "password_set": {"type": "boolean", "description": "Whether a password is kept (it is never shown)."},
        "from": {"type": ["string", "null"]},
        "security": {"enum": ["starttls", "ssl", "none", None]},
    },
}


def _operation(operation_id: str, summary: str, description: str, **parts: Any) -> dict[str, Any]:
    errors = parts.pop("errors", {})
    responses = parts.pop("responses", {})
    return {
        "tags": ["deliveries"],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": [{"basic": []}],
        **parts,
        "responses": {**responses, **errors, **_ERRORS},
    }


def deliveries_paths() -> dict[str, dict[str, Any]]:
    bad = _answer("A parameter it does not take, or a value out of its rule (field and rule name it).")
    smtp_ok = _answer("The SMTP settings, without the password.", SMTP_SHOWN)
    return {
        "/v1/deliveries": {
            "get": _operation(
                "deliveries",
                "The delivery log, newest first",
                "Every webhook, Slack message and e-mail of the project's playbooks and tests, with its "
                "status (pending, delivered, failed) and every attempt: what was sent, the answer, the "
                "error. Failed deliveries stay here: none fails silently. Secrets are never shown.",
                parameters=[
                    _query("status", "Only deliveries in this status.", {"enum": ["pending", "delivered", "failed"]}),
                    _query("channel", "Only deliveries of this channel.", {"enum": ["webhook", "slack", "email"]}),
                    _query("playbook_id", "Only deliveries of this playbook.", {"type": "integer", "minimum": 1}),
                    _query(
                        "limit",
                        "Deliveries per page.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    ),
                    _query(
                        "cursor", "The next_cursor of the previous page; keep the other parameters.", {"type": "string"}
                    ),
                ],
                responses={"200": _answer("A page of deliveries.", {"$ref": "#/components/schemas/DeliveryPage"})},
                errors={"400": bad},
            )
        },
        "/v1/settings/smtp": {
            "get": _operation(
                "smtp_settings",
                "The project's SMTP server",
                "The server e-mail deliveries go through; the password is never shown, only whether one is set.",
                parameters=[],
                responses={"200": smtp_ok},
            ),
            "put": _operation(
                "set_smtp_settings",
                "Set the project's SMTP server",
                "Keys left out keep their value (host and from are required the first time). Answers the "
                "settings as `GET` does.",
                parameters=[],
                requestBody={"required": True, "content": {"application/json": {"schema": SMTP_CHANGE}}},
                responses={"200": smtp_ok},
                errors={
                    "400": _answer("A value out of its rule, or not a JSON object (field and rule name it)."),
                    "413": _answer("The body is larger than 16 KiB."),
                },
            ),
        },
    }


def with_deliveries(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`paths` with the deliveries' operations added."""
    return {**paths, **deliveries_paths()}


def delivery_schemas() -> dict[str, Any]:
    return delivery_models.schema_components(ref_template="#/components/schemas/{name}")
