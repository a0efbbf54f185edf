"""JSON answers of the read API: times as ISO-8601 UTC with a Z, dates as YYYY-MM-DD."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=_OPTIONS)


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")
