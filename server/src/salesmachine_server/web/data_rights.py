"""The dashboard's data rights: the erase button of contact and account pages (a form that
needs the uid typed again), the receipt it shows, and the project's audit log page.

An erasure from here runs as the API's does (serving/erasures.py), named "user:<email>".
"""

from __future__ import annotations

import functools
from typing import Literal

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.serving.erasures import erase
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import audit_log
from salesmachine_server.web.access import dashboard, page_handler
from salesmachine_server.web.forms import checked_form

AUDIT_PAGE = 100
KINDS: dict[str, Literal["contact", "account"]] = {"contact": "contact", "account": "account"}


def user_actor(email: str) -> str:
    return f"user:{email}"


@page_handler
async def erase_submit(request: Request) -> Response:
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    kind = KINDS.get(form.get("kind", ""))
    uid = form.get("uid", "")
    if kind is None or not uid:
        return await dash.page("erased.html", "audit", {"error": "The form names no contact or account."}, 400)
    if form.get("confirm", "") != uid:
        return await dash.page(
            "erased.html",
            "audit",
            {
                "kind": kind,
                "uid": uid,
                "error": f"Nothing was erased: type the {kind}'s uid exactly as shown to confirm.",
            },
            400,
        )
    state = app_state(request)
    receipt = await on_thread(
        erase, state.engines, state.server_key, dash.project.id, kind, uid, user_actor(dash.session.email)
    )
    if receipt is None:
        return await dash.page(
            "erased.html",
            "audit",
            {"kind": kind, "uid": uid, "error": f"No {kind} has this uid (already erased?)."},
            404,
        )
    state.suppressed_uids.forget(dash.project.id)
    return await dash.page(
        "erased.html",
        "audit",
        {"kind": kind, "receipt": receipt, "receipt_json": orjson.dumps(receipt, option=orjson.OPT_INDENT_2).decode()},
    )


@page_handler
async def audit_page(request: Request) -> Response:
    dash = await dashboard(request)
    before = request.query_params.get("before", "")
    entries = await dash.run(
        functools.partial(
            audit_log.project_entries,
            project_id=dash.project.id,
            limit=AUDIT_PAGE,
            before=int(before) if before.isdigit() else None,
        )
    )
    older = entries[-1].id if len(entries) == AUDIT_PAGE else None
    return await dash.page("audit.html", "audit", {"entries": entries, "older": older})
