"""The account page's Pulse form: a manager rates the account 0 to 5 and says why.

A form (POST, with the session's CSRF token, as every dashboard form) answered by a redirect
back to the account (Post/Redirect/Get). The Pulse is kept by store/records/pulses.py's
`record_pulse`, the function PUT /v1/accounts/{uid}/pulse calls, with the user's e-mail
address as its author; the account's health history takes it in at the next run of the
periodic task, and the page shows it at once (the profile reads the latest Pulse).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.read.profiles import account_row
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.pulses import MAX_REASON, record_pulse
from salesmachine_server.web.access import PageNotFound, dashboard, page_handler
from salesmachine_server.web.forms import checked_form
from salesmachine_server.web.numbers import whole_number
from salesmachine_server.web.templating import path_part


def refusal(score_text: str, reason: str) -> str | None:
    """Why the form cannot be kept, naming the field; None when it can."""
    if whole_number(score_text.strip(), 0, 5) is None:
        return "score must be a whole number from 0 to 5"
    if not reason.strip():
        return "reason must say why (a Pulse without a reason tells the next person nothing)"
    if len(reason) > MAX_REASON or "\x00" in reason:
        return f"reason must be text of at most {MAX_REASON} characters"
    return None


@page_handler
async def pulse_submit(request: Request) -> Response:
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    uid, score_text, reason = form.get("account_uid", ""), form.get("score", ""), form.get("reason", "")
    project_id = dash.project.id
    row = await dash.run(lambda conn: account_row(conn, project_id, uid)) if "\x00" not in uid else None
    if row is None:
        raise PageNotFound(f"No account has the uid {uid!r}.")
    why = refusal(score_text, reason)
    if why is not None:
        return await dash.page("error.html", "accounts", {"title": "Pulse not saved", "message": why}, status=400)
    score = whole_number(score_text.strip(), 0, 5)
    assert score is not None  # refusal() checked it
    author = dash.session.email
    await on_thread(record_pulse, dash.engines.writer, project_id, row.id, score, reason.strip(), author, utcnow())
    return RedirectResponse(dash.url(f"/accounts/{path_part(uid)}?pulse=saved#pulse"), status_code=303)
