"""GET and PUT /v1/settings/smtp: the project's SMTP server, for its e-mail deliveries (token and
secret). The password is written, never read back: answers say only whether one is set
(domain/smtp_settings.py has the document and its rules)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api.context import read_context
from salesmachine_server.api.data_rights import api_actor
from salesmachine_server.api.render import json_answer
from salesmachine_server.domain.project_settings import SettingsRefused
from salesmachine_server.domain.smtp_settings import NOT_CONFIGURED, changed_smtp
from salesmachine_server.errors import ApiError
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.smtp_settings import save_smtp, smtp_of

MAX_BODY_BYTES = 16 * 1024
SHOWN_AS = {"password": "password_set"}


async def get_smtp(request: Request) -> Response:
    context = await read_context(request)
    current = await context.run(lambda conn: smtp_of(conn, context.project.id))
    return json_answer(NOT_CONFIGURED if current is None else current.shown())


async def put_smtp(request: Request) -> Response:
    context = await read_context(request)
    change = await _document(request)
    project_id = context.project.id
    current = await context.run(lambda conn: smtp_of(conn, project_id))
    try:
        updated = changed_smtp(current, change)
    except SettingsRefused as refused:
        first = refused.refusals[0]
        raise ApiError(400, str(refused), field=first.field, rule=first.rule) from None
    writer = context.engines.writer
    await on_thread(save_smtp, writer, project_id, updated, utcnow())
    shown = updated.shown()
    # What changed, as it now stands; for the password only whether one is set.
    logged = {SHOWN_AS.get(name, name): shown[SHOWN_AS.get(name, name)] for name in change}
    await on_thread(
        audit_log.record_settings_change,
        writer,
        project_id,
        api_actor(context.project.token),
        {"smtp": logged},
        "api",
        utcnow(),
    )
    return json_answer(shown)


async def _document(request: Request) -> dict[str, Any]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"the body must be at most {MAX_BODY_BYTES} bytes", field="body", rule="max_bytes")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}", field="body", rule="json") from None
    if not isinstance(document, dict):
        raise ApiError(400, "the body must be a JSON object of SMTP settings", field="body", rule="object")
    return document
