"""The settings page's SMTP section (templates/smtp_settings.html): the project's SMTP server for
e-mail deliveries, validated by domain/smtp_settings.py as `PUT /v1/settings/smtp` is. The
password field is never filled in: left empty, it keeps the password set."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.domain.project_settings import SettingsRefused
from salesmachine_server.domain.smtp_settings import FIELDS, changed_smtp
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.smtp_settings import save_smtp as save_smtp_row
from salesmachine_server.store.records.smtp_settings import smtp_of
from salesmachine_server.web.access import dashboard, page_handler
from salesmachine_server.web.forms import checked_form
from salesmachine_server.web.project_settings import settings_page_with


@page_handler
async def save_smtp(request: Request) -> Response:
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    change = {name: form.get(name, "") for name in FIELDS}
    current = await dash.run(lambda conn: smtp_of(conn, dash.project.id))
    try:
        updated = changed_smtp(current, change, keep_empty_password=True)
    except SettingsRefused as refused:
        return await settings_page_with(dash, {"smtp_errors": [r.message for r in refused.refusals]}, 400)
    await on_thread(save_smtp_row, dash.engines.writer, dash.project.id, updated, utcnow())
    shown = updated.shown()
    await on_thread(
        audit_log.record_settings_change,
        dash.engines.writer,
        dash.project.id,
        f"user:{dash.session.email}",
        {"smtp": {k: v for k, v in shown.items() if k != "configured"}},
        "dashboard",
        utcnow(),
    )
    return RedirectResponse(dash.url("/settings?smtp=saved#smtp-settings"), status_code=303)
