"""Where and with what the latest visits came: from the params of the latest pageviews.

The browser library sends `visit_agent` and the server fills `visit_ip` (ingest/client_ip.py).
Location is shown when a pageview carries it (`visit_city`, `visit_country`, as an enrichment
step may add); until then the address is shown as it is. The browser's name is read from the
user agent by a few well-known markers: enough for a CSM to tell Chrome on Windows from Safari
on an iPhone, not a full parser (that belongs to an enrichment module with ua-parser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Order matters: Edge and Opera say Chrome too, Chrome says Safari too.
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"))
_SYSTEMS = (("Windows", "Windows"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Android", "Android"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


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


def _text(params: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = params.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def visit_of(occurred_at: datetime, params: dict[str, Any]) -> Visit:
    city = _text(params, "visit_city", "city")
    country = _text(params, "visit_country", "country")
    location = ", ".join(p for p in (city, country) if p) or None
    agent = _text(params, "visit_agent", "user_agent")
    return Visit(occurred_at, _text(params, "visit_url", "url"), _text(params, "visit_ip", "ip"), location,
                 browser_label(agent), agent)
