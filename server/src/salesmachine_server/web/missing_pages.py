"""Addresses under /p/ that name no page: the dashboard's "not found" page, as a person who
mistyped an address or followed an old link expects, rather than the API's JSON 404.

Inside a project the user is a member of, the page keeps the header and sidebar, to go on from
there; anywhere else it is the bare page, the same for a project that does not exist as for one
the user does not see (ids reveal nothing). Signed out, the browser is sent to sign in first, as
for every page under /p/.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from salesmachine_server.web.access import NotSignedIn, current_session, dashboard, error_page, page_handler

TITLE = "Not found"
MESSAGE = "There is no such page: the address may be mistyped, or the link old."


@page_handler
async def in_project(request: Request) -> Response:
    dash = await dashboard(request)  # signed out: sign in; not a member: the bare page (PageNotFound)
    return await dash.page("error.html", "", {"title": TITLE, "message": MESSAGE}, status=404)


@page_handler
async def outside_projects(request: Request) -> Response:
    rest = str(request.path_params["rest"])
    if rest.isascii() and rest.isdigit():  # /p/1: the project's home is /p/1/
        return RedirectResponse(f"/p/{rest}/", status_code=303)
    if await current_session(request) is None:
        raise NotSignedIn()
    return error_page(404, TITLE, MESSAGE)
