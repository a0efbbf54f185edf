"""The description of Segment's HTTP tracking API as this server answers it (docs/segment.md),
merged into /openapi.json by api/openapi.py. Written by hand like the rest of the write half:
the leniency of what is accepted is public behaviour."""

from __future__ import annotations

from typing import Any

from salesmachine_server.ingest.segment_endpoints import SEGMENT_PATHS
from salesmachine_server.settings import Settings

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: Schema, *headers: str) -> Schema:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        "headers": {name: {"$ref": f"#/components/headers/{name}"} for name in headers},
    }


def segment_schemas(settings: Settings) -> dict[str, Schema]:
    message = {
        "description": "One message of Segment's spec (identify, track, page, screen, group, alias); see "
        "docs/segment.md for what each field becomes.",
        "type": "object",
        "properties": {
            "type": {"enum": ["identify", "track", "page", "screen", "group", "alias"]},
            "userId": _ref("Uid"),
            "anonymousId": _ref("Uid"),
            "previousId": _ref("Uid"),
            "groupId": _ref("Uid"),
            "event": {"type": "string"},
            "name": {"type": "string"},
            "category": {"type": "string"},
            "traits": {"type": "object"},
            "properties": {"type": "object"},
            "context": {"type": "object"},
            "messageId": _ref("Uid"),
            "timestamp": _ref("Time"),
            "originalTimestamp": _ref("Time"),
            "sentAt": _ref("Time"),
        },
        "example": {
            "type": "identify",
            "userId": "123456",
            "anonymousId": "a-1",
            "traits": {"email": "elon@teslamotors.com", "name": "Elon Musk"},
        },
    }
    batch = {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "items": _ref("SegmentMessage"), "maxItems": settings.max_batch_items},
            "sentAt": _ref("Time"),
            "writeKey": {"type": "string"},
        },
    }
    success = {
        "type": "object",
        "required": ["success"],
        "properties": {
            "success": {"const": True},
            "accepted": {"type": "integer", "minimum": 0, "description": "Messages acknowledged."},
            "rejected": {"type": "array", "items": _ref("Rejection")},
        },
    }
    return {"SegmentMessage": message, "SegmentBatch": batch, "SegmentSuccess": success}


def segment_success() -> Schema:
    """The 200 of a Segment write (also on /v1/alias and /v1/batch, for Segment's content)."""
    return _answer(
        "Segment's content, stored (sent after the commit).", _ref("SegmentSuccess"), "Access-Control-Allow-Origin"
    )


def segment_paths(responses: dict[str, Schema]) -> dict[str, Schema]:
    """Segment's own paths and /v1/import, with the error answers of our write endpoints."""
    paths: dict[str, Schema] = {}
    for path, kind in {**SEGMENT_PATHS, "/v1/import": "batch"}.items():
        body = _ref("SegmentBatch" if kind == "batch" else "SegmentMessage")
        if kind == "batch":  # /v1/import takes our batch too, as /v1/batch does
            body = {"anyOf": [body, _ref("Batch")]}
        answers = {"200": segment_success(), **responses}
        if kind == "batch":
            answers["201"] = responses.get("201", segment_success())
        else:
            answers.pop("201", None)
        paths[path] = {
            "post": {
                "tags": ["write"],
                "operationId": f"post_segment_{path.removeprefix('/v1/')}",
                "summary": f"Segment's {kind}" if kind != "batch" else "A batch of Segment's or ours",
                "description": "Segment's HTTP tracking API (docs/segment.md). The write key is the Basic user "
                "(the project token) or writeKey in the body. A gzip body is inflated first.",
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": answers,
            }
        }
    return paths
