"""The dashboard's owners, notes and tasks (docs/work.md): the forms of the list and profile
pages, and the inbox ("My tasks").

Every form carries the session's CSRF token (web/forms.py). What the forms send is read by the
rules of domain/work_items.py, as the API's bodies are; a refusal is the 400 page saying why.
A note is edited only by its author; anyone of the project may add one, set an owner, or add and
close a task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy import Connection, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.domain.list_query import QueryError, Subject, parse_list_query
from salesmachine_server.domain.work_items import (
    DISMISSED,
    DONE,
    OPEN,
    WorkItemError,
    checked_due,
    checked_status,
    checked_subject,
)
from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.db.schema import accounts, contacts
from salesmachine_server.store.read.lists import matching_ids
from salesmachine_server.store.read.profiles import account_row, contact_id_for
from salesmachine_server.store.read.work_items import TaskQuery, TaskRow, list_tasks
from salesmachine_server.store.records import notes as note_records
from salesmachine_server.store.records import tasks as task_records
from salesmachine_server.store.records.owners import member_by_email, set_owner, set_owners
from salesmachine_server.store.records.saved_segments import find_segment
from salesmachine_server.web.access import Dashboard, PageNotFound, dashboard, page_handler
from salesmachine_server.web.forms import FormRefused, checked_form
from salesmachine_server.web.list_form import ListForm
from salesmachine_server.web.numbers import MAX_ID, whole_number
from salesmachine_server.web.templating import path_part

T = TypeVar("T")
INBOX_LIMIT = 200
# The inbox's views: whose open tasks it lists.
VIEWS = {"mine": "Mine", "unassigned": "Unassigned", "all": "Everyone's"}


class Refused(Exception):
    """A form whose content cannot be taken: the 400 page says why."""


async def _write(dash: Dashboard, work: Callable[[Connection], T]) -> T:
    """`work(conn)` in one transaction on the writer, off the event loop."""

    def transaction(conn: Connection) -> T:
        with conn.begin():
            return work(conn)

    return await on_connection(dash.engines.writer, transaction)


async def _refused(dash: Dashboard, section: str, title: str, message: str) -> Response:
    return await dash.page("error.html", section, {"title": title, "message": message}, status=400)


def _customer_id(conn: Connection, project_id: int, subject: str, uid: str) -> int:
    """The id of the account or contact a form names by uid; PageNotFound when none."""
    if "\x00" not in uid:
        if subject == "account":
            row = account_row(conn, project_id, uid)
            if row is not None:
                return int(row.id)
        else:
            found = contact_id_for(conn, project_id, uid)
            if found is not None:
                return found
    raise PageNotFound(f"No {subject} has the uid {uid!r}.")


def _profile_url(dash: Dashboard, subject: str, uid: str, anchor: str = "") -> str:
    return dash.url(f"/{subject}s/{path_part(uid)}") + anchor


def _member(conn: Connection, project_id: int, email: str, field: str) -> int | None:
    """A member by address ("" is nobody); Refused when the address is no member's."""
    if not email.strip():
        return None
    user = member_by_email(conn, project_id, email)
    if user is None:
        raise Refused(f"{email!r} is not a user of this project ({field}).")
    return user.id


def _subject(form: dict[str, str]) -> str:
    try:
        return checked_subject(form.get("subject", ""))
    except WorkItemError as exc:
        raise FormRefused(exc.message) from None


def _back(dash: Dashboard, form: dict[str, str], default: str) -> str:
    """Where a form returns to: its `next` when it is a page of this project, else `default`."""
    target = form.get("next", "")
    prefix = dash.url("/")
    if target.startswith(prefix) and "//" not in target and "\\" not in target:
        return target
    return default


# -- owners ---------------------------------------------------------------------------------------


@page_handler
async def owner_submit(request: Request) -> Response:
    """One account's or contact's owner, from its profile page."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    subject, uid = _subject(form), form.get("uid", "")
    project_id = dash.project.id

    def change(conn: Connection) -> None:
        customer_id = _customer_id(conn, project_id, subject, uid)
        set_owner(conn, project_id, subject, customer_id, _member(conn, project_id, form.get("owner", ""), "owner"))

    try:
        await _write(dash, change)
    except Refused as exc:
        return await _refused(dash, f"{subject}s", "Owner not set", str(exc))
    return RedirectResponse(_profile_url(dash, subject, uid), status_code=303)


@page_handler
async def owners_submit(request: Request) -> Response:
    """The owner of every account or contact a list or a saved segment holds."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    kind = form.get("kind", "")
    if kind not in tuple(Subject):
        raise FormRefused("a bulk change names a list: accounts or contacts")
    subject = Subject(kind)
    project_id, window = dash.project.id, dash.window
    segment = None
    if form.get("segment"):
        segment_id = whole_number(form["segment"], 1, MAX_ID)
        segment = await dash.run(lambda conn: find_segment(conn, project_id, segment_id or 0))
        if segment is None or segment.subject != subject:
            raise PageNotFound("There is no such segment in this project.")
        language = segment.query
    else:
        language = form.get("query", "")
    try:
        query = parse_list_query(language, subject, me=dash.session.email)
    except QueryError as exc:
        return await _refused(dash, subject, "Owner not set", exc.message)

    def change(conn: Connection) -> int:
        user_id = _member(conn, project_id, form.get("owner", ""), "owner")
        ids = matching_ids(conn, project_id, subject, query, window)
        return set_owners(conn, project_id, subject[:-1], ids, user_id)

    try:
        await _write(dash, change)
    except Refused as exc:
        return await _refused(dash, subject, "Owner not set", str(exc))
    if segment is not None:
        return RedirectResponse(dash.url(f"/{subject}?segment={segment.id}"), status_code=303)
    address = ListForm.from_language(language).address()
    return RedirectResponse(dash.url(f"/{subject}" + (f"?{address}" if address else "")), status_code=303)


