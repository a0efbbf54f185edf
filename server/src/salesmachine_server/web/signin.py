"""Signing in and out, and `/`, which sends each user to their first project.

The session cookie is HttpOnly (scripts cannot read it), SameSite=Lax (other sites' forms and
scripts do not carry it; a link from an e-mail still opens the dashboard signed in), and Secure
when the dashboard is reached over HTTPS. The sign-in form is protected by a double-submit token:
there is no session yet, so the token lives in a short cookie of its own, scoped to /signin.

Wrong passwords are throttled per account and per client address (store/records/sign_in_attempts.py):
past a few failures the form answers 429 with Retry-After, without checking the password. The
password's check (argon2, deliberately slow) runs on a worker thread, off the event loop.
"""

from __future__ import annotations

import math
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.ingest.client_ip import behind_trusted_proxy, request_client_ip
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_thread
from salesmachine_server.store.records import audit_log
from salesmachine_server.store.records.projects import utcnow
from salesmachine_server.store.records.sign_in_attempts import begin_attempt, succeeded
from salesmachine_server.store.records.users import authenticate
from salesmachine_server.store.records.web_sessions import LIFETIME, end_session, start_session
from salesmachine_server.web.access import SESSION_COOKIE, current_session, error_page, page_handler, projects_of
from salesmachine_server.web.forms import checked_form
from salesmachine_server.web.templating import render

SIGNIN_COOKIE = "sm_signin"


def _secure(request: Request) -> bool:
    """Reached over HTTPS: directly, or through a trusted proxy that ended TLS and said so in
    X-Forwarded-Proto (the proxies of SALESMACHINE_TRUSTED_PROXIES; from anyone else the header
    is ignored, like X-Forwarded-For)."""
    if request.url.scheme == "https":
        return True
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https" and behind_trusted_proxy(request.scope, app_state(request).settings.trusted_proxies)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never //other.site or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _signin_form(request: Request, error: str | None = None, email: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        "signin.html",
        {"csrf": token, "error": error, "email": email, "next": safe_next(request.query_params.get("next"))},
        status=status,
    )
    response.set_cookie(
        SIGNIN_COOKIE, token, max_age=3600, path="/signin", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@page_handler
async def signin_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _signin_form(request)


@page_handler
async def signin_submit(request: Request) -> Response:
    form = await checked_form(request, request.cookies.get(SIGNIN_COOKIE))
    email = form.get("email", "")
    engines = app_state(request).engines
    client = request_client_ip(request.scope, app_state(request).settings.trusted_proxies)
    attempt = await on_thread(begin_attempt, engines.writer, email, client)
    if attempt.retry_after:
        minutes = math.ceil(attempt.retry_after / 60)
        response = _signin_form(
            request,
            f"Too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            email=email,
            status=429,
        )
        response.headers["Retry-After"] = str(attempt.retry_after)
        return response
    user = await on_thread(authenticate, engines.reader, email, form.get("password", ""))
    await on_thread(audit_log.record_sign_in, engines.writer, email, user is not None, client, utcnow())
    if user is None:
        return _signin_form(request, "Wrong e-mail or password.", email=email, status=401)
    await on_thread(succeeded, engines.writer, attempt)
    token, _session = await on_thread(start_session, app_state(request).engines.writer, user.id)
    response = RedirectResponse(safe_next(form.get("next")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@page_handler
async def signout(request: Request) -> Response:
    session = await current_session(request)
    if session is not None:
        await checked_form(request, session.csrf_token)
        await on_thread(end_session, app_state(request).engines.writer, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@page_handler
async def root(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/signin", status_code=303)
    projects = await projects_of(request, session)
    if not projects:
        return error_page(
            403,
            "No project yet",
            "You are not a member of any project: ask an administrator to run "
            f"`salesmachine users grant {session.email} --project NAME`.",
        )
    return RedirectResponse(f"/p/{projects[0].id}/", status_code=303)
