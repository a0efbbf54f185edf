"""JSON answers of the read API: times as ISO-8601 UTC with a Z, dates as YYYY-MM-DD.

A typed answer (api/models.py) is encoded by msgspec: its times are aware UTC datetimes, which
msgspec writes with a Z, as orjson writes the store's naive UTC ones with the options below
(`dumps`, for what is not typed: export lines and cells)."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=_OPTIONS)


_ENCODER = msgspec.json.Encoder()


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(dumps(body), status_code=status, media_type="application/json")


def model_answer(body: msgspec.Struct, status: int = 200) -> Response:
    """A typed answer of api/models.py."""
    return Response(_ENCODER.encode(body), status_code=status, media_type="application/json")
