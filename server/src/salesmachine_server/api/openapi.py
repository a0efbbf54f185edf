"""The OpenAPI 3.1 description of the API (`GET /openapi.json`) and a page of it for people
(`GET /docs`).

The write half is written by hand: a write endpoint takes its body raw (ingest/wire.py reads every
form the clients in the field send), so nothing in the code declares what a body holds, and its
leniency is public behaviour. What it holds is docs/wire.md and docs/api.md; this module says
the same in a form tools read. The read half's schemas (and the error body's) are generated from
the Structs the read handlers answer (api/models.py); its operations, parameters and their text
are written here. The tests hold the server to both (tests/test_schemathesis.py). The limits
come from the running server's settings, so the description matches the server that serves it.

The docs page is Swagger UI drawing /openapi.json, vendored from npm into web/static/vendor/
(server/web-vendor/vendor.sh) and served by this server: nothing comes from another site (the
server may have no internet), and its CSP says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from salesmachine_server import __version__
from salesmachine_server.api import models
from salesmachine_server.api.backtest_openapi import backtest_paths
from salesmachine_server.api.data_rights_openapi import with_data_rights
from salesmachine_server.api.deliveries_openapi import TAG as DELIVERIES_TAG
from salesmachine_server.api.deliveries_openapi import delivery_schemas, with_deliveries
from salesmachine_server.api.display_settings_openapi import with_display
from salesmachine_server.api.export import FORMATS as EXPORT_FORMATS
from salesmachine_server.api.health_openapi import with_health
from salesmachine_server.api.playbooks_openapi import playbook_paths
from salesmachine_server.api.revenue import EARLIEST as REVENUE_EARLIEST
from salesmachine_server.api.revenue import LATEST as REVENUE_LATEST
from salesmachine_server.api.segment_openapi import segment_paths, segment_schemas, segment_success
from salesmachine_server.api.work_openapi import with_work_items, work_schemas
from salesmachine_server.domain.health import LEVELS
from salesmachine_server.domain.list_query import COMMON_FIELDS, DEFAULT_LIMIT, MAX_LIMIT, STATUSES
from salesmachine_server.domain.messages import BATCH_METHODS, MAX_UID_LENGTH
from salesmachine_server.domain.revenue import INTERVALS, MAX_MRR, MAX_PERIODS
from salesmachine_server.errors import CODES
from salesmachine_server.serving.health_checks import PROBE_TIMEOUT_SECONDS
from salesmachine_server.serving.state import app_state
from salesmachine_server.settings import Settings
from salesmachine_server.store.read.exports import COLUMNS as EXPORT_COLUMNS
from salesmachine_server.store.read.exports import KINDS as EXPORT_KINDS
from salesmachine_server.store.read.lists import ACCOUNT_SORTS, CONTACT_SORTS
from salesmachine_server.web.templating import render

Schema = dict[str, Any]

# -- helpers ----------------------------------------------------------------------------------


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def described(schema: Schema, description: str, **extra: Any) -> Schema:
    return {**schema, "description": description, **extra}


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object schema; unknown keys are allowed unless `extra` says otherwise (docs/wire.md:
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


def response(
    description: str, schema: Schema | None = None, headers: tuple[str, ...] = (), example: Any = None
) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = json_content(schema, example)
    if headers:
        answer["headers"] = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    return answer


def error(description: str, *headers: str) -> dict[str, Any]:
    return response(description, ref("Error"), ("Access-Control-Allow-Origin", *headers))


def query(name: str, description: str, schema: Schema | None = None, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


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
                {
                    "anyOf": [
                        {"type": "number", "minimum": 0, "maximum": MAX_MRR},
                        {"type": "string", "pattern": r"^[ \t]*[0-9]+(\.[0-9]+)?[ \t]*$"},
                        {"type": "null"},
                    ]
                },
                f"Monthly recurring revenue, from 0 to {MAX_MRR} (a string of a plain decimal number such as "
                '"49.5" is taken as that number). Contacts and accounts only; each new value is recorded in '
                "the revenue history, null removes it.",
            ),
            "account_uid": described(
                {"anyOf": [ref("Uid"), {"type": "array", "items": ref("Uid")}, {"type": "null"}]},
                "On a contact: the accounts it belongs to. On an event or pageview: the account it is attributed to.",
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
        "sent_at": described(
            ref("Time"),
            "When the client sent it; with created_at, corrects the client's "
            "clock: occurred = received - (sent_at - created_at).",
        ),
        "sentAt": described(ref("Time"), "Same as sent_at."),
        "messageId": described(
            ref("Uid"),
            "The client's id for the message. A message whose id the project "
            "already stored is acknowledged again and not applied twice.",
        ),
        "message_id": described(ref("Uid"), "Same as messageId."),
        "user_hash": described(
            {"type": "string"},
            "Hex HMAC-SHA256 of contact_uid keyed by the project secret; "
            "required on token-only writes when identity verification "
            "is on.",
        ),
    }
    contact_uid = {
        "contact_uid": described(ref("Uid"), "The contact's unique id in your application."),
        "unique_id": described(ref("Uid"), "Legacy name of contact_uid."),
    }
    needs_contact: dict[str, Any] = {"anyOf": [{"required": ["contact_uid"]}, {"required": ["unique_id"]}]}
    contact = obj(
        {**contact_uid, **common},
        **needs_contact,
        example={
            "contact_uid": "123456",
            "params": {"email": "elon@teslamotors.com", "mrr": 99, "account_uid": "78910"},
        },
    )
    account = obj(
        {
            "account_uid": described(ref("Uid"), "The account's unique id in your application."),
            **common,
            "contact_uid": described(
                ref("Uid"),
                "With user_hash, the verified contact making a token-only account call (identity verification).",
            ),
        },
        ("account_uid",),
        example={"account_uid": "78910", "params": {"name": "Tesla Motors", "mrr": 999}},
    )
    event = obj(
        {
            **contact_uid,
            "event_uid": described(ref("Uid"), 'The event\'s name; "pageview" records a pageview.'),
            "event": described(ref("Uid"), "Legacy name of event_uid."),
            **common,
        },
        allOf=[needs_contact, {"anyOf": [{"required": ["event_uid"]}, {"required": ["event"]}]}],
        example={
            "contact_uid": "123456",
            "event_uid": "user_registration",
            "params": {"account_uid": "78910", "display_name": "Registration"},
        },
    )
    pageview = obj(
        {**contact_uid, **common},
        **needs_contact,
        example={
            "contact_uid": "123456",
            "params": {"visit_url": "http://myproduct.com/onboarding", "visit_ip": "1.2.3.4"},
        },
    )
    alias = obj(
        {**contact_uid, "alias": described(ref("Uid"), "Another uid of the same contact."), **common},
        ("alias",),
        **needs_contact,
        example={"contact_uid": "123456", "alias": "789"},
    )
    item_of = {
        "contact": "ContactItem",
        "account": "AccountItem",
        "event": "EventItem",
        "pageview": "PageviewItem",
        "alias": "AliasItem",
    }
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
        '{"batch": [...], "sent_at": ...}. Items are applied in order; bad items are refused '
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
            "data": {
                "type": "string",
                "description": "The JSON body, base64 (standard or URL-safe, padding "
                "optional, may be wrapped in JSON quotes) or plain.",
            },
        },
        ("data",),
        description="The legacy form transport of old clients.",
    )
    rejection = obj(
        {
            "index": {"type": "integer", "minimum": 0},
            "code": {"enum": list(CODES.values())},
            "message": {"type": "string"},
            "field": {"type": "string"},
            "rule": {"type": "string"},
        },
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
            {
                "status": {"const": "success"},
                "accepted": accepted,
                "duplicates": {"type": "integer", "minimum": 1, "description": "Items already stored before."},
                "rejected": rejected,
            },
            ("status", "accepted"),
        ),
        "Rejection": rejection,
        "BatchRefused": {
            "description": "Every item of the batch was refused.",
            "allOf": [ref("Error"), obj({"accepted": {"const": 0}, "rejected": rejected}, ("accepted", "rejected"))],
        },
    }


# -- operations -------------------------------------------------------------------------------

WRITES: dict[str, tuple[str, str, str]] = {
    # path: (item schema, summary, description)
    "/v1/contact": (
        "ContactItem",
        "Create or update a contact",
        "Params are merged into the stored contact; params.account_uid makes it a member of "
        "those accounts; mrr is recorded in the revenue history.",
    ),
    "/v1/account": (
        "AccountItem",
        "Create or update an account",
        "Params are merged into the stored account; mrr is recorded in the revenue history.",
    ),
    "/v1/track/event": (
        "EventItem",
        "Track an event",
        "An event for an unknown contact creates it. params.account_uid attributes the event "
        'to that account, else to the contact\'s only account. event_uid "pageview" is a '
        "pageview.",
    ),
    "/v1/track/pageview": ("PageviewItem", "Track a pageview", "The same as an event named pageview."),
    "/v1/alias": (
        "AliasItem",
        "Alias two contact uids",
        "From then on both uids name one contact: fields merged (the contact_uid side wins), "
        "events, memberships and revenue history joined. Transitive and idempotent.",
    ),
    "/v1/batch": (
        "Batch",
        "Send many items at once",
        "Each item names its method. Good items are stored, refused ones are named in `rejected`.",
    ),
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
        response(
            "Bad input, or (batch) every item refused.",
            {"anyOf": [ref("BatchRefused"), ref("Error")]},
            ("Access-Control-Allow-Origin",),
        )
        if is_batch
        else error("Bad input: the body names the field and the rule. Nothing is stored but the record of the refusal.")
    )
    responses = {
        "201": success,
        "400": bad_request,
        **AUTH_ERRORS,
        "403": error("Refused by identity verification (rule identity_verification)."),
        "406": error("The body is neither JSON nor a legacy form."),
        "413": error(
            f"The body is over {settings.max_body_bytes} bytes"
            + (f" or holds more than {settings.max_batch_items} items." if is_batch else ".")
        ),
        **SERVICE_ERRORS,
    }
    if path in ("/v1/alias", "/v1/batch"):  # their Segment content is answered as Segment does (docs/segment.md)
        responses["200"] = segment_success()
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
        "responses": {
            "204": {
                "description": "Allowed: GET, POST, OPTIONS, the requested headers, for a day.",
                "headers": {
                    name: {"$ref": f"#/components/headers/{name}"}
                    for name in ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods")
                },
            }
        },
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
                "200": response(
                    "The credentials are good.",
                    ref("Success"),
                    ("Access-Control-Allow-Origin",),
                    example={"status": "success"},
                ),
                **AUTH_ERRORS,
                **SERVICE_ERRORS,
            },
        }

    return {"get": operation("get"), "post": operation("post"), "options": preflight()}


# -- the read API -----------------------------------------------------------------------------

# Every answer of the read API is a closed object (no keys but those named): the schemathesis
# test then fails as soon as a handler answers a key this description does not name.


def closed(properties: dict[str, Schema], **extra: Any) -> Schema:
    return obj(properties, tuple(properties), additionalProperties=False, **extra)


def read_schemas() -> dict[str, Schema]:
    """Generated from the Structs the read handlers answer (api/models.py), and the error body."""
    return models.schema_components(ref_template="#/components/schemas/{name}")


# Answers outside the CORS middleware (reads, service): no Access-Control-Allow-Origin.
READ_AUTH_ERRORS = {
    "401": response(
        "The token and secret together are missing or wrong (HTTP Basic token:secret; the token "
        "alone, api_token or the secret alone do not read).",
        ref("Error"),
        ("WWW-Authenticate",),
    ),
    "429": response("Too many requests for this project.", ref("Error"), ("Retry-After",)),
}
READ_SERVICE_ERRORS = {
    "500": SERVICE_ERRORS["500"],
    "503": response("The database cannot be reached, or maintenance is on.", ref("Error"), ("Retry-After",)),
}
TIME_TEXT = (
    "ISO-8601 with or without fraction and zone (no zone is UTC), a date YYYY-MM-DD, or epoch seconds "
    "(10^11 and more are milliseconds)."
)


def limit_parameter() -> dict[str, Any]:
    return query(
        "limit", "Rows per page.", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    )


def cursor_parameter() -> dict[str, Any]:
    return query("cursor", "The next_cursor of the previous page; keep the other parameters as they were.")


def uid_parameter(what: str) -> dict[str, Any]:
    return {
        "name": "uid",
        "in": "path",
        "required": True,
        "description": f'{what} Percent-encoded whole, "/" as %2F (docs/api.md, Uids in paths).',
        "schema": {"type": "string", "minLength": 1},
    }


def list_parameters(sorts: Mapping[str, str], search: str, account_uid: str) -> list[dict[str, Any]]:
    """domain/list_query.py's language: control keys, then `field<op>value` filters. OpenAPI can name
    only the `=` form of a filter; the others carry the operator in the key (`mrr>=100` is the
    key `mrr>` with the value 100, `mrr>100` a key alone)."""
    order = sorted(sorts)
    # What each of the list's own fields compares with (segments.COMMON_FIELDS).
    typed: dict[str, tuple[Schema, str]] = {
        "datetime": ({"type": "string"}, f"a time, {TIME_TEXT}"),
        "number": ({"type": "number"}, "a number."),
        "health": ({"enum": list(LEVELS)}, "the band of the state in force (the health history); = and != only."),
        "status": ({"enum": list(STATUSES)}, "the status of the state in force; = and != only."),
        "stage": ({"type": "string"}, "a lifecycle stage's name, empty for none; = and != only."),
    }
    filters = [
        query(name, f"Filter on {name}: {typed[kind][1]}", typed[kind][0]) for name, kind in COMMON_FIELDS.items()
    ]
    return [
        query("q", f"Search: {search} containing this text, in any case."),
        query(
            "sort",
            "The order (- for descending); a missing value sorts as the smallest, ties in the order created.",
            {"enum": [*order, *(f"-{name}" for name in order)], "default": "-last_seen_at"},
        ),
        limit_parameter(),
        cursor_parameter(),
        *filters,
        query("account_uid", f"Filter: {account_uid} (= and != only).", {"type": "string"}),
        {
            "name": "params",
            "in": "query",
            "style": "form",
            "explode": True,
            "description": "Filters on params: `params.plan=pro`, or a bare key that is no field of the list "
            "(`plan=pro`). With > >= < <= a numeric value compares as a number, else as text.",
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    ]


def event_parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": "event",
            "in": "query",
            "style": "form",
            "explode": True,
            "required": False,
            "description": "Only events of these names (repeat the parameter for several).",
            "schema": {"type": "array", "items": {"type": "string"}},
        },
        query("kind", "Only events or only pageviews.", {"enum": ["event", "pageview"]}),
        query("from", f"Only events that happened at or after this time: {TIME_TEXT}"),
        query("to", "Only events that happened before this time (excluded), same forms."),
        limit_parameter(),
        cursor_parameter(),
    ]


def read_operation(
    operation_id: str,
    summary: str,
    description: str,
    parameters: list[dict[str, Any]],
    ok: dict[str, Any],
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "get": {
            "tags": ["read"],
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            # The basic scheme with the secret as the password; api_token never reads.
            "security": [{"basic": []}],
            "parameters": parameters,
            "responses": {"200": ok, **(errors or {}), **READ_AUTH_ERRORS, **READ_SERVICE_ERRORS},
        }
    }


def read_paths() -> dict[str, Any]:
    """The read API (contacts, accounts, events, export, revenue; token and secret together):
    api/profiles.py, timelines.py, export.py and domain/revenue.py, with domain/list_query.py's filters."""
    filters = (
        "Any other key is a filter `field<op>value` with op one of = != > >= < <=, all of which must "
        "hold: `mrr>100`, `last_seen_at>=2024-01-01`, `active_days_14>3`, `health=good`, `status=paying`, "
        "`stage=Onboarding`, `plan=pro`. An "
        "empty value tests presence: `plan=` is missing, `plan!=` present. The filters are what a saved "
        "segment stores."
    )
    bad_list = response(
        "A filter, sort, limit or cursor it cannot read (field and rule name it), or NUL in the query (rule no_nul).",
        ref("Error"),
    )
    bad_events = response(
        "An unknown parameter (rule known), a kind, time, limit or cursor it cannot read, or "
        "NUL in the query (rule no_nul).",
        ref("Error"),
    )
    bad_uid = response(
        "The uid holds NUL (rule no_nul) or is not UTF-8 once percent-decoded (rule utf8).", ref("Error")
    )
    bad_uid_or_events = response(
        "As on /v1/events, or a uid holding NUL or not UTF-8 (rules no_nul, utf8).", ref("Error")
    )
    unknown_contact = response(
        'No contact has that uid (or no route takes the path: a "/" left unencoded).', ref("Error")
    )
    unknown_account = response(
        'No account has that uid (or no route takes the path: a "/" left unencoded).', ref("Error")
    )
    timeline = "Newest first, by when each happened. "
    return {
        "/v1/contacts": read_operation(
            "list_contacts",
            "List contacts",
            f"A page of contacts with their activity and health. {filters}",
            list_parameters(
                CONTACT_SORTS,
                "any of its uids, params.email or params.name",
                "members of that account; empty: of no account",
            ),
            response("A page of contacts.", ref("ContactPage")),
            {"400": bad_list},
        ),
        "/v1/contacts/{uid}": read_operation(
            "get_contact",
            "A contact's profile",
            "By its uid or any of its aliases.",
            [uid_parameter("The contact's uid or one of its aliases.")],
            response("The contact.", ref("Contact")),
            {"400": bad_uid, "404": unknown_contact},
        ),
        "/v1/contacts/{uid}/events": read_operation(
            "list_contact_events",
            "A contact's timeline",
            timeline + "Its events and pageviews, aliases included.",
            [uid_parameter("The contact's uid or one of its aliases."), *event_parameters()],
            response("A page of events.", ref("EventPage")),
            {"400": bad_uid_or_events, "404": unknown_contact},
        ),
        "/v1/accounts": read_operation(
            "list_accounts",
            "List accounts",
            f"A page of accounts with their activity (any of their contacts') and health. {filters}",
            list_parameters(
                ACCOUNT_SORTS,
                "account_uid, params.name, params.domain / website_url / website / url, "
                "or its contacts' e-mail domain (free mail excluded)",
                "the account's uid",
            ),
            response("A page of accounts.", ref("AccountPage")),
            {"400": bad_list},
        ),
        "/v1/accounts/{uid}": read_operation(
            "get_account",
            "An account's profile",
            "With its first 100 contacts and their count.",
            [uid_parameter("The account's uid.")],
            response("The account.", ref("Account")),
            {"400": bad_uid, "404": unknown_account},
        ),
        "/v1/accounts/{uid}/events": read_operation(
            "list_account_events",
            "An account's timeline",
            timeline + "The events attributed to it (their account_uid, or their contact's only account).",
            [uid_parameter("The account's uid."), *event_parameters()],
            response("A page of events.", ref("EventPage")),
            {"400": bad_uid_or_events, "404": unknown_account},
        ),
        "/v1/events": read_operation(
            "list_events",
            "The project's timeline",
            timeline + "Every contact's events and pageviews.",
            event_parameters(),
            response("A page of events.", ref("EventPage")),
            {"400": bad_events},
        ),
        "/v1/export/{kind}": read_operation(
            "export",
            "Export everything",
            "Every contact, account or event of the project, in the order stored, streamed as an attachment; "
            "what `salesmachine import` reads back. A failure once the answer has started cuts it short.",
            [
                {"name": "kind", "in": "path", "required": True, "schema": {"enum": list(EXPORT_KINDS)}},
                query(
                    "format",
                    "ndjson: one JSON object a line; csv: a header line, then one row each, params and "
                    "lists as JSON in their cell.",
                    {"enum": list(EXPORT_FORMATS), "default": "ndjson"},
                ),
            ],
            {
                "description": "The rows.",
                "headers": {"Content-Disposition": {"$ref": "#/components/headers/Content-Disposition"}},
                "content": {
                    "application/x-ndjson": {
                        "schema": {
                            "type": "string",
                            "description": "One object a line: ExportContact, ExportAccount or ExportEvent.",
                        },
                        # OpenAPI 3.1 has no schema for the items of a sequence (3.2's itemSchema).
                        "x-item-schema": {"oneOf": [ref(f"Export{name}") for name in ("Contact", "Account", "Event")]},
                    },
                    "text/csv": {
                        "schema": {
                            "type": "string",
                            "description": "Columns: "
                            + "; ".join(f"{k}: {', '.join(c)}" for k, c in EXPORT_COLUMNS.items()),
                        }
                    },
                },
            },
            {
                "400": response("format is neither ndjson nor csv.", ref("Error")),
                "404": response("kind is none of contacts, accounts, events.", ref("Error")),
            },
        ),
        "/v1/revenue": read_operation(
            "revenue",
            "The revenue report",
            "MRR, ARR, customers and the movements between, per calendar period in the project's time zone "
            "(docs/revenue.md). Each parameter at most once.",
            [
                query(
                    "from",
                    f"The first day, YYYY-MM-DD, from {REVENUE_EARLIEST} (default: the 1st of the month "
                    "eleven months before to's).",
                    {"type": "string", "format": "date"},
                ),
                query(
                    "to",
                    f"The last day, included, up to {REVENUE_LATEST} (default: today in the project's time zone).",
                    {"type": "string", "format": "date"},
                ),
                query(
                    "interval",
                    f"The periods' length; at most {MAX_PERIODS} periods.",
                    {"enum": list(INTERVALS), "default": "month"},
                ),
            ],
            response("The report.", ref("RevenueReport")),
            {
                "400": response(
                    "A date, range or interval it cannot take, a parameter it does not take, or one "
                    "given twice (field and rule name it).",
                    ref("Error"),
                )
            },
        ),
    }


