"""Every accepted request form -> the JSON value it carries (docs/wire.md, Legacy transports).

- a JSON body, whatever its Content-Type says (curl's default form type, a beacon's text/plain),
  after a UTF-8 byte-order mark if there is one;
- `data=<base64 JSON>` (with `encode=base64`, the default) or `data=<JSON>` (`encode=none`), in
  the query string of a GET, or in an urlencoded or multipart form body; base64 may come
  wrapped in JSON quotes.
The credentials these forms carry (`api_token`) are read by `serving/credentials.py`.

Opening a request is two steps, so that its sender is known before its JSON is decoded:
`open_envelope` finds the `data` and `api_token` a form carries (cheap: a form has at most
MAX_FORM_FIELDS fields, counted before anything is split), and `Envelope.payload` decodes the
JSON, which can cost many times the body's size.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from salesmachine_server.errors import ApiError

JSON_TYPES = ("application/json", "text/json", "application/x-json")
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"
# The legacy clients send three fields (api_token, encode, data); a form of thousands of tiny
# fields only costs the server time and memory to split.
MAX_FORM_FIELDS = 64
BOM = b"\xef\xbb\xbf"


# In a request's scope: (body, its JSON value) when a shared path's endpoint decoded the body
# before handing the request to ours (ingest/segment_endpoints.py), so it is not decoded twice.
DECODED_BODY = "salesmachine.decoded_body"


@dataclass(frozen=True, slots=True)
class Envelope:
    """What a write request carries, opened but not yet decoded."""

    api_token: str | None
    data: str | None  # a legacy `data` field, from the query or a form
    encode: str | None
    body: bytes  # the JSON body, when there is no `data`
    kind: str  # the body's media type

    @property
    def size(self) -> int:
        return len(self.data or "") + len(self.body)

    def payload(self) -> Any:
        """The JSON value sent (400 or 406 naming the rule when it is not one)."""
        if self.data is not None:
            return _decode_data(self.data, self.encode)
        return _parse_json(self.body, self.kind)

    @property
    def sent(self) -> bytes | str:
        """What carries the JSON: kept (see sent_text) when it is refused."""
        return self.data if self.data is not None else self.body


def sent_text(sent: bytes | str, limit: int) -> str:
    """Bytes or text as storable text of at most `limit` characters: bytes that are not UTF-8
    shown as \\xNN, and NUL too (PostgreSQL's text refuses it)."""
    if isinstance(sent, bytes):
        sent = sent[:limit].decode("utf-8", "backslashreplace")
    return sent[:limit].replace("\x00", "\\x00")[:limit]


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def may_carry_credentials(query: dict[str, str], content_type: str | None) -> bool:
    """Whether the body may hold the `api_token` (a legacy form): only then must it be read
    before the credentials are known."""
    return "data" not in query and media_type(content_type) in (FORM_TYPE, MULTIPART_TYPE)


def open_envelope(query: dict[str, str], content_type: str | None, body: bytes) -> Envelope:
    """The `data`, `encode` and `api_token` of a write request, from whichever transport it
    used; a malformed form is refused (400) here, the JSON itself is not read."""
    if "data" in query:
        return Envelope(query.get("api_token"), query["data"], query.get("encode"), b"", "")
    kind = media_type(content_type)
    form: dict[str, str] = {}
    if kind == FORM_TYPE and not _looks_like_json(body):
        form = _parse_form(body)
    elif kind == MULTIPART_TYPE:
        form = _parse_multipart(content_type or "", body)
    api_token = form.get("api_token") or query.get("api_token")
    if "data" in form:
        return Envelope(api_token, form["data"], form.get("encode"), b"", kind)
    return Envelope(api_token, None, None, body, kind)


def _without_bom(raw: bytes) -> bytes | memoryview:
    # Windows tools (PowerShell, Notepad) begin UTF-8 text with a byte-order mark; JSON forbids
    # it, but it says nothing about the document. A view, not a copy of a large body.
    return memoryview(raw)[len(BOM) :] if raw.startswith(BOM) else raw


def _parse_json(body: bytes, kind: str) -> Any:
    if not body.strip():
        raise ApiError(400, "the request body is empty: send a JSON object", field="body", rule="required")
    try:
        return orjson.loads(_without_bom(body))
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
    start = body[len(BOM) : len(BOM) + 64] if body.startswith(BOM) else body[:64]
    return start.lstrip()[:1] in (b"{", b"[")


def _too_many_fields() -> ApiError:
    return ApiError(
        400,
        f"a form may carry at most {MAX_FORM_FIELDS} fields (api_token, encode, data)",
        field="body",
        rule="max_fields",
    )


def _parse_form(body: bytes) -> dict[str, str]:
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise _too_many_fields()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "the form body is not valid UTF-8", field="body", rule="utf8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


_BOUNDARY = re.compile(r'(?:^|;)\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.IGNORECASE)
_NAME = re.compile(rb'(?:^|;)\s*name\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))', re.IGNORECASE)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, str]:
    """The text fields of a multipart/form-data body (RFC 7578), found with a few searches of
    the body: at most MAX_FORM_FIELDS parts, whatever their size."""
    try:
        content_type.encode("ascii")
    except UnicodeEncodeError:
        raise ApiError(400, "the Content-Type header is not ASCII", field="content-type", rule="ascii") from None
    found = _BOUNDARY.search(content_type)
    boundary = (found.group(1) or found.group(2) or "") if found else ""
    if not boundary:
        raise ApiError(400, "the multipart body has no parts (is the boundary right?)", field="body", rule="multipart")
    fields: dict[str, str] = {}
    for part in _parts(body, b"--" + boundary.encode("ascii")):
        name, value = _field(part)
        if name is not None:
            fields[name] = value
    return fields


def _parts(body: bytes, dash: bytes) -> list[bytes]:
    """The parts between the delimiters (`--boundary` at the start of a line) up to the close
    delimiter (`--boundary--`) or the end of the body."""
    starts: list[int] = []
    at = 0 if body.startswith(dash) else _line_starting(body, dash, 0)
    while at != -1:
        if len(starts) > MAX_FORM_FIELDS:
            raise _too_many_fields()
        starts.append(at)
        if body.startswith(b"--", at + len(dash)):  # the close delimiter: the epilogue follows
            break
        at = _line_starting(body, dash, at + len(dash))
    parts = []
    for start, end in zip(starts, [*starts[1:], len(body)]):
        if body.startswith(b"--", start + len(dash)):
            break
        line_end = body.find(b"\n", start, end)
        if line_end == -1:
            continue
        part = body[line_end + 1 : end]
        if end < len(body):  # the line break before the next delimiter belongs to it
            part = part[:-2] if part.endswith(b"\r\n") else part[:-1]
        parts.append(part)
    return parts


def _line_starting(body: bytes, dash: bytes, start: int) -> int:
    found = body.find(b"\n" + dash, start)
    return -1 if found == -1 else found + 1


def _field(part: bytes) -> tuple[str | None, str]:
    """(name, text) of one part; the name is None for a part without one."""
    if part.startswith((b"\r\n", b"\n")):
        return None, ""  # no headers, so no name
    ends = [i for i in (part.find(b"\r\n\r\n"), part.find(b"\n\n")) if i != -1]
    if not ends:
        return None, ""
    end = min(ends)
    head, value = part[:end], part[end + (4 if part.startswith(b"\r\n\r\n", end) else 2) :]
    name: str | None = None
    encoding = b""
    for line in head.splitlines():
        key, _, rest = line.partition(b":")
        key = key.strip().lower()
        if key == b"content-disposition":
            found = _NAME.search(rest.strip().partition(b";")[2] if b";" in rest else b"")
            if found:
                raw_name = found.group(1) if found.group(1) is not None else found.group(2)
                name = re.sub(rb"\\(.)", rb"\1", raw_name).decode("utf-8", "replace")
        elif key == b"content-transfer-encoding":
            encoding = rest.strip().lower()
    if encoding == b"base64":
        try:
            value = base64.b64decode(b"".join(value.split()))
        except (binascii.Error, ValueError):
            raise ApiError(
                400, f"the multipart field {name!r} is not valid base64", field="body", rule="multipart"
            ) from None
    elif encoding == b"quoted-printable":
        value = quopri.decodestring(value)
    return name, value.decode("utf-8", "replace")


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
        return orjson.loads(_without_bom(raw))
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
