"""The description (/openapi.json) of api/display_settings.py's endpoints, merged into
api/openapi.py's paths: GET and PUT /v1/settings/display (token and secret, as reads)."""

from __future__ import annotations

from typing import Any

from salesmachine_server.domain.currencies import MINOR_UNITS
from salesmachine_server.domain.project_settings import CURRENCY, RENEWAL

_ERROR = {"$ref": "#/components/schemas/Error"}


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

DISPLAY_DOCUMENT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": "How the dashboard reads the project's data. PUT takes the whole document: a key left out "
    "takes its default.",
    "properties": {
        CURRENCY: {
            "type": ["string", "null"],
            "description": "ISO 4217 code, any case (default USD; null resets it): every amount of the dashboard "
            "is written in it. The API answers numbers.",
            "example": "EUR",
            "enum": [*sorted(MINOR_UNITS), *(code.lower() for code in sorted(MINOR_UNITS)), None],
        },
        RENEWAL: {
            "type": ["string", "null"],
            "description": "The accounts' attribute holding their next renewal date (YYYY-MM-DD or an ISO time), "
            "which Home's renewals read; null or empty: none. 1 to 100 characters without <, >, =, ! or &.",
            "maxLength": 100,
            "pattern": "^[^<>=!&\\u0000-\\u001f\\u007f]*$",
            "example": "renewal_date",
        },
    },
}


def _operation(operation_id: str, summary: str, description: str, errors: dict[str, Any], body: bool) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["read"],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": [{"basic": []}],
        "parameters": [],
        "responses": {"200": _answer("The display settings.", DISPLAY_DOCUMENT), **errors, **_ERRORS},
    }
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": DISPLAY_DOCUMENT}}}
    return operation


def display_paths() -> dict[str, dict[str, Any]]:
    return {
        "/v1/settings/display": {
            "get": _operation(
                "get_display_settings",
                "The project's currency and renewal attribute",
                'As `{"currency": "USD", "renewal_attribute": null}` until set.',
                {},
                body=False,
            ),
            "put": _operation(
                "put_display_settings",
                "Set the project's currency and renewal attribute",
                "Checked as the dashboard's settings form and `projects configure` check them; kept in the "
                "audit log; in force at once.",
                {
                    "400": _answer(
                        "A value the server cannot use, or a key that is not a display setting: field and rule name it."
                    )
                },
                body=True,
            ),
        }
    }


def with_display(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The paths with the display settings' operations added."""
    return {**paths, **display_paths()}
