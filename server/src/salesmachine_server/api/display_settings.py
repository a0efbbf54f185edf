"""GET and PUT /v1/settings/display (token and secret): how the dashboard reads the project's
data, one small JSON document beside /v1/settings/health:

    {"currency": "EUR", "renewal_attribute": "renewal_date"}

`currency` is an ISO 4217 code (default USD): every amount of the dashboard is written in it.
`renewal_attribute` names the accounts' attribute holding their next renewal date (null: none),
which Home's renewals read. PUT takes the whole document (a key left out takes its default);
domain/project_settings.py checks it, as it does the settings page's form and `projects
configure`, so the same bad value is refused in the same words (a 400 naming field and rule).
The change is kept in the audit log; nothing stored is recomputed.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server.api.context import read_context
from salesmachine_server.api.render import json_answer
from salesmachine_server.domain.project_settings import (
    CURRENCY,
    RENEWAL,
    ProjectSettings,
    SettingsRefused,
    applied,
    changed,
)
from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.body import read_body
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import update_settings, utcnow

KEYS = (CURRENCY, RENEWAL)
MAX_BODY_BYTES = 16 * 1024


def document(settings: ProjectSettings) -> dict[str, Any]:
    return {CURRENCY: settings.currency, RENEWAL: settings.renewal_attribute}


async def get_display(request: Request) -> Response:
    context = await read_context(request)
    return json_answer(document(context.project.settings))


async def put_display(request: Request) -> Response:
    context = await read_context(request)
    try:
        body = orjson.loads(await read_body(request, MAX_BODY_BYTES))
    except orjson.JSONDecodeError:
        raise ApiError(400, "the body must be a JSON document", field="body", rule="json") from None
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be an object: {"currency": "EUR", ...}', field="body", rule="object")
    unknown = sorted(set(body) - set(KEYS))
    if unknown:
        message = f"{unknown[0]} is not a display setting: {', '.join(KEYS)}"
        raise ApiError(400, message, field=unknown[0], rule="known_setting")
    change = {key: body.get(key) for key in KEYS}  # the whole document: a key left out is reset
    project = context.project
    try:
        settings = changed(project.settings, change)
    except SettingsRefused as refused:
        first = refused.refusals[0]
        raise ApiError(400, str(refused), field=first.field, rule=first.rule) from None
    engine = app_state(request).engines.writer
    await on_thread(update_settings, engine, project.name, change)
    await on_thread(
        audit_log.record_settings_change,
        engine,
        project.id,
        f"api:{project.token}",
        applied(settings, change),
        "api",
        utcnow(),
    )
    app_state(request).projects.forget(project.id)
    return json_answer(document(settings))