# -- notes ----------------------------------------------------------------------------------------


@page_handler
async def note_submit(request: Request) -> Response:
    """A new note on an account or a contact, by the signed-in user."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    subject, uid = _subject(form), form.get("uid", "")
    project_id, session = dash.project.id, dash.session

    def add(conn: Connection) -> None:
        note_records.add_note(
            conn,
            project_id,
            subject=subject,
            customer_id=_customer_id(conn, project_id, subject, uid),
            body=form.get("body", ""),
            author=session.email,
            author_user_id=session.user_id,
        )

    try:
        await _write(dash, add)
    except WorkItemError as exc:
        return await _refused(dash, f"{subject}s", "Note not saved", exc.message)
    return RedirectResponse(_profile_url(dash, subject, uid, "#timeline"), status_code=303)


@page_handler
async def note_edit(request: Request) -> Response:
    """A note's new text, from its author only."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    project_id, user_id = dash.project.id, dash.session.user_id
    note_id = int(request.path_params["nid"])

    def edit(conn: Connection) -> tuple[str, str]:
        note = note_records.find_note(conn, project_id, note_id) if note_id <= MAX_ID else None
        if note is None:
            raise PageNotFound("There is no such note in this project.")
        if note.author_user_id != user_id:
            raise FormRefused("only its author may edit a note")
        note_records.edit_note(conn, project_id, note_id, form.get("body", ""))
        return note.subject, _uid_of(conn, note.subject, note.customer_id)

    try:
        subject, uid = await _write(dash, edit)
    except WorkItemError as exc:
        return await _refused(dash, "home", "Note not saved", exc.message)
    return RedirectResponse(_profile_url(dash, subject, uid, "#timeline"), status_code=303)


def _uid_of(conn: Connection, subject: str, customer_id: int) -> str:
    table, column = (accounts, accounts.c.account_uid) if subject == "account" else (contacts, contacts.c.contact_uid)
    return str(conn.execute(select(column).where(table.c.id == customer_id)).scalar_one())


# -- tasks ----------------------------------------------------------------------------------------


@page_handler
async def task_submit(request: Request) -> Response:
    """A new task, from a profile page: for the chosen user (nobody: ""), due on a day or not."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    subject, uid = _subject(form), form.get("uid", "")
    project_id = dash.project.id

    def add(conn: Connection) -> None:
        task_records.create_task(
            conn,
            project_id,
            title=form.get("title", ""),
            subject=subject,
            customer_id=_customer_id(conn, project_id, subject, uid),
            assignee_user_id=_member(conn, project_id, form.get("assignee", ""), "assignee"),
            due_on=checked_due(form.get("due_on", "")),
        )

    try:
        await _write(dash, add)
    except (WorkItemError, Refused) as exc:
        message = exc.message if isinstance(exc, WorkItemError) else str(exc)
        return await _refused(dash, f"{subject}s", "Task not added", message)
    return RedirectResponse(_profile_url(dash, subject, uid, "#tasks"), status_code=303)


@page_handler
async def task_status(request: Request) -> Response:
    """Done, dismissed, or open again: from the inbox or a profile's tasks."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    project_id = dash.project.id
    task_id = int(request.path_params["tid"])
    try:
        status = checked_status(form.get("status", ""))
    except WorkItemError as exc:
        return await _refused(dash, "tasks", "Task not changed", exc.message)
    changed = task_id <= MAX_ID and await _write(
        dash, lambda conn: task_records.set_status(conn, project_id, task_id, status)
    )
    if not changed:
        raise PageNotFound("There is no such task in this project.")
    return RedirectResponse(_back(dash, form, dash.url("/tasks")), status_code=303)


# -- the inbox ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskGroup:
    key: str
    title: str
    tasks: list[TaskRow]


def grouped(rows: list[TaskRow], today: date) -> list[TaskGroup]:
    """Open tasks in the order a person works through them: overdue, due today, coming, and
    those without a due day (rows come due soonest first)."""
    groups: dict[str, list[TaskRow]] = {"overdue": [], "today": [], "coming": [], "undated": []}
    for row in rows:
        if row.due_on is None:
            groups["undated"].append(row)
        elif row.due_on < today:
            groups["overdue"].append(row)
        elif row.due_on == today:
            groups["today"].append(row)
        else:
            groups["coming"].append(row)
    titles = {"overdue": "Overdue", "today": "Due today", "coming": "Coming", "undated": "No due day"}
    return [TaskGroup(key, titles[key], found) for key, found in groups.items() if found]


@page_handler
async def inbox(request: Request) -> Response:
    """My tasks: the open tasks of the signed-in user (or nobody's, or everyone's), overdue first."""
    dash = await dashboard(request)
    view = request.query_params.get("view", "mine")
    if view not in VIEWS:
        view = "mine"
    project_id, user_id, today = dash.project.id, dash.session.user_id, dash.window.today
    query = TaskQuery(
        status=OPEN,
        assignee_user_id=user_id if view == "mine" else None,
        unassigned=view == "unassigned",
        limit=INBOX_LIMIT,
    )
    rows, more = await dash.run(lambda conn: list_tasks(conn, project_id, query))
    return await dash.page(
        "tasks.html",
        "tasks",
        {
            "view": view,
            "views": VIEWS,
            "groups": grouped(rows, today),
            "count": len(rows),
            "more": more is not None,
            "today": today,
            "statuses": (DONE, DISMISSED),
        },
    )
