"""Who is asking and which project they may see: every dashboard page starts here.

A page under /p/{pid}/ is served only to a signed-in user who is a member of project `pid`;
anyone else gets the same 404 as for a project that does not exist, so ids reveal nothing.
`Dashboard` then carries what every page needs: the project in its context (time zone, today,
health rule, engines: serving/project_context.py, the same as the read API's), a thread to run
queries on, and the sidebar (the user's projects, the saved segments with their live counts).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.domain.list_query import QueryError, parse_list_query
from salesmachine_server.serving.project_context import ProjectContext, project_context
from salesmachine_server.serving.sent_paths import sent_path
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.read.activity import Window
from salesmachine_server.store.read.counts import count_matching
from salesmachine_server.store.read.work_items import due_count
from salesmachine_server.store.records.projects import Project, list_projects
from salesmachine_server.store.records.saved_segments import Segment, list_segments
from salesmachine_server.store.records.users import project_ids_of
from salesmachine_server.store.records.web_sessions import WebSession, find_session
from salesmachine_server.web.forms import FormRefused
from salesmachine_server.web.templating import render

SESSION_COOKIE = "sm_session"
T = TypeVar("T")


class NotSignedIn(Exception):
    """No live session: the browser is sent to the sign-in page."""


class PageNotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def current_session(request: Request) -> WebSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await on_thread(find_session, app_state(request).engines.reader, token)


async def projects_of(request: Request, session: WebSession) -> list[Project]:
    engine = app_state(request).engines.reader

    def load() -> list[Project]:
        with engine.connect() as conn:
            allowed = set(project_ids_of(conn, session.user_id))
        return [p for p in list_projects(engine) if p.id in allowed]

    return await on_thread(load)


@dataclass(frozen=True)
class SidebarSegment:
    segment: Segment
    count: int | None  # None: the saved filter no longer reads (shown, not counted)


@dataclass(frozen=True)
class Dashboard:
    request: Request
    session: WebSession
    projects: list[Project]  # the user's, for the project switcher
    context: ProjectContext  # the project of the path, in its context

    # The context's parts, by the names the pages use.
    @property
    def project(self) -> Project:
        return self.context.project

    @property
    def zone(self) -> ZoneInfo:
        return self.context.zone

    @property
    def window(self) -> Window:
        return self.context.window

    @property
    def engines(self) -> Engines:
        return self.context.engines

    async def run(self, query: Callable[[Connection], T]) -> T:
        """Run a query function on a reader connection, off the event loop."""
        return await self.context.run(query)

    def url(self, path: str = "/") -> str:
        return f"/p/{self.project.id}{path}"

    async def sidebar(self) -> list[SidebarSegment]:
        project_id, window = self.project.id, self.window

        def load(conn: Connection) -> list[SidebarSegment]:
            found = []
            for segment in list_segments(conn, project_id):
                try:
                    # owner=me in a saved segment ("My accounts") is each viewer's own.
                    query = parse_list_query(segment.query, segment.subject, me=self.session.email)
                except QueryError:
                    found.append(SidebarSegment(segment, None))
                    continue
                found.append(SidebarSegment(segment, count_matching(conn, project_id, segment.subject, query, window)))
            return found

        return await self.run(load)

    async def tasks_due(self) -> int:
        """How many open tasks of the signed-in user are due today or overdue (the nav's count)."""
        project_id, user_id, today = self.project.id, self.session.user_id, self.window.today
        return await self.run(lambda conn: due_count(conn, project_id, user_id, today))

    async def page(self, template: str, section: str, values: dict[str, Any], status: int = 200) -> Response:
        """A page of this project, with the header and sidebar every page has."""
        return render(
            template,
            {
                "dash": self,
                "project": self.project,
                "projects": self.projects,
                "user_email": self.session.email,
                "csrf": self.session.csrf_token,
                "tz": self.zone,
                "section": section,
                "segments": await self.sidebar(),
                "tasks_due": await self.tasks_due(),
                **values,
            },
            status=status,
        )


async def dashboard(request: Request) -> Dashboard:
    """The signed-in user's view of the project in the path, or NotSignedIn / PageNotFound."""
    session = await current_session(request)
    if session is None:
        raise NotSignedIn()
    projects = await projects_of(request, session)
    wanted = request.path_params.get("pid")
    project = next((p for p in projects if p.id == wanted), None)
    if project is None:
        raise PageNotFound("There is no such project, or you are not a member of it.")
    return Dashboard(request, session, projects, project_context(request, project))


def sign_in_redirect(request: Request) -> Response:
    # The path as sent: decoded, a uid's "%2F" or "%3F" would name another page after sign-in.
    target = sent_path(request.scope) + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


def error_page(status: int, title: str, message: str) -> Response:
    return render("error.html", {"title": title, "message": message}, status=status)


Handler = Callable[[Request], Awaitable[Response]]


def page_handler(handler: Handler) -> Handler:
    """Turns the dashboard's refusals into pages: sign-in redirect, 404 and 403 pages."""

    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except NotSignedIn:
            if request.method != "GET":
                return error_page(403, "Signed out", "Your session has ended: sign in again.")
            return sign_in_redirect(request)
        except PageNotFound as exc:
            return error_page(404, "Not found", exc.message)
        except FormRefused as exc:
            return error_page(403, "Refused", exc.reason)

    return wrapped
