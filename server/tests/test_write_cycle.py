"""The write paths' POST is answered by the HTTP protocol itself (serving/write_cycle.py), below
ASGI: what a client sees of the connection stays what uvicorn gives every other request
(requests pipelined on one connection answered in order, `Connection: close`, `Expect:
100-continue`), and the answer is the one the ASGI stack gave (its headers, CORS, errors)."""

from __future__ import annotations

import base64
import socket

import orjson

from tests.support import Project, ServerProcess


def _basic(token: str) -> bytes:
    return b"Basic " + base64.b64encode(token.encode() + b":")


def _post(path: str, token: str, body: object, *extra: bytes) -> bytes:
    data = orjson.dumps(body)
    head = [
        b"POST " + path.encode() + b" HTTP/1.1",
        b"Host: test",
        b"Authorization: " + _basic(token),
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(data),
        *extra,
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + data


def _answers(raw: bytes) -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Status, headers and body of each answer in `raw`, in order (content-length framed)."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = dict(line.lower().split(b": ", 1) for line in lines[1:])
        length = int(headers.get(b"content-length", b"0"))
        found.append((status, headers, rest[:length]))
        raw = rest[length:]
    return found


def _read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_pipelined_requests_are_answered_in_order_and_stored(server: ServerProcess, project: Project) -> None:
    requests = [
        _post("/v1/track/event", project.token, {"contact_uid": "piped", "event_uid": "first"}),
        b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n",
        _post("/v1/track/event", project.token, {"event_uid": "no contact"}),
        _post("/v1/contact", project.token, {"contact_uid": "piped", "params": {"name": "P"}}, b"Connection: close"),
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"".join(requests))  # all at once: the server reads them in one go
        answers = _answers(_read_to_end(sock))  # it closes after the last, as asked

    assert [status for status, _, _ in answers] == [201, 200, 400, 201]
    (_, written, body), _, (_, refused, error), (_, closing, _) = answers
    assert orjson.loads(body) == {"status": "success"}
    assert orjson.loads(error)["field"] == "contact_uid"
    for headers in (written, refused, closing):
        # What the ASGI stack answered a write with: CORS for browsers, uvicorn's own headers.
        assert headers[b"access-control-allow-origin"] == b"*"
        assert headers[b"content-type"] == b"application/json"
        assert b"date" in headers and b"server" in headers
    assert closing[b"connection"] == b"close"
    assert b"connection" not in written

    contact = project.stored.contact("piped")
    assert contact is not None and contact["params"] == {"name": "P"}
    events = project.stored.events(project.stored.contact_id("piped") or 0)
    assert [event["name"] for event in events] == ["first"]
    assert len(project.stored.rejected()) == 1


def test_expect_100_continue_is_answered_before_the_body_is_sent(server: ServerProcess, project: Project) -> None:
    event = {"contact_uid": "careful", "event_uid": "e"}
    request = _post("/v1/track/event", project.token, event, b"Expect: 100-continue")
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + b"\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
    assert project.stored.contact("careful") is not None
