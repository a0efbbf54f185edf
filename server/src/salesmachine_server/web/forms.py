"""Reading the dashboard's HTML forms, and refusing the ones another site made the browser send.

Every form carries a CSRF token: the sign-in form a token also set in a short-lived cookie
(double submit; there is no session yet), every other form the token of the signed-in session.
A request whose Origin header names another site is refused before that, whatever it carries.
Forms are URL-encoded and small, so they are parsed here without a multipart library.
"""

from __future__ import annotations

import secrets
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request

MAX_FORM_BYTES = 64 * 1024


class FormRefused(Exception):
    """A form that must not be acted on; `reason` says why, for the 403 page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form (the last value of a repeated name)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise FormRefused("the dashboard takes forms as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormRefused("the form is too large")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise FormRefused("the form is not UTF-8") from None


def check_origin(request: Request) -> None:
    """Refuse a form sent from a page of another origin (when the browser says where from)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    # Host and port only: behind a proxy that ends TLS, this server sees http where the browser
    # says https, and that is the same site.
    if urlsplit(origin).netloc != urlsplit(str(request.url)).netloc:
        raise FormRefused("this form was sent from another site")


def check_token(form: dict[str, str], expected: str | None) -> None:
    """The form's `csrf` field must be the token this browser was given."""
    sent = form.get("csrf", "")
    if not expected or not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise FormRefused("this form has expired or did not come from this dashboard: reload the page and try again")


async def checked_form(request: Request, expected_token: str | None) -> dict[str, str]:
    """A form that passed the origin and token checks."""
    check_origin(request)
    form = await read_form(request)
    check_token(form, expected_token)
    return form
