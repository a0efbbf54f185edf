"""The work-items API (docs/work.md), with the project token and secret as the read API:
GET/POST /v1/tasks, PATCH /v1/tasks/{id}; GET/POST /v1/accounts/{uid}/notes and
/v1/contacts/{uid}/notes; PUT /v1/accounts/{uid}/owner and /v1/contacts/{uid}/owner.

A person is named by the e-mail address they sign in to the dashboard with, and must be a member
of the project. Every refusal is a 400 naming the field and the rule (domain/work_items.py's
rules, shared with the dashboard's forms).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import work_models
from salesmachine_server.api.context import path_uid, read_context
from salesmachine_server.api.json_body import json_object
from salesmachine_server.api.models import utc, utc_or_none
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain.list_query import FieldType, QueryError, decode_cursor, encode_cursor, parse_limit
from salesmachine_server.domain.work_items import (
    STATUSES,
    WorkItemError,
    checked_body,
    checked_due,
    checked_status,
    checked_title,
)
from salesmachine_server.errors import ApiError
from salesmachine_server.serving.project_context import ProjectContext
from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.db.schema import contacts
from salesmachine_server.store.read.profiles import account_row, contact_id_for
from salesmachine_server.store.read.work_items import (
    BadCursor,
    TaskQuery,
    TaskRow,
    decode_task_cursor,
    find_task,
    list_tasks,
    notes_of,
)
from salesmachine_server.store.records import notes as note_records
from salesmachine_server.store.records import tasks as task_records
from salesmachine_server.store.records.owners import member_by_email, owner_of, set_owner

API_AUTHOR = "API"
TASK_QUERY = ("status", "assignee", "account_uid", "contact_uid", "due_by", "limit", "cursor")
NOTE_QUERY = ("limit", "cursor")
MAX_ID = 2**63 - 1
T = TypeVar("T")


def _refused(error: WorkItemError | QueryError) -> ApiError:
    return ApiError(400, error.message, field=error.field, rule=error.rule)


async def _write(context: ProjectContext, work: Callable[[Connection], T]) -> T:
    """Run `work(conn)` in a transaction on the writer, off the event loop."""

    def transaction(conn: Connection) -> T:
        with conn.begin():
            return work(conn)

    return await on_connection(context.engines.writer, transaction)


# -- who and about whom -------------------------------------------------------------------------


def _member_id(conn: Connection, project_id: int, value: object, field: str) -> int | None:
    """A member of the project by e-mail address (null: nobody), or a 400 naming `field`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"{field} is a user's e-mail address or null", field=field, rule="string")
    user = member_by_email(conn, project_id, value)
    if user is None:
        raise ApiError(
            400, f"{value!r} is not the e-mail address of a user of this project", field=field, rule="member"
        )
    return user.id


def _customer(conn: Connection, project_id: int, subject: str, uid: str, field: str) -> tuple[int, str]:
    """(id, uid as shown) of an account (its uid) or a contact (any of its uids; shown by the
    one it was first known by), or a 404 naming `field`."""
    if subject == "account":
        row = account_row(conn, project_id, uid)
        if row is None:
            raise ApiError(404, f"no account has the uid {uid!r}", field=field, rule="exists")
        return int(row.id), row.account_uid
    contact_id = contact_id_for(conn, project_id, uid)
    if contact_id is None:
        raise ApiError(404, f"no contact has the uid {uid!r}", field=field, rule="exists")
    first = conn.execute(select(contacts.c.contact_uid).where(contacts.c.id == contact_id)).scalar_one()
    return contact_id, str(first)


