"""What enrichment found for an event: where it came from (`Location`) and with what (`Agent`).

The lookups that find them are in enrich/; these are the values, kept here because a `Message`
carries them into the journal (domain/messages.py, ingest/journal_codec.py). msgspec Structs
written as arrays in field order, so that msgspec builds them straight from a journal entry;
frozen, so that the lookups' caches can hand the same one to many events. The fields of each
are, in order, the events columns they fill (store/write/event_insert.py ENRICHMENT_COLUMNS).
"""

from __future__ import annotations

from typing import Any

import msgspec

VERSION = 1  # stored in events.enrichment: what a later backfill may look for


class Location(msgspec.Struct, frozen=True, array_like=True, gc=False):
    scope: str  # public, private, loopback, link_local, multicast, unspecified, reserved, invalid
    country: str | None = None
    region: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def columns(self) -> tuple[Any, ...]:
        """The values of the events columns ip_scope .. longitude."""
        return (self.scope, self.country, self.region, self.city, self.latitude, self.longitude)


class Agent(msgspec.Struct, frozen=True, array_like=True, gc=False):
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device: str | None  # desktop, mobile, tablet, bot

    @property
    def columns(self) -> tuple[Any, ...]:
        """The values of the events columns browser .. device."""
        return (self.browser, self.browser_version, self.os, self.os_version, self.device)


class Enrichment(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """An event's location and agent (either may be None: `NOTHING` when both are)."""

    location: Location | None = None
    agent: Agent | None = None

    def columns(self) -> tuple[Any, ...]:
        """Values of events.ip_scope .. device, enrichment (event_insert.ENRICHMENT_COLUMNS)."""
        where = self.location.columns if self.location is not None else _NO_LOCATION
        what = self.agent.columns if self.agent is not None else _NO_AGENT
        return where + what + (VERSION,)


_NO_LOCATION = (None,) * 6
_NO_AGENT = (None,) * 5
NOTHING = Enrichment()  # enriched, nothing found: no address, no agent (most server-side events)
