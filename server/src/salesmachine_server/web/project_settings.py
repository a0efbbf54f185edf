"""Settings: the project's token, its secret (revealed on request), the snippet to paste with
this server's address, the health thresholds and the time zone.

Revealing the secret is a form (POST, with the session's CSRF token), answered by a redirect to
the settings page (Post/Redirect/Get): the browser ends on a GET it can reload, without "confirm
form resubmission". The secret never travels in an address: the POST leaves a short-lived
cookie, a mark bound to the session and the project, and the next settings page shows the
secret and clears the mark. So the secret appears once, on a page sent `Cache-Control:
no-store` (every dashboard page is); a reload shows the button again.

The form's values are checked by domain/project_settings, as `salesmachine projects configure`'s
are: the same bad value gets the same refusal in both. Changing the time zone recounts the
project's active days in the new zone (store/write/contact_days.rebuild_contact_days), as
`salesmachine projects configure --timezone` does: a day is a calendar day where the customer's
team lives, and health follows from it.
"""

from __future__ import annotations

import hashlib
import hmac
import zoneinfo
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.domain.project_settings import THRESHOLDS, SettingsRefused, applied, changed
from salesmachine_server.domain.retention import FIELD as RETENTION_FIELD
from salesmachine_server.domain.retention import MAX_DAYS as RETENTION_MAX_DAYS
from salesmachine_server.domain.smtp_settings import NOT_CONFIGURED
from salesmachine_server.keys import derive_secret
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import update_settings, utcnow
from salesmachine_server.store.records.smtp_settings import smtp_of
from salesmachine_server.store.write.contact_days import rebuild_contact_days, refresh_health_marks
from salesmachine_server.web.access import Dashboard, dashboard, page_handler
from salesmachine_server.web.forms import checked_form

# The API document's snippet, with the host and token filled in.
SNIPPET = """<script type="text/javascript">
var salesmachine = salesmachine || [];
salesmachine.Settings = function(apiToken, options) {
var script = document.createElement('script');
script.type = 'text/javascript';
script.async = true;
script.src = "%(base)s/javascripts/salesmachine.min.js";
var firstScript = document.getElementsByTagName('script')[0];
firstScript.parentNode.insertBefore(script, firstScript);
var methodFactory = function (type) {
return function () {
salesmachine.push([type].concat(Array.prototype.slice.call(arguments, 0)));
};
};
var methods = ['init', 'salesmachine', 'pageview', 'account', 'contact', 'track'];
for (var i = 0; i < methods.length; i++) {
salesmachine[methods[i]] = methodFactory(methods[i]);
}
salesmachine.init(apiToken, options);
};
salesmachine.Settings("%(token)s", {});
</script>"""

# The mark "show the secret on the next settings page": a cookie of the settings page only, for
# a minute at most, worthless without the session it is derived from (it is not the secret).
REVEAL_COOKIE = "sm_reveal"
REVEAL_SECONDS = 60


@cache
def time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def snippet(request: Request, token: str) -> str:
    base = f"{request.url.scheme}://{request.url.netloc}"
    return SNIPPET % {"base": base, "token": token}


async def _page(dash: Dashboard, values: dict[str, Any], status: int = 200) -> Response:
    smtp = await dash.run(lambda conn: smtp_of(conn, dash.project.id))  # its section: web/smtp_form.py
    return await dash.page(
        "settings.html",
        "settings",
        {
            "snippet": snippet(dash.request, dash.project.token),
            "rule": dash.project.settings.health,
            "timezone": dash.zone.key,
            "time_zones": time_zones(),
            "identity_verification": dash.project.settings.identity_verification,
            "retention_days": dash.project.settings.retention_days,
            "retention_max_days": RETENTION_MAX_DAYS,
            "secret": None,
            "errors": [],
            "saved": dash.request.query_params.get("saved") == "1",
            "smtp": smtp.shown() if smtp is not None else NOT_CONFIGURED,
            "smtp_errors": [],
            "smtp_saved": dash.request.query_params.get("smtp") == "saved",
            **values,
        },
        status=status,
    )


