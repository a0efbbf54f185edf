"""A response's head goes out with its body, in one write to the socket, when the body comes
in the same step of the event loop; otherwise at the end of that step (serving/http_protocol.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from salesmachine_server.serving.http_protocol import CycleTransport


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed


class Protocol:
    def __init__(self, loop: asyncio.AbstractEventLoop, transport: Transport) -> None:
        self.loop = loop
        self.transport = transport
        self.closed_after_body = False

    def close_after_body(self) -> None:
        self.closed_after_body = True
        self.transport.closed = True


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    made = asyncio.new_event_loop()
    yield made
    made.close()


def cycle(loop: asyncio.AbstractEventLoop) -> tuple[Any, Transport, Protocol]:
    transport = Transport()
    protocol = Protocol(loop, transport)
    return CycleTransport(transport, protocol), transport, protocol  # type: ignore[arg-type]


def step(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


def test_head_and_body_of_the_same_step_are_one_write(loop: asyncio.AbstractEventLoop) -> None:
    seen, transport, _ = cycle(loop)
    seen.write(b"HTTP/1.1 201 Created\r\ncontent-length: 20\r\n\r\n")
    seen.write(b'{"status":"success"}')
    assert transport.writes == [b'HTTP/1.1 201 Created\r\ncontent-length: 20\r\n\r\n{"status":"success"}']
    step(loop)
    assert len(transport.writes) == 1  # the end of the step has nothing left to send


def test_a_head_whose_body_comes_later_goes_at_the_end_of_its_step(loop: asyncio.AbstractEventLoop) -> None:
    seen, transport, _ = cycle(loop)
    seen.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    assert transport.writes == []
    step(loop)
    assert transport.writes == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
    seen.write(b"5\r\nhello\r\n")
    seen.write(b"0\r\n\r\n")
    assert transport.writes[1:] == [b"5\r\nhello\r\n", b"0\r\n\r\n"]


def test_closing_sends_a_held_head_first(loop: asyncio.AbstractEventLoop) -> None:
    seen, transport, protocol = cycle(loop)
    seen.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
    seen.close()
    assert transport.writes == [b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"]
    assert protocol.closed_after_body and seen.is_closing()
    step(loop)
    assert len(transport.writes) == 1