def service_paths() -> dict[str, Any]:
    def plain(operation_id: str, summary: str, media: str, schema: Schema | None = None) -> dict[str, Any]:
        content = {media: {"schema": schema or {"type": "string"}}}
        return {
            "get": {
                "tags": ["service"],
                "operationId": operation_id,
                "summary": summary,
                "security": [],
                "responses": {"200": {"description": summary, "content": content}},
            }
        }

    ready = plain("readyz", "The process can take traffic", "application/json", closed({"status": {"const": "ready"}}))
    ready["get"]["description"] = (
        f"The database answered a trivial query within {PROBE_TIMEOUT_SECONDS:g} s. "
        "Send no traffic to a process that is not ready (/healthz says whether to "
        "restart it)."
    )
    ready["get"]["responses"]["503"] = response(
        "Not ready: maintenance is on, or the database cannot be reached or did not answer in time.",
        ref("Error"),
        ("Retry-After",),
    )
    return {
        "/healthz": plain(
            "healthz", "The process is up", "application/json", obj({"status": {"const": "ok"}}, ("status",))
        ),
        "/readyz": ready,
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
            {
                "name": "data rights",
                "description": "Erase, export one person, the audit log (token and secret; docs/privacy.md).",
            },
            {
                "name": "playbooks",
                "description": "Triggers, conditions and actions (token and secret; docs/playbooks.md).",
            },
            DELIVERIES_TAG,
            {
                "name": "work items",
                "description": "Owners, notes and tasks (token and secret; docs/work.md).",
            },
        ],
        "paths": {
            "/v1/ping": ping_operations(),
            **{path: write_operations(path, settings) for path in WRITES},
            **segment_paths(write_operations("/v1/batch", settings)["post"]["responses"]),
            **with_display(with_deliveries(with_work_items(with_health(with_data_rights(read_paths()))))),
            **backtest_paths(),
            **service_paths(),
            **playbook_paths(),
        },
        "components": {
            "schemas": {
                **schemas(settings),
                **segment_schemas(settings),
                **read_schemas(),
                **work_schemas(),
                **delivery_schemas(),
            },
            "securitySchemes": {
                "basic": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "Username: the project token (or the secret with an empty password). "
                    "Password: empty, the token, or the secret (the secret also grants "
                    "reading).",
                },
                "api_token": {
                    "type": "apiKey",
                    "in": "query",
                    "name": "api_token",
                    "description": "The project token, as the browser library sends it.",
                },
            },
            "headers": {
                "WWW-Authenticate": {**header, "description": 'Basic realm="salesmachine"'},
                "Retry-After": {
                    "schema": {"type": "string", "pattern": "^[0-9]+$"},
                    "description": "Seconds to wait before retrying.",
                },
                "Access-Control-Allow-Origin": {"schema": {"const": "*"}, "description": "Any origin may write."},
                "Access-Control-Allow-Methods": {**header, "description": "GET, POST, OPTIONS"},
                "Content-Disposition": {**header, "description": 'attachment; filename="<project>-<kind>.<format>"'},
            },
        },
        "security": [{"basic": []}, {"api_token": []}],
    }


# -- endpoints --------------------------------------------------------------------------------


async def openapi_json(request: Request) -> Response:
    return Response(orjson.dumps(build_openapi(app_state(request).settings)), media_type="application/json")


async def docs_page(request: Request) -> Response:
    """Swagger UI over /openapi.json, everything served by this server (web/templates/docs.html),
    under the dashboard's Content-Security-Policy: scripts, styles and requests to this server
    only, images also as data: URIs (Swagger UI's stylesheet draws its icons with them)."""
    info = build_openapi(app_state(request).settings)["info"]
    return render("docs.html", {"title": info["title"], "version": info["version"]})