def _reveal_mark(dash: Dashboard) -> str:
    """The reveal cookie's value for this session and project (keyed by the session's own
    random CSRF token: another session's mark, or a forged one, shows nothing)."""
    message = f"reveal the secret of project {dash.project.id}".encode()
    return hmac.new(dash.session.csrf_token.encode(), message, hashlib.sha256).hexdigest()


@page_handler
async def settings_page(request: Request) -> Response:
    dash = await dashboard(request)
    mark = request.cookies.get(REVEAL_COOKIE)
    if not mark:
        return await _page(dash, {})
    if hmac.compare_digest(mark, _reveal_mark(dash)):
        response = await _revealed(dash)
    else:
        response = await _page(dash, {})
    response.delete_cookie(REVEAL_COOKIE, path=dash.url("/settings"), httponly=True, samesite="strict")
    return response


async def _revealed(dash: Dashboard) -> Response:
    secret = derive_secret(app_state(dash.request).server_key, dash.project.token)
    if not dash.project.secret_matches(secret):
        return await _page(
            dash,
            {
                "errors": [
                    "This server's key did not issue this project's secret (was the key file replaced?): "
                    "it cannot be shown."
                ]
            },
            status=409,
        )
    return await _page(dash, {"secret": secret})


@page_handler
async def reveal_secret(request: Request) -> Response:
    """Asks the next settings page to show the secret, then sends the browser there (the
    module's docstring says why this way)."""
    dash = await dashboard(request)
    await checked_form(request, dash.session.csrf_token)
    response = RedirectResponse(dash.url("/settings"), status_code=303)
    # Not `Secure`: the mark alone reveals nothing, and the session cookie it needs is Secure
    # wherever the dashboard is reached over HTTPS.
    response.set_cookie(
        REVEAL_COOKIE,
        _reveal_mark(dash),
        max_age=REVEAL_SECONDS,
        path=dash.url("/settings"),
        httponly=True,
        samesite="strict",
    )
    return response


@page_handler
async def save_settings(request: Request) -> Response:
    dash = await dashboard(request)
    form = await checked_form(request, dash.session.csrf_token)
    # Every field of the form is part of the change (a missing one is refused, as an empty one),
    # but retention: a form without its field (an older page) leaves it as it is.
    change: dict[str, Any] = {
        "health": {name: form.get(name, "") for name in THRESHOLDS},
        "timezone": form.get("timezone", ""),
    }
    if RETENTION_FIELD in form:
        change[RETENTION_FIELD] = form[RETENTION_FIELD]
    try:  # checked here first, to answer the form without a write transaction
        settings = changed(dash.project.settings, change)
    except SettingsRefused as refused:
        return await _page(dash, {"errors": [refusal.message for refusal in refused.refusals]}, status=400)
    writer = dash.engines.writer
    changed_zone = settings.timezone != dash.zone.key
    rule = settings.health
    changed_marks = (rule.good_above, rule.bad_at_most) != (dash.window.rule.good_above, dash.window.rule.bad_at_most)
    await on_thread(update_settings, writer, dash.project.name, change)
    await on_thread(
        audit_log.record_settings_change,
        writer,
        dash.project.id,
        f"user:{dash.session.email}",
        applied(settings, change),
        "dashboard",
        utcnow(),
    )
    app_state(request).projects.forget(dash.project.id)  # the API of this process applies them at once
    if changed_zone:  # recomputes the health marks too
        await on_thread(rebuild_contact_days, writer, dash.project.id, settings.timezone)
    elif changed_marks:
        await on_thread(refresh_health_marks, writer, dash.project.id)
    return RedirectResponse(dash.url("/settings?saved=1"), status_code=303)


async def settings_page_with(dash: Dashboard, values: dict[str, Any], status: int = 200) -> Response:
    """The settings page with these values: how another section's form (web/smtp_form.py)
    answers with its errors."""
    return await _page(dash, values, status)