def _uid_value(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ApiError(400, f"{field} must be a non-empty string without NUL", field=field, rule="string")
    return value


# -- tasks ----------------------------------------------------------------------------------------


def _task(row: TaskRow, today: date) -> work_models.Task:
    return work_models.Task(
        id=row.id,
        title=row.title,
        status=row.status,
        **{f"{row.subject}_uid": row.customer_uid},
        name=row.customer_name,
        assignee=row.assignee,
        due_on=row.due_on,
        overdue=row.overdue(today),
        playbook_id=row.playbook_id,
        created_at=utc(row.created_at),
        completed_at=utc_or_none(row.completed_at),
    )


def _task_query(request: Request, conn: Connection, project_id: int) -> TaskQuery:
    params = request.query_params
    for key in params:
        if key not in TASK_QUERY:
            raise ApiError(400, f"{key!r} is not a parameter here ({', '.join(TASK_QUERY)})", field=key, rule="known")
    for key in set(params):
        if len(params.getlist(key)) > 1:
            raise ApiError(400, f"{key} is given more than once", field=key, rule="once")
        if "\x00" in params[key]:
            raise ApiError(400, f"{key} must not contain the NUL character", field=key, rule="no_nul")
    status: str | None = params.get("status", "open")
    if status == "any":
        status = None
    elif status not in STATUSES:
        raise ApiError(400, f"status is one of {', '.join(STATUSES)} or any", field="status", rule="one_of")
    query: dict[str, Any] = {"status": status}
    assignee = params.get("assignee")
    if assignee == "none":
        query["unassigned"] = True
    elif assignee is not None:
        query["assignee_user_id"] = _member_id(conn, project_id, assignee, "assignee")
    if "account_uid" in params and "contact_uid" in params:
        raise ApiError(400, "name an account_uid or a contact_uid, not both", field="contact_uid", rule="one_of")
    for subject in ("account", "contact"):
        if f"{subject}_uid" in params:
            query["subject"] = subject
            query["customer_id"], _ = _customer(conn, project_id, subject, params[f"{subject}_uid"], f"{subject}_uid")
    try:
        if "due_by" in params:
            query["due_by"] = checked_due(params["due_by"], "due_by")
        if "limit" in params:
            query["limit"] = parse_limit(params["limit"])
    except (WorkItemError, QueryError) as exc:
        raise _refused(exc) from None
    if params.get("cursor"):
        try:
            query["after"] = decode_task_cursor(params["cursor"])
        except BadCursor as exc:
            raise ApiError(400, str(exc), field="cursor", rule="cursor") from None
    return TaskQuery(**query)


async def tasks_list(request: Request) -> Response:
    context = await read_context(request)
    project_id, today = context.project.id, context.window.today

    def read(conn: Connection) -> tuple[list[TaskRow], str | None]:
        return list_tasks(conn, project_id, _task_query(request, conn, project_id))

    rows, cursor = await context.run(read)
    return model_answer(work_models.TaskPage(data=[_task(r, today) for r in rows], next_cursor=cursor))


async def task_create(request: Request) -> Response:
    context = await read_context(request)
    body = await json_object(request, ("title", "account_uid", "contact_uid", "assignee", "due_on"))
    project_id, today = context.project.id, context.window.today
    subjects = [s for s in ("account", "contact") if f"{s}_uid" in body]
    if len(subjects) != 1:
        raise ApiError(
            400, "a task is about one customer: give account_uid or contact_uid", field="account_uid", rule="one_of"
        )
    subject = subjects[0]
    try:
        title = checked_title(body.get("title"))
        due = checked_due(body.get("due_on"))
    except WorkItemError as exc:
        raise _refused(exc) from None
    uid = _uid_value(body[f"{subject}_uid"], f"{subject}_uid")

    def create(conn: Connection) -> TaskRow:
        customer_id, _ = _customer(conn, project_id, subject, uid, f"{subject}_uid")
        if "assignee" in body:
            assignee = _member_id(conn, project_id, body["assignee"], "assignee")
        else:  # for whoever looks after the customer
            assignee = owner_of(conn, project_id, subject, customer_id)
        task_id = task_records.create_task(
            conn,
            project_id,
            title=title,
            subject=subject,
            customer_id=customer_id,
            assignee_user_id=assignee,
            due_on=due,
        )
        row = find_task(conn, project_id, task_id)
        assert row is not None  # inserted in this very transaction
        return row

    row = await _write(context, create)
    return model_answer(_task(row, today), status=201)


async def task_update(request: Request) -> Response:
    context = await read_context(request)
    task_id = _task_id(request)
    body = await json_object(request, ("status", "title", "assignee", "due_on"))
    project_id, today = context.project.id, context.window.today
    changes: dict[str, Any] = {}
    try:
        if "title" in body:
            changes["title"] = checked_title(body["title"])
        if "due_on" in body:
            changes["due_on"] = checked_due(body["due_on"])
        status = checked_status(body["status"]) if "status" in body else None
    except WorkItemError as exc:
        raise _refused(exc) from None

    def update(conn: Connection) -> TaskRow | None:
        if "assignee" in body:
            changes["assignee_user_id"] = _member_id(conn, project_id, body["assignee"], "assignee")
        if not task_records.update_task(conn, project_id, task_id, **changes):
            return None
        if status is not None:
            task_records.set_status(conn, project_id, task_id, status)
        return find_task(conn, project_id, task_id)

    row = await _write(context, update)
    if row is None:
        raise ApiError(404, f"no task has the id {task_id}", field="id", rule="exists")
    return model_answer(_task(row, today))


def _task_id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        raise ApiError(400, "a task id is a whole number from 1", field="id", rule="integer")
    return int(raw)


# -- notes ----------------------------------------------------------------------------------------


def _note(note: note_records.Note, subject: str, uid: str) -> work_models.Note:
    return work_models.Note(
        id=note.id,
        **{f"{subject}_uid": uid},
        author=note.author,
        body=note.body,
        created_at=utc(note.created_at),
        updated_at=utc(note.updated_at),
    )


async def account_notes(request: Request) -> Response:
    return await _notes(request, "account")


async def contact_notes(request: Request) -> Response:
    return await _notes(request, "contact")


async def _notes(request: Request, subject: str) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    params = request.query_params
    for key in params:
        if key not in NOTE_QUERY:
            raise ApiError(400, f"{key!r} is not a parameter here (limit, cursor)", field=key, rule="known")
    try:
        limit = parse_limit(params["limit"]) if "limit" in params else 100
        after = decode_cursor(params["cursor"], FieldType.DATETIME) if params.get("cursor") else None
    except QueryError as exc:
        raise _refused(exc) from None
    project_id = context.project.id

    def read(conn: Connection) -> tuple[str, list[note_records.Note]]:
        customer_id, shown = _customer(conn, project_id, subject, uid, "uid")
        before = None if after is None else (after[0].replace(tzinfo=None), int(after[1]))
        return shown, notes_of(conn, project_id, subject, customer_id, before=before, limit=limit + 1)

    shown, found = await context.run(read)
    cursor = None
    if len(found) > limit:
        found = found[:limit]
        cursor = encode_cursor(found[-1].created_at, found[-1].id)
    return model_answer(work_models.NotePage(data=[_note(n, subject, shown) for n in found], next_cursor=cursor))


async def account_note_create(request: Request) -> Response:
    return await _note_create(request, "account")


async def contact_note_create(request: Request) -> Response:
    return await _note_create(request, "contact")


async def _note_create(request: Request, subject: str) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    body = await json_object(request, ("body", "author"))
    try:
        text = checked_body(body.get("body"))
    except WorkItemError as exc:
        raise _refused(exc) from None
    project_id = context.project.id

    def create(conn: Connection) -> tuple[str, note_records.Note]:
        customer_id, shown = _customer(conn, project_id, subject, uid, "uid")
        author_id = _member_id(conn, project_id, body.get("author"), "author")
        author = API_AUTHOR if author_id is None else str(body["author"]).strip().lower()
        note = note_records.add_note(
            conn,
            project_id,
            subject=subject,
            customer_id=customer_id,
            body=text,
            author=author,
            author_user_id=author_id,
        )
        return shown, note

    shown, note = await _write(context, create)
    return model_answer(_note(note, subject, shown), status=201)


# -- owners ---------------------------------------------------------------------------------------


async def account_owner(request: Request) -> Response:
    return await _owner(request, "account")


async def contact_owner(request: Request) -> Response:
    return await _owner(request, "contact")


async def _owner(request: Request, subject: str) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    body = await json_object(request, ("owner",))
    if "owner" not in body:
        raise ApiError(
            400, "owner is required: a user's e-mail address, or null for nobody", field="owner", rule="required"
        )
    project_id = context.project.id

    def change(conn: Connection) -> tuple[str, str | None]:
        customer_id, shown = _customer(conn, project_id, subject, uid, "uid")
        user_id = _member_id(conn, project_id, body["owner"], "owner")
        set_owner(conn, project_id, subject, customer_id, user_id)
        return shown, None if user_id is None else str(body["owner"]).strip().lower()

    shown, owner = await _write(context, change)
    if subject == "account":
        return model_answer(work_models.AccountOwner(account_uid=shown, owner=owner))
    return model_answer(work_models.ContactOwner(contact_uid=shown, owner=owner))
