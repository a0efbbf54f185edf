"""The project a request is about, with what every read of it needs: its time zone, today
there, its health rule, and the engines to query it on. Built here, once, for the read API
(api/context.py) and for the dashboard (web/access.py), from the project each of them admitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection
from starlette.requests import Request

from salesmachine_server.domain.timezones import local_today
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.db.engine import Engines
from salesmachine_server.store.read.activity import Window
from salesmachine_server.store.records.projects import Project

T = TypeVar("T")


@dataclass(frozen=True)
class ProjectContext:
    project: Project
    zone: ZoneInfo  # the project's time zone: its calendar days
    window: Window  # today in that zone, and the project's health rule
    engines: Engines

    async def run(self, query: Callable[[Connection], T]) -> T:
        """Run a query function on a reader connection, off the event loop."""
        return await on_connection(self.engines.reader, query)


def project_context(request: Request, project: Project) -> ProjectContext:
    """The context of `project`, read at the time of `request` (today is today now)."""
    tz = project.settings.zone
    window = Window(today=local_today(tz), rule=project.settings.health)
    return ProjectContext(project, tz, window, app_state(request).engines)
