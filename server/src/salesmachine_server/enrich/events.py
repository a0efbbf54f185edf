"""Enrichment of one event: where from (its `visit_ip`) and with what (its `visit_agent`, or the
User-Agent of the browser that sent it), then what is kept of the address (ip_storage.py).

Runs on the write path when a request is parsed, before the group commit: the columns it fills
are written with the event in the same statement. Both lookups are cached, so an event costs
two dictionary hits in the usual case. `salesmachine enrich --backfill` runs the same code over
events stored before.
"""

from __future__ import annotations

import functools
from typing import Any

from salesmachine_server.domain.enrichment import NOTHING, Enrichment, Location
from salesmachine_server.enrich.agents import MAX_LENGTH as MAX_AGENT
from salesmachine_server.enrich.agents import parse_agent
from salesmachine_server.enrich.geo import Geolocator
from salesmachine_server.enrich.ip_storage import check_mode, kept
from salesmachine_server.settings import Settings

IP_KEY = "visit_ip"
AGENT_KEYS = ("visit_agent", "user_agent")
NOT_AN_ADDRESS = Location("invalid")
MAX_ADDRESS = 64


class Enricher:
    """The enrichment an operator configured: on or off, a .mmdb file or not, an IP storage mode."""

    def __init__(self, geolocator: Geolocator, ip_storage: str = "full", enabled: bool = True) -> None:
        self.geolocator = geolocator
        self.ip_storage = check_mode(ip_storage)
        self.enabled = enabled

    def event(self, params: dict[str, Any], browser_agent: str | None = None) -> Enrichment | None:
        """The enrichment of an event's params (None when turned off); `visit_ip` in the params is
        then replaced by what the IP storage mode keeps of it."""
        ip = params.get(IP_KEY)
        enrichment = self._derive(ip, params, browser_agent) if self.enabled else None
        if self.ip_storage != "full" and ip is not None:
            value = kept(ip, self.ip_storage)
            if value is None:
                del params[IP_KEY]
            else:
                params[IP_KEY] = value
        return enrichment

    def _derive(self, ip: Any, params: dict[str, Any], browser_agent: str | None) -> Enrichment:
        agent_text = params.get(AGENT_KEYS[0]) or params.get(AGENT_KEYS[1]) or browser_agent
        if ip is None and agent_text is None:  # most server-side events: nothing to look up
            return NOTHING
        location = self._locate(ip) if isinstance(ip, str) and ip else None
        # Cached by their text: bounded first, so that a cache full of huge strings stays small.
        agent = parse_agent(agent_text[:MAX_AGENT]) if isinstance(agent_text, str) and agent_text else None
        if location is None and agent is None:
            return NOTHING
        return Enrichment(location, agent)

    def _locate(self, text: str) -> Location:
        # No address is longer than 45 characters (IPv6 with an IPv4 tail) plus brackets and blanks.
        return self.geolocator.locate(text) if len(text) <= MAX_ADDRESS else NOT_AN_ADDRESS


def enricher_from(settings: Settings, enabled: bool | None = None) -> Enricher:
    """The enricher of these settings, made once per process (the .mmdb file opened once)."""
    return _enricher(settings.geoip_db, settings.ip_storage, settings.enrichment if enabled is None else enabled)


@functools.lru_cache(maxsize=8)
def _enricher(geoip_db: str, ip_storage: str, enabled: bool) -> Enricher:
    return Enricher(Geolocator(geoip_db or None), ip_storage, enabled)
