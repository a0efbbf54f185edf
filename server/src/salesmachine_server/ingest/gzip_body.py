"""A body sent with `Content-Encoding: gzip`, inflated within the body limit.

Segment-spec clients may compress their batches (rudder-sdk-python does by default). A few
kilobytes of gzip can inflate to gigabytes, so the output is bounded by the same limit as a
plain body: over it, 413, whatever the compressed size was.
"""

from __future__ import annotations

import zlib

from salesmachine_server.errors import ApiError
from salesmachine_server.ingest.body import too_large

GZIP_WINDOW = 16 + zlib.MAX_WBITS  # zlib's way of saying: a gzip header and trailer


def content_coding(header: str | None) -> str:
    """The body's coding: "identity" or "gzip" (400 for any other)."""
    coding = (header or "identity").strip().lower()
    if coding not in ("identity", "gzip", "x-gzip"):
        raise ApiError(
            400,
            f"Content-Encoding must be gzip or identity, got {coding[:40]!r}",
            field="content-encoding",
            rule="one_of",
        )
    return "identity" if coding == "identity" else "gzip"


def inflate(body: bytes, limit: int) -> bytes:
    """The gzip `body` inflated; 413 when that is over `limit` bytes, 400 when it is not gzip."""
    inflater = zlib.decompressobj(GZIP_WINDOW)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, f"the body is not valid gzip: {exc}", field="body", rule="gzip") from None
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise too_large(limit)
    if not inflater.eof:
        raise ApiError(400, "the gzip body ends before its end", field="body", rule="gzip")
    return inflated
