"""Data rights over HTTP (docs/privacy.md), all with the project token and secret:
DELETE /v1/contacts/{uid} and /v1/accounts/{uid}: erase, answered with the signed receipt;
GET /v1/contacts/{uid}/export: everything held about a person, one JSON document, streamed;
GET /v1/audit: the project's audit log, newest first; GET /v1/suppressions: what erasures stop.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from salesmachine_server.api import shapes
from salesmachine_server.api.context import path_uid, read_context
from salesmachine_server.api.render import dumps, json_answer
from salesmachine_server.domain.uid_hashes import Kind, suppression_key, uid_hash
from salesmachine_server.errors import ApiError
from salesmachine_server.project.health_history import profile_health
from salesmachine_server.serving.erasures import erase
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.read.person_export import person, person_events
from salesmachine_server.store.read.profiles import contact_profile
from salesmachine_server.store.read.work_items import notes_of
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.suppressions import suppression_counts

AUDIT_PAGE = 100
CHUNK_BYTES = 64 * 1024


def api_actor(token: str) -> str:
    return f"api:{token}"


async def erase_contact(request: Request) -> Response:
    return await _erase(request, "contact")


async def erase_account(request: Request) -> Response:
    return await _erase(request, "account")


async def _erase(request: Request, kind: Kind) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    state = app_state(request)
    project = context.project
    receipt = await on_thread(erase, state.engines, state.server_key, project.id, kind, uid, api_actor(project.token))
    if receipt is None:
        raise ApiError(404, f"no {kind} has the uid {uid!r}", field="uid", rule="exists")
    state.suppressed_uids.forget(project.id)
    return json_answer(receipt)


async def export_contact(request: Request) -> Response:
    context = await read_context(request)
    uid = path_uid(request, "uid")
    state = app_state(request)
    project = context.project
    engine = state.engines.reader
    found = await on_thread(person, engine, project.id, uid)
    profile = await context.run(lambda conn: contact_profile(conn, project.id, uid, context.window))
    if found is None or profile is None:
        raise ApiError(404, f"no contact has the uid {uid!r}", field="uid", rule="exists")
    health = await context.run(lambda conn: profile_health(conn, project.id, "contact", profile.row.id))
    hashed = uid_hash(suppression_key(state.server_key), "contact", found.contact["contact_uid"])
    await on_thread(
        audit_log.record_now,
        state.engines.writer,
        project.id,
        api_actor(project.token),
        audit_log.EXPORT,
        {"uid_hash": hashed},
        utcnow(),
    )
    head = {
        "exported_at": utcnow(),
        "project": project.name,
        "profile": msgspec.to_builtins(shapes.contact(profile, health)),
        "contact": found.contact,
        "uids": found.uids,
        "accounts": found.accounts,
        "mrr_history": found.mrr_history,
        "notes": [
            {"author": n.author, "body": n.body, "created_at": n.created_at, "updated_at": n.updated_at}
            for n in await context.run(lambda conn: notes_of(conn, project.id, "contact", found.contact_id))
        ],
    }
    body = _document(head, person_events(engine, found.contact_id))
    filename = f"{project.name}-contact-export.json".replace('"', "")
    return StreamingResponse(
        body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


def _document(head: dict[str, Any], events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """`head` as a JSON object whose last member, "events", is the array of `events`, written as
    they are read, in chunks of about 64 KiB (one thread step per chunk, not per event)."""
    yield dumps(head)[:-1] + b',"events":['
    parts: list[bytes] = []
    size, first = 0, True
    for event in events:
        part = dumps(event) if first else b"," + dumps(event)
        first = False
        parts.append(part)
        size += len(part)
        if size >= CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    yield b"".join(parts) + b"]}"


async def audit(request: Request) -> Response:
    context = await read_context(request)
    before = _optional_int(request, "before")
    limit = _optional_int(request, "limit") or AUDIT_PAGE
    if not 1 <= limit <= 1000:
        raise ApiError(400, "limit must be between 1 and 1000", field="limit", rule="range")
    entries = await context.run(
        functools.partial(audit_log.project_entries, project_id=context.project.id, limit=limit, before=before)
    )
    rows = [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "detail": e.detail} for e in entries]
    cursor = rows[-1]["id"] if len(rows) == limit else None
    return json_answer({"data": rows, "next_before": cursor})


async def suppressions(request: Request) -> Response:
    context = await read_context(request)
    counts = await context.run(lambda conn: suppression_counts(conn, context.project.id))
    mode = context.project.settings.suppressed_writes
    return json_answer({**counts, "suppressed_writes": mode})


def _optional_int(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ApiError(400, f"{name} must be a positive whole number", field=name, rule="integer")
    return int(value)
