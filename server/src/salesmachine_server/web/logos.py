"""Account logos from their domain, with the initials of their name as the fallback.

The dashboard makes no request to another site (no logo service, no CDN): a logo is shown only
when a file for the account's domain is present locally, in SALESMACHINE_LOGO_DIR (default
./data/logos), named after the domain: `acme.com.png` (or .svg, .jpg, .webp). The domain is the
account's (enrich/domains.py: `domain`, else `website_url`, else its contacts' company e-mail
domain); without a file for it every account gets its initials on a colour of its own.

A logo file is the operator's, but it may come from anywhere (an SVG can carry a script): it is
served with a Content-Security-Policy that runs nothing and sandboxes the document, and
`nosniff`, so opened on its own it cannot act in the dashboard's origin. And it goes only to a
member of a project that has an account of that domain (store/read/logo_domains.py): which customers
a project has is not for other projects' users to probe.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from salesmachine_server.enrich.domains import domain_from_params
from salesmachine_server.serving.state import app_state
from salesmachine_server.serving.threads import on_connection
from salesmachine_server.store.read.logo_domains import projects_have_domain
from salesmachine_server.store.records.users import project_ids_of
from salesmachine_server.web.access import current_session

EXTENSIONS = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".webp": "image/webp"}
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")
COLOURS = 8
# An image needs no script, frame or connection; `sandbox` also gives an SVG opened on its own
# an opaque origin. Inline styles are allowed: SVG files from design tools use them.
LOGO_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, max-age=86400",
}


def logo_dir() -> Path:
    return Path(os.environ.get("SALESMACHINE_LOGO_DIR", "data/logos"))


def initials(name: str) -> str:
    """'Tesla Motors' -> 'TM', 'acme' -> 'AC', '' -> '?'."""
    words = [w for w in re.split(r"[\s_.\-]+", name.strip()) if w]
    if not words:
        return "?"
    if len(words) == 1:
        return words[0][:2].upper()
    return (words[0][0] + words[1][0]).upper()


@dataclass(frozen=True)
class Logo:
    initials: str
    colour: int  # CSS class avatar-cN: a stable colour per name, so an account is recognisable
    image: str | None  # URL of a local logo file, when there is one

    @classmethod
    def of(cls, params: dict[str, Any], fallback: str = "", domain: str | None = None) -> Logo:
        """`domain`: the account's, when known (reads.account_domains); else read from params."""
        name = params.get("name") if isinstance(params.get("name"), str) else None
        label = name or fallback
        colour = hashlib.sha256(label.encode()).digest()[0] % COLOURS
        domain = domain or domain_from_params(params)
        image = None
        if domain is not None:
            for extension in EXTENSIONS:
                if (logo_dir() / f"{domain}{extension}").is_file():
                    image = f"/logos/{domain}{extension}"
                    break
        return cls(initials(label), colour, image)


async def logo_file(request: Request) -> Response:
    """A local logo, to members of a project with an account of that domain; to anyone else the
    same 404 as for a logo that does not exist."""
    session = await current_session(request)
    if session is None:
        return Response(status_code=404)
    name = str(request.path_params["name"])
    stem, extension = os.path.splitext(name)
    path = logo_dir() / name
    if extension not in EXTENSIONS or not _DOMAIN.match(stem) or not path.is_file():
        return Response(status_code=404)

    def allowed(conn: Connection) -> bool:
        return projects_have_domain(conn, project_ids_of(conn, session.user_id), stem)

    if not await on_connection(app_state(request).engines.reader, allowed):
        return Response(status_code=404)
    return FileResponse(path, media_type=EXTENSIONS[extension], headers=LOGO_HEADERS)
