"""Every accepted request form -> the JSON value it carries (docs/wire.md, Legacy transports).

- a JSON body, whatever its Content-Type says (curl's default form type, a beacon's text/plain);
- `data=<base64 JSON>` (with `encode=base64`, the default) or `data=<JSON>` (`encode=none`), in
  the query string of a GET, or in an urlencoded or multipart form body; base64 may come
  wrapped in JSON quotes.
The credentials these forms carry (`api_token`) are read by `auth.py`.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from email import policy
from email.parser import BytesParser
from urllib.parse import parse_qsl

import orjson

from salesmachine_server.errors import ApiError

JSON_TYPES = ("application/json", "text/json", "application/x-json")
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the request carries beyond its credentials header."""

    payload: Any
    api_token: str | None


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode(query: dict[str, str], content_type: str | None, body: bytes) -> Envelope:
    """The JSON value of a write request, from whichever transport it used."""
    if "data" in query:
        return Envelope(_decode_data(query["data"], query.get("encode")), query.get("api_token"))
    kind = media_type(content_type)
    form: dict[str, str] = {}
    if kind == FORM_TYPE and not _looks_like_json(body):
        form = _parse_form(body)
    elif kind == MULTIPART_TYPE:
        form = _parse_multipart(content_type or "", body)
    if "data" in form:
        return Envelope(_decode_data(form["data"], form.get("encode")), form.get("api_token") or query.get("api_token"))
    return Envelope(_parse_json(body, kind), query.get("api_token"))


def _parse_json(body: bytes, kind: str) -> Any:
    if not body.strip():
        raise ApiError(400, "the request body is empty: send a JSON object", field="body", rule="required")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if kind in JSON_TYPES or _looks_like_json(body):
            raise ApiError(400, f"the body is not valid JSON: {exc}", field="body", rule="json") from None
        raise ApiError(
            406,
            f"the body must be JSON (or a legacy form with a data field); got {kind or 'no content type'}",
            field="body",
            rule="json",
        ) from None


def _looks_like_json(body: bytes) -> bool:
    return body.lstrip()[:1] in (b"{", b"[")


def _parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the form body is not valid UTF-8", field="body", rule="utf8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (the standard library's MIME parser)."""
    try:
        head = f"Content-Type: {content_type}\r\n\r\n".encode("ascii")
    except UnicodeEncodeError:
        raise ApiError(400, "the Content-Type header is not ASCII", field="content-type", rule="ascii") from None
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "the multipart body has no parts (is the boundary right?)", field="body", rule="multipart")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace")
    return fields


def _decode_data(data: str, encode: str | None) -> Any:
    """`data` as base64 JSON (default) or plain JSON (`encode=none`)."""
    encoding = (encode or "base64").lower()
    if encoding == "none":
        raw = data.encode("utf-8")
    elif encoding == "base64":
        raw = _unbase64(data)
    else:
        raise ApiError(400, f"encode must be base64 or none, got {encode!r}", field="encode", rule="one_of")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"data is not valid JSON: {exc}", field="data", rule="json") from None


def _unbase64(data: str) -> bytes:
    text = data.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    # Query strings turn '+' into ' '; some clients use the URL-safe alphabet.
    text = "".join(text.replace(" ", "+").split())
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "data is not valid base64", field="data", rule="base64") from None
