"""Segment's HTTP tracking API in process: its paths, its credentials (Basic user or writeKey),
gzip bodies, the answers its clients read, and the shared paths telling the shapes apart."""

from __future__ import annotations

import gzip

import orjson

from tests.fast.conftest import InProcess
from tests.support import Project


def test_each_segment_path_answers_200_success_and_stores(project: Project) -> None:
    calls = {
        "/v1/identify": {"userId": "u1", "traits": {"email": "u1@example.com"}},
        "/v1/track": {"userId": "u1", "event": "Signed In"},
        "/v1/page": {"userId": "u1", "name": "Home"},
        "/v1/screen": {"userId": "u1", "name": "Settings"},
        "/v1/group": {"userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}},
        "/v1/alias": {"userId": "u1", "previousId": "old-1"},
    }
    for path, body in calls.items():
        answer = project.http.post(path, json=body)
        assert (answer.status_code, answer.json()) == (200, {"success": True}), (path, answer.text)
    contact = project.stored.contact("old-1")
    assert contact is not None and contact["params"] == {"email": "u1@example.com"}
    account = project.stored.account("acme")
    assert account is not None and account["params"] == {"name": "Acme"}


def test_a_refused_message_is_a_400_in_our_shape_and_kept(project: Project) -> None:
    answer = project.http.post("/v1/track", json={"userId": "u1"})
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "event is required on a track call",
        "code": "bad_request",
        "message": "event is required on a track call",
        "field": "event",
        "rule": "required",
    }
    [kept] = project.stored.rejected()
    assert kept.field == "event" and "userId" in kept.raw


def test_a_gzip_batch_with_the_write_key_in_the_body(inprocess: InProcess, project: Project) -> None:
    body = {
        "writeKey": project.token,
        "sentAt": "2024-01-01T00:00:00Z",
        "batch": [
            {"type": "page", "anonymousId": "anon-9", "properties": {"url": "https://x/"}},
            {"type": "identify", "userId": "u9", "anonymousId": "anon-9", "traits": {"name": "Nine"}},
            {"type": "track", "event": "no one"},
        ],
    }
    answer = inprocess.raw().post(
        "/v1/batch",
        content=gzip.compress(orjson.dumps(body)),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer.json()["rejected"]] == [(2, "userId")]
    contact = project.stored.contact("u9")
    assert contact is not None and contact == project.stored.contact("anon-9")


def test_without_credentials_anywhere_401(inprocess: InProcess) -> None:
    answer = inprocess.raw().post("/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": "e"}]})
    assert answer.status_code == 401 and answer.json()["code"] == "unauthorized"
    assert inprocess.raw().post("/v1/track", json={"userId": "u", "event": "e"}).status_code == 401


def test_our_shapes_on_the_shared_paths_are_unchanged(project: Project) -> None:
    ours = project.http.post("/v1/batch", json={"batch": [{"method": "event", "contact_uid": "c", "event_uid": "e"}]})
    assert (ours.status_code, ours.json()) == (201, {"status": "success", "accepted": 1})
    bare = project.http.post("/v1/import", json=[{"method": "event", "contact_uid": "c", "event_uid": "e"}])
    assert bare.status_code == 201
    alias = project.http.post("/v1/alias", json={"contact_uid": "c", "alias": "c2"})
    assert (alias.status_code, alias.json()) == (201, {"status": "success"})
    refused = project.http.post("/v1/alias", json={})
    assert refused.status_code == 400 and refused.json()["field"] == "contact_uid"


def test_a_bomb_is_refused_by_what_it_inflates_to(inprocess: InProcess, project: Project) -> None:
    bomb = gzip.compress(b"[" + b" " * (6 * 1024 * 1024) + b"]")
    answer = inprocess.raw().post(
        "/v1/batch",
        content=bomb,
        auth=(project.token, ""),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert answer.status_code in (400, 406, 413), answer.text  # ours reads the gzip bytes: not JSON
    segment = inprocess.raw().post(
        "/v1/track",
        content=bomb,
        auth=(project.token, ""),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert segment.status_code == 413 and segment.json()["rule"] == "max_size"
