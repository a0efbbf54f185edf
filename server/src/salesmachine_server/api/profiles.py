"""GET /v1/contacts, /v1/contacts/{uid}, /v1/accounts, /v1/accounts/{uid}."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import shapes
from salesmachine_server.api.context import path_uid, read_context
from salesmachine_server.api.list_queries import list_query
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain.list_query import Subject
from salesmachine_server.errors import ApiError
from salesmachine_server.project.health_history import ProfileHealth, profile_health
from salesmachine_server.store.read.lists import list_accounts, list_contacts
from salesmachine_server.store.read.profiles import (
    AccountProfile,
    ContactProfile,
    account_domains,
    account_profile,
    contact_profile,
)

P = TypeVar("P", ContactProfile, AccountProfile)


def _with_health(conn: Connection, profile: P | None, subject: str) -> tuple[P, ProfileHealth] | None:
    """A profile and its customer's health (project/health_history.py profile_health)."""
    if profile is None:
        return None
    return profile, profile_health(conn, profile.row.project_id, subject, profile.row.id)


async def contact(request: Request) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    project_id, window = context.project.id, context.window
    found = await context.run(
        lambda conn: _with_health(conn, contact_profile(conn, project_id, uid, window), "contact")
    )
    if found is None:
        raise ApiError(404, f"no contact has the uid {uid!r}", field="uid", rule="exists")
    return model_answer(shapes.contact(*found))


async def account(request: Request) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    project_id, window = context.project.id, context.window
    found = await context.run(
        lambda conn: _with_health(conn, account_profile(conn, project_id, uid, window), "account")
    )
    if found is None:
        raise ApiError(404, f"no account has the uid {uid!r}", field="uid", rule="exists")
    return model_answer(shapes.account(*found))


async def contacts(request: Request) -> Response:
    context = await read_context(request)
    query = list_query(request, Subject.CONTACTS)
    rows, cursor = await context.run(lambda conn: list_contacts(conn, context.project.id, query, context.window))
    return model_answer(shapes.contact_page(rows, cursor))


async def accounts(request: Request) -> Response:
    context = await read_context(request)
    query = list_query(request, Subject.ACCOUNTS)

    def run(conn):  # type: ignore[no-untyped-def]
        rows, cursor = list_accounts(conn, context.project.id, query, context.window)
        return rows, cursor, account_domains(conn, [(r.id, r.params) for r in rows])

    rows, cursor, domains = await context.run(run)
    return model_answer(shapes.account_page(rows, cursor, domains))
