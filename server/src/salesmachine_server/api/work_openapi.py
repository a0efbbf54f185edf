"""The description (/openapi.json) of api/work_items.py's endpoints (docs/work.md), merged into
api/openapi.py's: tasks, notes and owners. Their answers' schemas are generated from the Structs
of api/work_models.py; their bodies are written here, as the handlers read them
(api/json_body.py: a JSON object, unknown keys refused)."""

from __future__ import annotations

from typing import Any

from salesmachine_server.api import work_models
from salesmachine_server.domain.list_query import DEFAULT_LIMIT, MAX_LIMIT
from salesmachine_server.domain.work_items import MAX_NOTE, MAX_TITLE, STATUSES

_ERROR = {"$ref": "#/components/schemas/Error"}
_SECURITY: list[dict[str, list[str]]] = [{"basic": []}]
_EMAIL = {"type": "string", "description": "The e-mail address of a user of the project (a dashboard user)."}
_DAY = {"type": "string", "format": "date", "description": "YYYY-MM-DD."}
TAG = "work items"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


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
_BAD_BODY = (
    "The body is not a JSON object, names a key the endpoint does not take (rule known), or a field "
    "breaks its rule (field and rule name it: required, max_length, date, one_of, member...)."
)
_TOO_LARGE = {"413": _answer("The body is over 256 KiB (rule max_size).")}


