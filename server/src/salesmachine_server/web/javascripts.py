"""The browser library at the address the snippet loads it from: /javascripts/salesmachine.min.js.

The file is built from sdks/js by sdks/js/build.sh and shipped inside the package, so the server
needs no node. The snippet's URL carries no version, so the answer may be cached only for an
hour; its ETag (a hash of the content) lets browsers revalidate it with a 304 after that.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

LIBRARY = Path(__file__).parent / "static" / "salesmachine.min.js"
MAX_AGE_SECONDS = 3600


@dataclass(frozen=True)
class Asset:
    body: bytes
    etag: str


@functools.cache
def library_asset() -> Asset:
    body = LIBRARY.read_bytes()
    return Asset(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison: `*`, or any listed tag equal to ours with or without W/."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


async def salesmachine_min_js(request: Request) -> Response:
    asset = library_asset()
    headers = {
        "Cache-Control": f"public, max-age={MAX_AGE_SECONDS}",
        "ETag": asset.etag,
        # Lets a page load it with `crossorigin` (for Subresource Integrity or error details).
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if etag_matches(request.headers.get("if-none-match"), asset.etag):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, headers=headers, media_type="text/javascript; charset=utf-8")
