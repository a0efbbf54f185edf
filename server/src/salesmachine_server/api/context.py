"""What every read endpoint needs: the project, its health rule and today, and a thread to
run the blocking query on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from salesmachine_server.api.access import reader
from salesmachine_server.errors import ApiError
from salesmachine_server.store.records.projects import Project
from salesmachine_server.store.read.queries import Window
from salesmachine_server.domain.timezones import local_today
T = TypeVar("T")


class ReadContext:
    def __init__(self, request: Request, project: Project) -> None:
        self.request = request
        self.project = project
        self.zone = project.settings.zone
        self.window = Window(today=local_today(self.zone), rule=project.settings.health)

    async def run(self, query: Callable[[Connection], T]) -> T:
        """Run a query function on a reader connection, off the event loop."""

        def with_connection() -> T:
            with self.request.app.state.engines.reader.connect() as conn:
                return query(conn)

        return await run_in_threadpool(with_connection)


async def read_context(request: Request) -> ReadContext:
    return ReadContext(request, await reader(request))


def path_uid(request: Request, name: str) -> str:
    """A uid from the path, percent-decoded (sent_paths.EncodedRoute); one whose bytes are
    not UTF-8, or that holds NUL (no uid does: PostgreSQL refuses it), is refused by name."""
    value: Any = request.path_params[name]
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"the {name} in the path is not UTF-8 once percent-decoded", field=name,
                       rule="utf8") from None
    if "\x00" in text:
        raise ApiError(400, f"the {name} in the path must not contain the NUL character (%00)", field=name,
                       rule="no_nul")
    return text
