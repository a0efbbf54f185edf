"""Submissions as the journal keeps them: bytes, and back.

One journal entry holds the submissions of one project that one append took together (each a
request's accepted messages and its refusals, in the order they came), in MessagePack, written
by msgspec: compact, fast both ways, and exact for what a `Message` holds (any JSON in params,
to the nesting the door accepts; times as integer microseconds, so an event's time comes back
to the microsecond). A `Message` is written as a list in field order; its enrichment as the
two tuples of its location and agent.

Many submissions to an entry, rather than one each, because single-event requests are one
message each: an entry per request cost the append a row and the projector a row read and a
decoding per event, more than the event's own decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from salesmachine_server.domain.messages import Message, MessageKind
from salesmachine_server.enrich.agents import Agent
from salesmachine_server.enrich.events import NOTHING, Enrichment
from salesmachine_server.enrich.geo import Location

_EPOCH = datetime(1970, 1, 1)
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()
_KINDS = {kind.value: kind for kind in MessageKind}

# Bumped when the layout below changes: a journal is read by the version that wrote it, or a
# later one. 1: [1, received_at, timezone, messages, rejections], one submission per entry;
# 2: [2, [[received_at, timezone, messages, rejections], ...]].
VERSION = 2


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


@dataclass(frozen=True)
class Decoded:
    """One submission of an entry read back."""

    received_at: datetime
    timezone: str
    messages: list[Message]
    rejections: list[dict[str, Any]]


def encode(parts: Sequence[Part]) -> bytes:
    """The body of one entry: submissions of one project, in order."""
    return _encoder.encode(
        [
            VERSION,
            [
                [
                    micros(p.received_at),
                    p.timezone,
                    [_message(m) for m in p.messages],
                    [_rejection(r) for r in p.rejections],
                ]
                for p in parts
            ],
        ]
    )


def decode(body: bytes) -> list[Decoded]:
    value = _decoder.decode(body)
    if value[0] == 1:  # written by a server before 2: one submission
        value = [2, [value[1:]]]
    version, parts = value
    if version != VERSION:
        raise ValueError(f"a journal entry of version {version} (this server reads {VERSION})")
    return [
        Decoded(
            from_micros(received_at),
            timezone,
            [_message_from(m) for m in messages],
            [_rejection_from(r) for r in rejections],
        )
        for received_at, timezone, messages, rejections in parts
    ]


def _message(m: Message) -> list[Any]:
    enrichment = None
    if m.enrichment is not None:
        location, agent = m.enrichment.location, m.enrichment.agent
        enrichment = [
            None if location is None else list(location.columns),
            None if agent is None else list(agent.columns),
        ]
    return [
        str(m.kind),
        m.contact_uid,
        m.account_uid,
        m.event_name,
        m.alias,
        m.params,
        None if m.occurred_at is None else micros(m.occurred_at),
        m.message_id,
        enrichment,
        m.account_given,
        m.import_key,
    ]


def _message_from(row: list[Any]) -> Message:
    """A message back from its list. The projector decodes every item it applies, so this
    avoids what costs here: the enum's call, keyword arguments, an object per empty enrichment."""
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
        None if occurred is None else _EPOCH + timedelta(microseconds=occurred),
        message_id,
        enrichment,
        given,
        key,
    )


def _rejection(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"received_at": micros(row["received_at"])}


def _rejection_from(row: dict[str, Any]) -> dict[str, Any]:
    return row | {"received_at": from_micros(row["received_at"])}
