"""The OpenAPI 3.1 description of the API (`GET /openapi.json`) and a page of it for people
(`GET /docs`).

Written by hand rather than generated from the routes: a write endpoint takes its body raw
(wire.py reads every form the clients in the field send), so nothing in the code declares what
a body holds. What it holds is WIRE.md and docs/api.md; this module says the same in a form
tools read, and the tests hold the server to it (tests/test_schemathesis.py). The limits come
from the running server's settings, so the description matches the server that serves it.

The docs page is rendered on the server from the same dictionary: no script, no stylesheet
from elsewhere (the server may have no internet), nothing to build.
"""

from __future__ import annotations

import html
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from salesmachine_server import __version__
from salesmachine_server.errors import CODES
from salesmachine_server.ingest.messages import BATCH_METHODS, MAX_UID_LENGTH
from salesmachine_server.settings import Settings

Schema = dict[str, Any]

# -- helpers ----------------------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def described(schema: Schema, description: str, **extra: Any) -> Schema:
    return {**schema, "description": description, **extra}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object schema; unknown keys are allowed unless `extra` says otherwise (WIRE.md:
    unknown top-level keys are ignored, never an error)."""
    schema: Schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return schema


def json_content(schema: Schema, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def response(description: str, schema: Schema | None = None, headers: tuple[str, ...] = (),
             example: Any = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = json_content(schema, example)
    if headers:
        answer["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return answer


def error(description: str, *headers: str) -> dict[str, Any]:
    return response(description, ref("Error"), ("Access-Control-Allow-Origin", *headers))


def query(name: str, description: str, schema: Schema | None = None, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


# -- schemas ----------------------------------------------------------------------------------

# A uid must hold something other than white space, and no NUL (PostgreSQL cannot store it).
UID_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


def schemas(settings: Settings) -> dict[str, Schema]:
    uid = {
        "description": f"A string of 1 to {MAX_UID_LENGTH} characters, or an integer (a database id), "
                       "stored as its decimal string.",
        "anyOf": [
            {"type": "string", "minLength": 1, "maxLength": MAX_UID_LENGTH, "pattern": UID_PATTERN},
            {"type": "integer", "minimum": -(2**63), "maximum": 2**64 - 1},
        ],
        "examples": ["123456", 78910],
    }
    time = {
        "description": "ISO-8601 with or without fraction and zone (no zone is UTC), a date YYYY-MM-DD, or "
                       "epoch seconds (values of 10^11 and more are milliseconds), as a number or a string of "
                       "digits. Between 0001-01-02 and 9999-12-30.",
        "anyOf": [{"type": "string"}, {"type": "number"}],
        "examples": ["2013-01-01T00:00:00.000Z", 1356998400],
    }
    params = obj(
        {
            "mrr": described(
                {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}, {"type": "null"}]},
                "Monthly recurring revenue, 0 or more (a numeric string such as \"49.5\" is taken as that "
                "number). Contacts and accounts only; each new value is recorded in the revenue history, "
                "null removes it.",
            ),
            "account_uid": described(
                {"anyOf": [ref("Uid"), {"type": "array", "items": ref("Uid")}, {"type": "null"}]},
                "On a contact: the accounts it belongs to. On an event or pageview: the account it is "
                "attributed to.",
            ),
        },
        description="Any keys. Merged into what is stored: a key sent again replaces its value, a key sent as "
                    "null is removed, keys not sent are kept. Event params are stored as sent. Strings may "
                    "not hold the NUL character.",
        example={"email": "elon@teslamotors.com", "name": "Elon Musk", "mrr": 99, "account_uid": "78910"},
    )
    common = {
        "params": {"anyOf": [ref("Params"), {"type": "null"}]},
        "created_at": described(ref("Time"), "When it happened. Absent: when the server received it."),
        "sent_at": described(ref("Time"), "When the client sent it; with created_at, corrects the client's "
                                           "clock: occurred = received - (sent_at - created_at)."),
        "sentAt": described(ref("Time"), "Same as sent_at."),
        "messageId": described(ref("Uid"), "The client's id for the message. A message whose id the project "
                                           "already stored is acknowledged again and not applied twice."),
        "message_id": described(ref("Uid"), "Same as messageId."),
        "user_hash": described({"type": "string"}, "Hex HMAC-SHA256 of contact_uid keyed by the project secret; "
                                                   "required on token-only writes when identity verification "
                                                   "is on."),
    }
    contact_uid = {
        "contact_uid": described(ref("Uid"), "The contact's unique id in your application."),
        "unique_id": described(ref("Uid"), "Legacy name of contact_uid."),
    }
    needs_contact = {"anyOf": [{"required": ["contact_uid"]}, {"required": ["unique_id"]}]}
    contact = obj({**contact_uid, **common}, **needs_contact,
                  example={"contact_uid": "123456", "params": {"email": "elon@teslamotors.com", "mrr": 99,
                                                               "account_uid": "78910"}})
    account = obj({"account_uid": described(ref("Uid"), "The account's unique id in your application."),
                   **common,
                   "contact_uid": described(ref("Uid"), "With user_hash, the verified contact making a "
                                                        "token-only account call (identity verification).")},
                  ("account_uid",),
                  example={"account_uid": "78910", "params": {"name": "Tesla Motors", "mrr": 999}})
    event = obj({**contact_uid,
                 "event_uid": described(ref("Uid"), "The event's name; \"pageview\" records a pageview."),
                 "event": described(ref("Uid"), "Legacy name of event_uid."),
                 **common},
                allOf=[needs_contact, {"anyOf": [{"required": ["event_uid"]}, {"required": ["event"]}]}],
                example={"contact_uid": "123456", "event_uid": "user_registration",
                         "params": {"account_uid": "78910", "display_name": "Registration"}})
    pageview = obj({**contact_uid, **common}, **needs_contact,
                   example={"contact_uid": "123456",
                            "params": {"visit_url": "http://myproduct.com/onboarding", "visit_ip": "1.2.3.4"}})
    alias = obj({**contact_uid, "alias": described(ref("Uid"), "Another uid of the same contact."), **common},
                ("alias",), **needs_contact, example={"contact_uid": "123456", "alias": "789"})
    item_of = {"contact": "ContactItem", "account": "AccountItem", "event": "EventItem",
               "pageview": "PageviewItem", "alias": "AliasItem"}
    batch_item = {
        "description": "One item of a batch: the item of its method's endpoint, with `method`.",
        "type": "object",
        "required": ["method"],
        "properties": {"method": {"enum": list(BATCH_METHODS), "description": "track is taken as event."}},
        "oneOf": [
            {"allOf": [{"properties": {"method": {"const": method}}}, ref(item_of[kind])]}
            for method, kind in BATCH_METHODS.items()
        ],
    }
    items = {"type": "array", "items": ref("BatchItem"), "maxItems": settings.max_batch_items}
    batch = {
        "description": f"A JSON array of at most {settings.max_batch_items} items, or Segment's envelope "
                       "{\"batch\": [...], \"sent_at\": ...}. Items are applied in order; bad items are refused "
                       "one by one and the good ones stored.",
        "anyOf": [items, obj({"batch": items, "sent_at": ref("Time"), "sentAt": ref("Time")}, ("batch",))],
        "example": [
            {"method": "account", "account_uid": "78910", "params": {"name": "Tesla Motors", "mrr": 999}},
            {"method": "event", "contact_uid": "123456", "event_uid": "payment"},
        ],
    }
    legacy_form = obj(
        {
            "api_token": {"type": "string", "description": "The project token (instead of Basic auth)."},
            "encode": {"enum": ["base64", "none"], "default": "base64"},
            "data": {"type": "string", "description": "The JSON body, base64 (standard or URL-safe, padding "
                                                      "optional, may be wrapped in JSON quotes) or plain."},
        },
        ("data",),
        description="The legacy form transport of old clients.",
    )
    error_body = obj(
        {
            "error": {"type": "string", "description": "The message (read by the Ruby client)."},
            "code": {"enum": [*CODES.values(), "error"]},
            "message": {"type": "string", "description": "The message (read by the Python client)."},
            "field": {"type": "string", "description": "The field at fault, e.g. contact_uid or batch[2].params."},
            "rule": {"type": "string", "description": "The rule it breaks: required, string, max_length, json..."},
        },
        ("error", "code", "message"),
        example={"error": "contact_uid is required", "code": "bad_request", "message": "contact_uid is required",
                 "field": "contact_uid", "rule": "required"},
    )
    rejection = obj(
        {"index": {"type": "integer", "minimum": 0}, "code": {"enum": list(CODES.values())},
         "message": {"type": "string"}, "field": {"type": "string"}, "rule": {"type": "string"}},
        ("index", "code", "message", "field", "rule"),
    )
    accepted = {"type": "integer", "minimum": 0, "description": "Items acknowledged, duplicates included."}
    rejected = {"type": "array", "items": ref("Rejection"), "description": "The refused items, by index."}
    return {
        "Uid": uid,
        "Time": time,
        "Params": params,
        "ContactItem": contact,
        "AccountItem": account,
        "EventItem": event,
        "PageviewItem": pageview,
        "AliasItem": alias,
        "BatchItem": batch_item,
        "Batch": batch,
        "LegacyForm": legacy_form,
        "Success": obj({"status": {"const": "success"}}, ("status",), example={"status": "success"}),
        "BatchSuccess": obj(
            {"status": {"const": "success"}, "accepted": accepted,
             "duplicates": {"type": "integer", "minimum": 1, "description": "Items already stored before."},
             "rejected": rejected},
            ("status", "accepted"),
        ),
        "Error": error_body,
        "Rejection": rejection,
        "BatchRefused": {
            "description": "Every item of the batch was refused.",
            "allOf": [ref("Error"), obj({"accepted": {"const": 0}, "rejected": rejected}, ("accepted", "rejected"))],
        },
    }


# -- operations -------------------------------------------------------------------------------

WRITES: dict[str, tuple[str, str, str]] = {
    # path: (item schema, summary, description)
    "/v1/contact": ("ContactItem", "Create or update a contact",
                    "Params are merged into the stored contact; params.account_uid makes it a member of "
                    "those accounts; mrr is recorded in the revenue history."),
    "/v1/account": ("AccountItem", "Create or update an account",
                    "Params are merged into the stored account; mrr is recorded in the revenue history."),
    "/v1/track/event": ("EventItem", "Track an event",
                        "An event for an unknown contact creates it. params.account_uid attributes the event "
                        "to that account, else to the contact's only account. event_uid \"pageview\" is a "
                        "pageview."),
    "/v1/track/pageview": ("PageviewItem", "Track a pageview", "The same as an event named pageview."),
    "/v1/alias": ("AliasItem", "Alias two contact uids",
                  "From then on both uids name one contact: fields merged (the contact_uid side wins), "
                  "events, memberships and revenue history joined. Transitive and idempotent."),
    "/v1/batch": ("Batch", "Send many items at once",
                  "Each item names its method. Good items are stored, refused ones are named in `rejected`."),
}


def write_operations(path: str, settings: Settings) -> dict[str, Any]:
    schema_name, summary, description = WRITES[path]
    is_batch = path == "/v1/batch"
    success = response(
        "Stored (sent after the commit).",
        ref("BatchSuccess" if is_batch else "Success"),
        ("Access-Control-Allow-Origin",),
        example={"status": "success", "accepted": 2} if is_batch else {"status": "success"},
    )
    bad_request = (
        response("Bad input, or (batch) every item refused.", {"anyOf": [ref("BatchRefused"), ref("Error")]},
                 ("Access-Control-Allow-Origin",))
        if is_batch else error("Bad input: the body names the field and the rule. Nothing is stored but the "
                               "record of the refusal.")
    )
    responses = {
        "201": success,
        "400": bad_request,
        **AUTH_ERRORS,
        "403": error("Refused by identity verification (rule identity_verification)."),
        "406": error("The body is neither JSON nor a legacy form."),
        "413": error(f"The body is over {settings.max_body_bytes} bytes"
                     + (f" or holds more than {settings.max_batch_items} items." if is_batch else ".")),
        **SERVICE_ERRORS,
    }
    post = {
        "tags": ["write"],
        "operationId": f"post_{_name(path)}",
        "summary": summary,
        "description": f"{description} A JSON body is read as JSON whatever its Content-Type says.",
        "parameters": [query("api_token", "The project token, for clients that cannot send Basic auth.")],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": ref(schema_name)},
                "text/plain": {"schema": {"type": "string", "description": "JSON sent as text (a beacon)."}},
                "application/x-www-form-urlencoded": {"schema": ref("LegacyForm")},
                "multipart/form-data": {"schema": ref("LegacyForm")},
            },
        },
        "responses": responses,
    }
    get = {
        "tags": ["write"],
        "operationId": f"get_{_name(path)}",
        "summary": f"{summary} (legacy GET transport)",
        "description": "The old clients' form of the same POST: the JSON body in `data`.",
        "parameters": [
            query("data", "The JSON body, base64 (or plain with encode=none).", required=True),
            query("encode", "How data is encoded.", {"enum": ["base64", "none"], "default": "base64"}),
            query("_method", "Sent as post by the old clients; ignored.", {"type": "string"}),
            query("api_token", "The project token, for clients that cannot send Basic auth."),
        ],
        "responses": responses,
    }
    return {"post": post, "get": get, "options": preflight()}


AUTH_ERRORS = {
    "401": error("Missing, unknown or wrong credentials.", "WWW-Authenticate"),
    "429": error("Too many requests for this project.", "Retry-After"),
}
SERVICE_ERRORS = {
    # Answered outside the CORS middleware, so without its header.
    "500": response("A fault of ours, never bad input; it is logged.", ref("Error")),
    "503": error("The database cannot be reached, or maintenance is on.", "Retry-After"),
}


def preflight() -> dict[str, Any]:
    return {
        "tags": ["write"],
        "summary": "CORS preflight",
        "description": "Any origin may write: answered without credentials.",
        "security": [],
        "responses": {"204": {"description": "Allowed: GET, POST, OPTIONS, the requested headers, for a day.",
                              "headers": {name: {"$ref": f"#/components/headers/{name}"}
                                          for name in ("Access-Control-Allow-Origin",
                                                       "Access-Control-Allow-Methods")}}},
    }


def ping_operations() -> dict[str, Any]:
    def operation(method: str) -> dict[str, Any]:
        return {
            "tags": ["write"],
            "operationId": f"{method}_ping",
            "summary": "Check credentials",
            "description": "Answers 200 when the credentials are good. A body, if any, is ignored.",
            "parameters": [
                query("api_token", "The project token, for clients that cannot send Basic auth."),
                query("_method", "Sent as get by the old clients; ignored.", {"type": "string"}),
            ],
            "responses": {
                "200": response("The credentials are good.", ref("Success"), ("Access-Control-Allow-Origin",),
                                example={"status": "success"}),
                **AUTH_ERRORS,
                **SERVICE_ERRORS,
            },
        }

    return {"get": operation("get"), "post": operation("post"), "options": preflight()}


def read_paths() -> dict[str, Any]:
    """The read API (contacts, accounts, events, export, revenue; token and secret together).
    Its operations are described here, each under the tag "read", as they are written."""
    return {}


def service_paths() -> dict[str, Any]:
    def plain(operation_id: str, summary: str, media: str, schema: Schema | None = None) -> dict[str, Any]:
        content = {media: {"schema": schema or {"type": "string"}}}
        return {"get": {"tags": ["service"], "operationId": operation_id, "summary": summary, "security": [],
                        "responses": {"200": {"description": summary, "content": content}}}}

    return {
        "/healthz": plain("healthz", "The process is up", "application/json",
                          obj({"status": {"const": "ok"}}, ("status",))),
        "/metrics": plain("metrics", "Prometheus metrics of the write path", "text/plain"),
        "/openapi.json": plain("openapi", "This description", "application/json", {"type": "object"}),
        "/docs": plain("docs", "This description as a page", "text/html"),
    }


def _name(path: str) -> str:
    return path.removeprefix("/v1/").replace("/", "_")


def build_openapi(settings: Settings | None = None) -> dict[str, Any]:
    """The description of the API a server with these settings serves."""
    settings = settings or Settings()
    header = {"schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Salesmachine, self-hosted",
            "version": __version__,
            "description": "Salesmachine's v1 tracking API, as every client in the field sends it. Writes need "
                           "the project token: HTTP Basic with the token as the username (password empty, the "
                           "token, or the secret), or api_token in the query or a form. Every error is JSON "
                           "with error, code and message (and field and rule when one field is at fault).",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "tags": [
            {"name": "write", "description": "The tracking API (the token is enough)."},
            {"name": "read", "description": "The read API (token and secret together)."},
            {"name": "service", "description": "For operators and tools."},
        ],
        "paths": {
            "/v1/ping": ping_operations(),
            **{path: write_operations(path, settings) for path in WRITES},
            **read_paths(),
            **service_paths(),
        },
        "components": {
            "schemas": schemas(settings),
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic",
                          "description": "Username: the project token (or the secret with an empty password). "
                                         "Password: empty, the token, or the secret (the secret also grants "
                                         "reading)."},
                "api_token": {"type": "apiKey", "in": "query", "name": "api_token",
                              "description": "The project token, as the browser library sends it."},
            },
            "headers": {
                "WWW-Authenticate": {**header, "description": "Basic realm=\"salesmachine\""},
                "Retry-After": {"schema": {"type": "string", "pattern": "^[0-9]+$"},
                                "description": "Seconds to wait before retrying."},
                "Access-Control-Allow-Origin": {"schema": {"const": "*"}, "description": "Any origin may write."},
                "Access-Control-Allow-Methods": {**header, "description": "GET, POST, OPTIONS"},
            },
        },
        "security": [{"basic": []}, {"api_token": []}],
    }


# -- endpoints --------------------------------------------------------------------------------


async def openapi_json(request: Request) -> Response:
    return Response(orjson.dumps(build_openapi(request.app.state.settings)), media_type="application/json")


async def docs_page(request: Request) -> Response:
    return HTMLResponse(render_page(build_openapi(request.app.state.settings)))


# -- the page ---------------------------------------------------------------------------------

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font:13px ui-monospace,monospace;background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}
pre{padding:.6rem;overflow:auto}
section{border-top:1px solid #ddd;margin-top:1.5rem}
.method{font-weight:bold;text-transform:uppercase;margin-right:.5rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;
vertical-align:top}
"""


