"""Who may read: the project's token and secret together (HTTP Basic token:secret)."""

from __future__ import annotations

from starlette.requests import Request

from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.endpoints import credentials_for, refuse_in_maintenance
from salesmachine_server.serving.credentials import CHALLENGE
from salesmachine_server.store.records.projects import Project


async def reader(request: Request) -> Project:
    """The project whose data this request may read, or 401."""
    refuse_in_maintenance(request)
    credentials = await credentials_for(request)
    if not credentials.can_read:
        raise ApiError(
            401,
            "reading needs the project token and secret together: HTTP Basic token:secret",
            field="authorization",
            rule="token_and_secret",
            headers=CHALLENGE,
        )
    return credentials.project
