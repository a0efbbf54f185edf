"""Submissions as the journal keeps them: bytes, and back.

One journal entry holds the submissions of one project that one append took together (each a
request's accepted messages and its refusals, in the order they came), in MessagePack, written
by msgspec: compact, fast both ways, and exact for what a `Message` holds (any JSON in params,
to the nesting the door accepts; times to the microsecond). A `Message` is a msgspec Struct
written as an array in field order (domain/messages.py), its enrichment as the arrays of its
location and agent, so that decoding builds the messages in msgspec's C code, not in Python.

Many submissions to an entry, rather than one each, because single-event requests are one
message each: an entry per request cost the append a row and the projector a row read and a
decoding per event, more than the event's own decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from salesmachine_server.domain.enrichment import NOTHING, Agent, Enrichment, Location
from salesmachine_server.domain.messages import Message, MessageKind

_EPOCH = datetime(1970, 1, 1)
_KINDS = {kind.value: kind for kind in MessageKind}

# Bumped when the layout below changes: a journal is read by the version that wrote it, or a
# later one. 1: [1, received_at, timezone, messages, rejections], one submission per entry;
# 2: [2, [[received_at, timezone, messages, rejections], ...]], a message a list of its fields,
# its time as integer microseconds; 3: [3, [Decoded, ...]], a message the `Message` Struct
# (times as RFC 3339 text without a zone: naive UTC, to the microsecond).
VERSION = 3


def micros(when: datetime) -> int:
    """A naive UTC time as integer microseconds since the epoch (exact, unlike a float)."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class Part(Protocol):
    """What one submission of an entry holds (ingest/group_commit.py `Submission` has it)."""

    received_at: datetime  # naive UTC, to the microsecond
    timezone: str  # the project's when the request came
    messages: list[Message]
    rejections: list[dict[str, Any]]  # rejected_items rows


class Decoded(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One submission of an entry read back; also its layout in the entry (version 3)."""

    received_at: datetime
    timezone: str
    messages: list[Message]
    rejections: list[dict[str, Any]]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(tuple[int, list[Decoded]])
_untyped = msgspec.msgpack.Decoder()  # entries of versions 1 and 2


def encode(parts: Sequence[Part]) -> bytes:
    """The body of one entry: submissions of one project, in order."""
    return _encoder.encode(
        (VERSION, [(p.received_at, p.timezone, p.messages, [_rejection(r) for r in p.rejections]) for p in parts])
    )


def decode(body: bytes) -> list[Decoded]:
    # Every version's body is an array whose first element is the version, a one-byte integer:
    # the array's header (one byte: 2 elements since version 2, 5 in version 1), then it.
    if body[1:2] != bytes((VERSION,)):
        return _decode_before_3(body)
    _version, parts = _decoder.decode(body)
    return [_with_rejections(part) if part.rejections else part for part in parts]


def _with_rejections(part: Decoded) -> Decoded:
    return Decoded(part.received_at, part.timezone, part.messages, [_rejection_from(r) for r in part.rejections])


def _rejection(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"received_at": micros(row["received_at"])}


def _rejection_from(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"received_at": from_micros(row["received_at"])}


# -- entries written before version 3 (a journal not yet applied when the server was upgraded) ---


def _decode_before_3(body: bytes) -> list[Decoded]:
    value = _untyped.decode(body)
    if value[0] == 1:  # one submission
        value = [2, [value[1:]]]
    version, parts = value
    if version != 2:
        raise ValueError(f"a journal entry of version {version} (this server reads 1 to {VERSION})")
    return [
        Decoded(
            from_micros(received_at),
            timezone,
            [_message_from(m) for m in messages],
            [_rejection_from(r) for r in rejections],
        )
        for received_at, timezone, messages, rejections in parts
    ]


def _message_from(row: list[Any]) -> Message:
    """A message back from its list of version 2."""
    kind, contact_uid, account_uid, event_name, alias, params, occurred, message_id, enrichment, given, key = row
    if enrichment is not None:
        location, agent = enrichment
        if location is None and agent is None:
            enrichment = NOTHING  # a server-side event: nothing was there to look up
        else:
            enrichment = Enrichment(
                None if location is None else Location(*location),
                None if agent is None else Agent(*agent),
            )
    return Message(
        _KINDS[kind],
        contact_uid,
        account_uid,
        event_name,
        alias,
        params,
        None if occurred is None else from_micros(occurred),
        message_id,
        enrichment,
        given,
        key,
    )