def render_page(spec: dict[str, Any]) -> str:
    """Every operation of the description, with its parameters, body keys, answers and an example."""
    schemas_ = spec["components"]["schemas"]
    esc = html.escape
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8>",
        f"<title>{esc(spec['info']['title'])} API</title><style>{STYLE}</style>",
        f"<h1>{esc(spec['info']['title'])} API <small>{esc(spec['info']['version'])}</small></h1>",
        f"<p>{esc(spec['info']['description'])}</p>",
        '<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>',
    ]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "options":
                continue
            parts.append(f"<section><h2><span class=method>{method}</span><code>{esc(path)}</code></h2>")
            parts.append(f"<p><b>{esc(operation['summary'])}.</b> {esc(operation.get('description', ''))}</p>")
            if operation.get("parameters"):
                rows = "".join(
                    f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p.get('description', ''))}</td></tr>"
                    for p in operation["parameters"]
                )
                parts.append(f"<table><tr><th>query</th><th></th></tr>{rows}</table>")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                parts.append(_body_table(body["schema"], schemas_))
            rows = "".join(
                f"<tr><td>{esc(status)}</td><td>{esc(answer['description'])}</td></tr>"
                for status, answer in operation["responses"].items()
            )
            parts.append(f"<table><tr><th>answer</th><th></th></tr>{rows}</table></section>")
    return "".join(parts)


