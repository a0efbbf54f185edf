"""Where and with what the latest visits came, and the one-line summaries of a profile's head.

Location and browser are the event's enrichment columns (enrich/: country and city from its
`visit_ip`, browser, system and device from its `visit_agent`). For events stored before
enrichment and not backfilled yet, the params are read instead: `visit_city` / `visit_country`
when a client sent them, and the browser's name by a few well-known markers of the agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Order matters: Edge and Opera say Chrome too, Chrome says Safari too.
_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)
# What an address that is not located is shown as.
_SCOPES = {
    "private": "private network",
    "loopback": "this machine (loopback)",
    "link_local": "local link",
    "multicast": "multicast address",
    "unspecified": "unspecified address",
    "reserved": "reserved address",
    "invalid": "not an address",
}


@dataclass(frozen=True)
class Visit:
    at: datetime
    url: str | None
    ip: str | None
    location: str | None
    browser: str | None
    agent: str | None


def browser_label(agent: str | None) -> str | None:
    """'Chrome on Windows', 'Safari on iOS'; None without an agent; the bare agent's first word
    when no marker is known (a bot, curl)."""
    if not agent:
        return None
    browser = next((name for marker, name in _BROWSERS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), None)
    if browser is None:
        return re.split(r"[\s/]", agent.strip(), maxsplit=1)[0] or None
    return f"{browser} on {system}" if system else browser


def place(location: dict[str, Any] | None) -> str | None:
    """'Paris, Île-de-France, FR'; 'US'; a private or reserved address said as such; None."""
    if not location:
        return None
    parts = [location.get(k) for k in ("city", "region", "country")]
    text = ", ".join(p for p in parts if p)
    return text or _SCOPES.get(location.get("scope") or "")


def agent_label(agent: dict[str, Any] | None, versions: bool = True) -> str | None:
    """'Chrome 120 on Windows 10 (desktop)' ('Chrome on Windows (desktop)' without versions),
    'Googlebot 2 (bot)'; None when nothing is known."""
    if not agent:
        return None
    browser = _named(agent.get("browser"), agent.get("browser_version") if versions else None)
    system = _named(agent.get("os"), agent.get("os_version") if versions else None)
    text = " on ".join(p for p in (browser, system) if p)
    device = agent.get("device")
    if device:
        text = f"{text} ({device})" if text else device
    return text or None


def _named(name: str | None, version: str | None) -> str | None:
    if not name:
        return None
    major = version.split(".")[0] if version else None
    return f"{name} {major}" if major else name


def _text(params: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def visit_of(row: Any) -> Visit:
    """A pageview row of reads.events_page (params and enrichment columns)."""
    params = row.params
    location = place({"scope": row.ip_scope, "city": row.city, "region": None, "country": row.country})
    if location is None:
        city = _text(params, "visit_city", "city")
        country = _text(params, "visit_country", "country")
        location = ", ".join(p for p in (city, country) if p) or None
    agent = _text(params, "visit_agent", "user_agent")
    browser = agent_label(
        {"browser": row.browser, "os": row.os, "device": row.device}, versions=False
    ) or browser_label(agent)
    return Visit(
        row.occurred_at, _text(params, "visit_url", "url"), _text(params, "visit_ip", "ip"), location, browser, agent
    )
