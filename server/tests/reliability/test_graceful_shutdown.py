"""SIGTERM under load: the server stops accepting connections, answers and commits every
request already in flight, then exits 0; everything it acknowledged is stored.

A request whose body is still arriving when the signal comes is the proof of "in flight": it
must be read to its end, committed and answered 201 after the listening socket has closed.
"""

from __future__ import annotations

import json
import signal
import socket

from tests.reliability.conftest import StartServer
from tests.reliability.probes import wait_for
from tests.reliability.traffic import Outcome, Sent, Traffic, check_store
from tests.support import make_project


def test_sigterm_finishes_what_is_in_flight_then_exits_0(fresh_database: str, start_server: StartServer) -> None:
    project, _ = make_project(fresh_database)
    server = start_server(fresh_database)
    assert server.process is not None
    traffic = Traffic(server.base_url, project.token, prefix="term", threads=6, seed=7).start()
    wait_for(lambda: traffic.acknowledged_requests() >= 20, 20, "no write was acknowledged")

    # A batch whose body is still arriving when the signal comes. `Expect: 100-continue`
    # makes the server say when the application has started reading it: then it is in flight.
    items = [
        {"method": "event", "contact_uid": "slow", "event_uid": "inflight", "messageId": f"inflight-{i}"}
        for i in range(50)
    ]
    body = json.dumps(items).encode()
    half = len(body) // 2
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    slow.sendall(
        b"POST /v1/batch HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        + _basic(project.token)
        + b"Content-Length: %d\r\n\r\n" % len(body)
    )
    interim = b""
    while b"\r\n\r\n" not in interim:
        interim += slow.recv(64) or b"(closed)\r\n\r\n"
    assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
    slow.sendall(body[:half])

    server.process.send_signal(signal.SIGTERM)
    wait_for(lambda: not _accepts(server.port), 10, "the server still accepts connections after SIGTERM")
    assert server.process.poll() is None, "the server exited with a request in flight"

    slow.sendall(body[half:])
    answer = _read_answer(slow)
    slow.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    assert b'"accepted":50' in answer

    outcome = traffic.stop()
    assert server.process.wait(30) == 0, server.log()[-2000:]
    assert "Traceback" not in server.log()
    assert not outcome.surprises, outcome.surprises[:5]

    total = Outcome()
    total.merge(outcome)
    total.acknowledged += [Sent(item["messageId"], "event") for item in items]
    check = check_store(fresh_database, project.id, total)
    check.assert_exactly_once()


def _basic(token: str) -> bytes:
    import base64

    return b"Authorization: Basic " + base64.b64encode(f"{token}:".encode()) + b"\r\n"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _read_answer(sock: socket.socket) -> bytes:
    """Everything until the server closes (it answers `connection: close` while stopping)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