def _body_table(schema: Schema, schemas_: dict[str, Schema]) -> str:
    name = schema.get("$ref", "").rpartition("/")[2]
    resolved = schemas_.get(name, schema)
    properties = resolved.get("properties", {})
    if not properties:
        example = orjson.dumps(resolved.get("example")).decode()
        return f"<p>{html.escape(resolved.get('description', ''))}</p><pre>{html.escape(example)}</pre>"
    required = set(resolved.get("required", []))
    rows = "".join(
        f"<tr><td><code>{html.escape(key)}</code>{' (required)' if key in required else ''}</td>"
        f"<td>{html.escape(_describe(value, schemas_))}</td></tr>"
        for key, value in properties.items()
    )
    example = resolved.get("example")
    shown = "" if example is None else f"<pre>{html.escape(orjson.dumps(example).decode())}</pre>"
    return f"<table><tr><th>body key</th><th></th></tr>{rows}</table>{shown}"


def _describe(schema: Schema, schemas_: dict[str, Schema]) -> str:
    if "description" in schema:
        return str(schema["description"])
    for option in schema.get("anyOf", []):
        if "$ref" in option:
            return _describe(schemas_[option["$ref"].rpartition("/")[2]], schemas_)
    if "$ref" in schema:
        return _describe(schemas_[schema["$ref"].rpartition("/")[2]], schemas_)
    return ""
