"""The description (/openapi.json) of api/data_rights.py's endpoints, merged into api/openapi.py's.

Tagged "data rights", not "read": they need the token and secret as reads do, but erase and
log. Their answers are plain JSON objects, described here by hand (docs/privacy.md holds the
receipt's and the export's fields).
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
_UID = {
    "name": "uid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1},
    "description": 'Any uid of it, percent-encoded whole ("/" as %2F).',
}
_RECEIPT = {
    "type": "object",
    "required": ["receipt", "kind", "uid_hashes", "removed", "erased_at", "by", "signature"],
    "description": "A signed erasure receipt (docs/privacy.md); `salesmachine receipts verify` checks it.",
}


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    ok: dict[str, Any],
    parameters: list[dict[str, Any]],
    errors: dict[str, Any],
) -> dict[str, Any]:
    return {
        "tags": ["data rights"],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": _SECURITY,
        "parameters": parameters,
        "responses": {"200": ok, **errors, **_ERRORS},
    }


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 1},
    }


def data_rights_paths() -> dict[str, dict[str, Any]]:
    bad_uid = {
        "400": _answer("The uid is not UTF-8 or holds NUL (field and rule name it)."),
        "404": _answer("No such uid in the project (rule exists)."),
    }

    def erase(kind: str) -> dict[str, Any]:
        return _operation(
            f"erase_{kind}",
            f"Erase a{'n' if kind == 'account' else ''} {kind} everywhere",
            f"Removes the {kind} under every uid, suppresses later writes naming it, and answers the signed "
            "receipt, kept too. Small transactions: ingestion carries on (docs/privacy.md).",
            _answer("The receipt.", _RECEIPT),
            [_UID],
            bad_uid,
        )

    return {
        "/v1/contacts/{uid}": {"delete": erase("contact")},
        "/v1/accounts/{uid}": {"delete": erase("account")},
        "/v1/contacts/{uid}/export": {
            "get": _operation(
                "export_contact",
                "Everything held about a person",
                "profile, contact, uids, accounts, mrr_history, notes and events (every one), as one JSON document, "
                "streamed.",
                _answer("The document.", {"type": "object", "required": ["profile", "uids", "events"]}),
                [_UID],
                bad_uid,
            )
        },
        "/v1/audit": {
            "get": _operation(
                "audit",
                "The project's audit log, newest first",
                "Erasures, person exports, settings changes, and its members' sign-ins.",
                _answer("A page of entries.", {"type": "object", "required": ["data", "next_before"]}),
                [
                    _query("limit", "Entries per page, at most 1000 (default 100)."),
                    _query("before", "next_before of the previous page."),
                ],
                {"400": _answer("limit or before is not a whole number in range (field and rule name it).")},
            )
        },
        "/v1/suppressions": {
            "get": _operation(
                "suppressions",
                "What erasures suppress",
                "How many uids are suppressed, how many writes naming one were refused or dropped, and which "
                "of the two the project does.",
                _answer(
                    "The counts.",
                    {
                        "type": "object",
                        "required": ["suppressed_uids", "refused_writes", "dropped_writes", "suppressed_writes"],
                    },
                ),
                [],
                {},
            )
        },
    }


def with_data_rights(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`paths` with the data-rights operations added, beside a path's other methods."""
    merged = {path: dict(operations) for path, operations in paths.items()}
    for path, operations in data_rights_paths().items():
        merged.setdefault(path, {}).update(operations)
    return merged