def _uid(what: str) -> dict[str, Any]:
    return {
        "name": "uid",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
        "description": f'{what} Percent-encoded whole ("/" as %2F).',
    }


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _operation(
    operation_id: str,
    summary: str,
    description: str,
    ok: dict[str, Any],
    parameters: list[dict[str, Any]],
    errors: dict[str, Any],
    body: dict[str, Any] | None = None,
    ok_status: str = "200",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": [TAG],
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "security": _SECURITY,
        "parameters": parameters,
        "responses": {ok_status: ok, **errors, **_ERRORS},
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


def _limit() -> dict[str, Any]:
    return _query("limit", "Rows per page.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})


def work_paths() -> dict[str, dict[str, Any]]:
    title = {"type": "string", "minLength": 1, "maxLength": MAX_TITLE, "description": "Trimmed; on one line."}
    due = {"anyOf": [_DAY, {"type": "null"}], "description": "The day it is due; null (or absent) for none."}
    assignee = {"anyOf": [_EMAIL, {"type": "null"}], "description": "Who does it; null for nobody."}
    new_task = {
        "type": "object",
        "properties": {
            "title": title,
            "account_uid": {"type": "string", "minLength": 1},
            "contact_uid": {"type": "string", "minLength": 1, "description": "Any uid of the contact."},
            "assignee": {
                **assignee,
                "description": "Who does it; null for nobody; absent: the customer's owner, if it has one.",
            },
            "due_on": due,
        },
        "required": ["title"],
        "oneOf": [{"required": ["account_uid"]}, {"required": ["contact_uid"]}],
        "additionalProperties": False,
        "example": {"title": "Call about the renewal", "account_uid": "acme", "due_on": "2026-12-24"},
    }
    task_change = {
        "type": "object",
        "properties": {"status": {"enum": list(STATUSES)}, "title": title, "assignee": assignee, "due_on": due},
        "additionalProperties": False,
        "example": {"status": "done"},
    }
    note_body = {
        "type": "object",
        "properties": {
            "body": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE, "description": "The text."},
            "author": {
                **_EMAIL,
                "description": "The user who wrote it (they may edit it in the dashboard); absent: API.",
            },
        },
        "required": ["body"],
        "additionalProperties": False,
        "example": {"body": "Wants SSO before renewing.", "author": "ada@example.com"},
    }
    owner_body = {
        "type": "object",
        "properties": {"owner": {"anyOf": [_EMAIL, {"type": "null"}]}},
        "required": ["owner"],
        "additionalProperties": False,
        "example": {"owner": "ada@example.com"},
    }
    paths: dict[str, dict[str, Any]] = {
        "/v1/tasks": {
            "get": _operation(
                "list_tasks",
                "List tasks",
                "Open tasks by default, due soonest first (overdue first, without a due day last).",
                _answer("A page of tasks.", _ref("TaskPage")),
                [
                    _query("status", "open (default), done, dismissed, or any.", {"enum": [*STATUSES, "any"]}),
                    _query("assignee", "Only this user's tasks (an e-mail address); none: unassigned ones."),
                    _query("account_uid", "Only the tasks about this account."),
                    _query("contact_uid", "Only the tasks about this contact (any of its uids)."),
                    _query("due_by", "Only tasks due on or before this day, YYYY-MM-DD.", {"type": "string"}),
                    _limit(),
                    _query("cursor", "next_cursor of the previous page; keep the other parameters."),
                ],
                {
                    "400": _answer(
                        "An unknown or repeated parameter, a status, assignee, day, limit or cursor it cannot "
                        "read (field and rule name it)."
                    ),
                    "404": _answer("No account or contact has that uid (rule exists)."),
                },
            ),
            "post": _operation(
                "create_task",
                "Add a task",
                "About one account or contact, for a user of the project, due on a day or not.",
                _answer("The task.", _ref("Task")),
                [],
                {"400": _answer(_BAD_BODY), "404": _answer("No account or contact has that uid."), **_TOO_LARGE},
                new_task,
                "201",
            ),
        },
        "/v1/tasks/{id}": {
            "patch": _operation(
                "update_task",
                "Change a task",
                "Mark it done, dismissed or open again; change its title, assignee or due day.",
                _answer("The task.", _ref("Task")),
                [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                        "description": "The task's id.",
                    }
                ],
                {
                    "400": _answer(_BAD_BODY + " An id that is no whole number (rule integer)."),
                    "404": _answer("No task of the project has that id."),
                    **_TOO_LARGE,
                },
                task_change,
            )
        },
    }
    for subject, plural in (("account", "accounts"), ("contact", "contacts")):
        who = f"The {subject}'s uid." if subject == "account" else "Any uid of the contact."
        missing = _answer(f"No {subject} has that uid (rule exists).")
        bad_uid = "The uid holds NUL or is not UTF-8 (field and rule name it)."
        paths[f"/v1/{plural}/{{uid}}/notes"] = {
            "get": _operation(
                f"list_{subject}_notes",
                f"A{'n' if subject == 'account' else ''} {subject}'s notes",
                "Newest first.",
                _answer("A page of notes.", _ref("NotePage")),
                [
                    _uid(who),
                    _query(
                        "limit",
                        f"Notes per page (default 100; at most {MAX_LIMIT}).",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                    ),
                    _query("cursor", "next_cursor of the previous page."),
                ],
                {"400": _answer(bad_uid + " An unknown parameter, a limit or cursor it cannot read."), "404": missing},
            ),
            "post": _operation(
                f"create_{subject}_note",
                f"Add a note to a{'n' if subject == 'account' else ''} {subject}",
                "Shown in its timeline in the dashboard, with its author and time.",
                _answer("The note.", _ref("Note")),
                [_uid(who)],
                {"400": _answer(bad_uid + " " + _BAD_BODY), "404": missing, **_TOO_LARGE},
                note_body,
                "201",
            ),
        }
        paths[f"/v1/{plural}/{{uid}}/owner"] = {
            "put": _operation(
                f"set_{subject}_owner",
                f"Set a{'n' if subject == 'account' else ''} {subject}'s owner",
                "A user of the project, or null for nobody. Lists filter on it: owner=<e-mail>.",
                _answer("The owner now.", _ref(f"{subject.capitalize()}Owner")),
                [_uid(who)],
                {"400": _answer(bad_uid + " " + _BAD_BODY), "404": missing, **_TOO_LARGE},
                owner_body,
            )
        }
    return paths


def with_work_items(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`paths` with the work-items operations added, beside a path's other methods."""
    merged = {path: dict(operations) for path, operations in paths.items()}
    for path, operations in work_paths().items():
        merged.setdefault(path, {}).update(operations)
    return merged


def work_schemas() -> dict[str, Any]:
    return work_models.schema_components(ref_template="#/components/schemas/{name}")
