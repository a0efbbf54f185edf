"""GET /v1/contacts, /v1/contacts/{uid}, /v1/accounts, /v1/accounts/{uid}."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api import shapes
from salesmachine_server.api.context import path_uid, read_context
from salesmachine_server.api.list_queries import list_query
from salesmachine_server.api.render import model_answer
from salesmachine_server.domain.list_query import Subject
from salesmachine_server.errors import ApiError
from salesmachine_server.store.read.lists import list_accounts, list_contacts
from salesmachine_server.store.read.profiles import account_domains, account_profile, contact_profile


async def contact(request: Request) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    profile = await context.run(lambda conn: contact_profile(conn, context.project.id, uid, context.window))
    if profile is None:
        raise ApiError(404, f"no contact has the uid {uid!r}", field="uid", rule="exists")
    return model_answer(shapes.contact(profile, context.window.rule))


async def account(request: Request) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    profile = await context.run(lambda conn: account_profile(conn, context.project.id, uid, context.window))
    if profile is None:
        raise ApiError(404, f"no account has the uid {uid!r}", field="uid", rule="exists")
    return model_answer(shapes.account(profile, context.window.rule))


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
