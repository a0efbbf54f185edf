"""What every read endpoint starts from: the project the credentials admit, in its context
(serving/project_context.py, shared with the dashboard), and the uids of its path."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from salesmachine_server.api.access import reader
from salesmachine_server.errors import ApiError
from salesmachine_server.serving.project_context import ProjectContext, project_context


async def read_context(request: Request) -> ProjectContext:
    """The project this request may read (401 otherwise), in its context."""
    return project_context(request, await reader(request))


def path_uid(request: Request, name: str) -> str:
    """A uid from the path, percent-decoded (sent_paths.EncodedRoute); one whose bytes are
    not UTF-8, or that holds NUL (no uid does: PostgreSQL refuses it), is refused by name."""
    value: Any = request.path_params[name]
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            400, f"the {name} in the path is not UTF-8 once percent-decoded", field=name, rule="utf8"
        ) from None
    if "\x00" in text:
        raise ApiError(
            400, f"the {name} in the path must not contain the NUL character (%00)", field=name, rule="no_nul"
        )
    return text
