"""The accounts and contacts lists, and saving their filter as a named segment.

The list is list_accounts / list_contacts, paged by their keyset cursor, with the total
from store/read/counts.py; a segment's page is the same list with the segment's saved filter.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.list_query import QueryError, Subject, parse_list_query
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.read.counts import count_matching
from salesmachine_server.store.read.lists import list_accounts, list_contacts
from salesmachine_server.store.read.profiles import account_domains
from salesmachine_server.store.records.owners import members
from salesmachine_server.store.records.saved_segments import Segment, delete_segment, find_segment, save_segment
from salesmachine_server.web.access import Dashboard, PageNotFound, dashboard, page_handler
from salesmachine_server.web.forms import checked_form
from salesmachine_server.web.list_form import ACTIVITY_LABELS, OWNER_ME, SORTS, ListForm
from salesmachine_server.web.logos import Logo
from salesmachine_server.web.numbers import MAX_ID, whole_number

PAGE_SIZE = 25


class BadSegmentId(Exception):
    """A segment id that is not one: answered with the 400 page."""


def segment_id(raw: str) -> int:
    """The id in `?segment=` or the delete path (web/numbers.py)."""
    number = whole_number(raw, 1, MAX_ID)
    if number is None:
        raise BadSegmentId()
    return number


async def _segment(dash: Dashboard, raw: str) -> Segment:
    wanted = segment_id(raw)
    segment = await dash.run(lambda conn: find_segment(conn, dash.project.id, wanted))
    if segment is None:
        raise PageNotFound("There is no such segment in this project.")
    return segment


async def _bad_segment_id(dash: Dashboard, section: str) -> Response:
    return await dash.page(
        "error.html",
        section,
        {
            "title": "No such segment",
            "message": f"segment must be a whole number from 1 to {MAX_ID} (a segment's id, as the sidebar links it).",
        },
        status=400,
    )


async def _list(request: Request, subject: Subject) -> Response:
    dash = await dashboard(request)
    params = request.query_params
    segment = None
    if "segment" in params:
        try:
            segment = await _segment(dash, params["segment"])
        except BadSegmentId:
            return await _bad_segment_id(dash, subject)
        if segment.subject != subject:
            return RedirectResponse(dash.url(f"/{segment.subject}?segment={segment.id}"), status_code=303)
        form = ListForm.from_language(segment.query)
    else:
        form = ListForm.from_params(params)
    cursor = params.get("cursor", "")
    language = "&".join(filter(None, [form.language(), f"cursor={quote_plus(cursor)}" if cursor else ""]))
    project_id, window = dash.project.id, dash.window
    error: str | None = None
    rows: Any = []
    total: int | None = None
    next_cursor: str | None = None
    domains: dict[int, str | None] = {}
    me = dash.session.email
    try:
        query = parse_list_query(language, subject, me=me)
    except QueryError as exc:
        error = exc.message
    else:
        query.limit = PAGE_SIZE
        lister = list_contacts if subject == Subject.CONTACTS else list_accounts

        def load(conn: Connection) -> tuple[Any, str | None, int, dict[int, str | None]]:
            found, after = lister(conn, project_id, query, window)
            domains = account_domains(conn, [(r.id, r.params) for r in found]) if subject == Subject.ACCOUNTS else {}
            return found, after, count_matching(conn, project_id, subject, query, window), domains

        rows, next_cursor, total, domains = await dash.run(load)
    users = await dash.run(lambda conn: members(conn, project_id))
    base = f"segment={segment.id}" if segment else form.address()
    mine = subject == Subject.ACCOUNTS and not segment and form == ListForm(owner=OWNER_ME)
    return await dash.page(
        "list.html",
        "my-accounts" if mine else subject,
        {
            "members": users,
            "me": me,
            "mine": mine,
            "subject": subject,
            "form": form,
            "segment": segment,
            "language": form.language(),
            "rows": rows,
            "logos": {r.account_uid: Logo.of(r.params, domain=domains[r.id]) for r in rows}
            if subject == Subject.ACCOUNTS
            else {},
            "total": total,
            "error": error,
            "paged": bool(cursor),
            "first_url": dash.url(f"/{subject}?{base}"),
            "next_url": dash.url(f"/{subject}?{base}&cursor={quote_plus(next_cursor)}") if next_cursor else None,
            "levels": LEVELS,
            "activity_labels": ACTIVITY_LABELS,
            "sorts": SORTS,
        },
    )


@page_handler
async def accounts_list(request: Request) -> Response:
    return await _list(request, Subject.ACCOUNTS)


@page_handler
async def contacts_list(request: Request) -> Response:
    return await _list(request, Subject.CONTACTS)


@page_handler
async def segment_save(request: Request) -> Response:
    """Save the filter a list page shows under a name; the sidebar lists it from now on."""
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    # The form's `kind` names the list: contacts or accounts (a segment's stored kind).
    kind, query = form.get("kind", ""), form.get("query", "")
    subject = Subject(kind) if kind in tuple(Subject) else None
    try:
        # A kind that is not one is refused after the filter (read then as an accounts filter).
        parse_list_query(query, subject or Subject.ACCOUNTS, me=dash.session.email)
        if subject is None:
            raise ValueError("a segment lists accounts or contacts")
        segment = await on_thread(
            save_segment,
            dash.engines.writer,
            dash.project.id,
            subject,
            form.get("name", ""),
            query,
            dash.session.user_id,
        )
    except ValueError as exc:  # QueryError is one
        return await dash.page(
            "error.html", subject or "home", {"title": "Segment not saved", "message": str(exc)}, status=400
        )
    return RedirectResponse(dash.url(f"/{segment.subject}?segment={segment.id}"), status_code=303)


@page_handler
async def segment_delete(request: Request) -> Response:
    dash = await dashboard(request)
    await checked_form(request, dash.session.csrf_token)
    try:
        segment = await _segment(dash, str(request.path_params["sid"]))
    except BadSegmentId:
        return await _bad_segment_id(dash, "home")
    await on_thread(delete_segment, dash.engines.writer, dash.project.id, segment.id)
    return RedirectResponse(dash.url(f"/{segment.subject}"), status_code=303)
