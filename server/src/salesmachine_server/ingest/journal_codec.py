"""A submission as the journal keeps it: bytes, and back.

One journal entry is one request's submission (its accepted messages and its refusals) in
MessagePack, written by msgspec: compact, fast both ways, and exact for what a `Message` holds
(any JSON in params, to the nesting the door accepts; times as integer microseconds, so an
event's time comes back to the microsecond). A `Message` is written as a list in field order;
its enrichment as the two tuples of its location and agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from salesmachine_server.domain.messages import Message, MessageKind
from salesmachine_server.enrich.agents import Agent
from salesmachine_server.enrich.events import NOTHING, Enrichment
from salesmachine_server.enrich.geo import Location

_EPOCH = datetime(1970, 1, 1)
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder()
_KINDS = {kind.value: kind for kind in MessageKind}

# Bumped when the layout below changes: a journal is read by the version that wrote it, or a later one.
VERSION = 1


def micros(when: datetime) -> int:
    """A naive UTC time as integer microseconds since the epoch (exact, unlike a float)."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class Decoded:
    """One entry read back: what the request's `Submission` held."""

    received_at: datetime  # naive UTC, to the microsecond
    timezone: str  # the project's when the request came
    messages: list[Message]
    rejections: list[dict[str, Any]]  # rejected_items rows


def encode(received_at: datetime, timezone: str, messages: list[Message], rejections: list[dict[str, Any]]) -> bytes:
    return _encoder.encode(
        [
            VERSION,
            micros(received_at),
            timezone,
            [_message(m) for m in messages],
            [_rejection(r) for r in rejections],
        ]
    )


def decode(body: bytes) -> Decoded:
    version, received_at, timezone, messages, rejections = _decoder.decode(body)
    if version != VERSION:
        raise ValueError(f"a journal entry of version {version} (this server reads {VERSION})")
    return Decoded(
        from_micros(received_at),
        timezone,
        [_message_from(m) for m in messages],
        [_rejection_from(r) for r in rejections],
    )


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
