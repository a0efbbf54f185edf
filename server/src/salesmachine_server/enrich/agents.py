"""What a visitor uses: a user agent string -> browser, operating system, device type.

ua-parser (uap-core's rules, with its Rust accelerator) names the browser and the operating
system with their versions and the device's family. It has no notion of device type, so that is
derived here: `bot` for what uap-core calls a spider; `tablet` for iPads, devices it files as
tablets and Android without "Mobile" (Android tablets leave it out); `mobile` for iPhones, iOS
and other phone systems and Android with "Mobile"; `desktop` for Windows, macOS, Linux and
ChromeOS; None when nothing tells (curl, an HTTP library).

Parsing costs ~20 us; results are cached by string (LRU), and real traffic repeats few agents.
"""

from __future__ import annotations

import functools
from typing import Any

import ua_parser

from salesmachine_server.domain.enrichment import Agent

MAX_LENGTH = 1024  # longer strings are parsed by their start (hostile input must stay cheap)
CACHE_SIZE = 16_384
_MOBILE_SYSTEMS = {
    "iOS",
    "Windows Phone",
    "Windows Mobile",
    "BlackBerry OS",
    "BlackBerry",
    "KaiOS",
    "Firefox OS",
    "Symbian OS",
    "Symbian^3",
    "webOS",
    "Sailfish",
}
_DESKTOP_SYSTEMS = {
    "Mac OS X",
    "macOS",
    "Linux",
    "Ubuntu",
    "Debian",
    "Fedora",
    "Red Hat",
    "CentOS",
    "SUSE",
    "openSUSE",
    "Mint",
    "Linux Mint",
    "Arch Linux",
    "Gentoo",
    "Slackware",
    "Mandriva",
    "Chrome OS",
    "FreeBSD",
    "OpenBSD",
    "NetBSD",
    "Solaris",
    "Kubuntu",
    "Xubuntu",
    "elementary OS",
}


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_agent(text: str) -> Agent | None:
    """None for a blank string or one nothing can be read from."""
    text = text.strip()[:MAX_LENGTH]
    if not text:
        return None
    result = ua_parser.parse(text)
    agent = Agent(
        _family(result.user_agent, 64),
        _version(result.user_agent),
        _family(result.os, 64),
        _version(result.os),
        device_type(result, text),
    )
    return None if agent == _NOTHING else agent


_NOTHING = Agent(None, None, None, None, None)


def device_type(result: ua_parser.Result, text: str) -> str | None:
    device = result.device
    family = device.family if device else ""
    brand = (device.brand or "") if device else ""
    system = result.os.family if result.os else ""
    if family == "Spider":
        return "bot"
    if family == "iPad" or "Tablet" in brand or "Tablet" in family or family.startswith("Kindle"):
        return "tablet"
    if family in ("iPhone", "iPod") or system in _MOBILE_SYSTEMS:
        return "mobile"
    if system == "Android":
        return "mobile" if "Mobile" in text else "tablet"
    if system.startswith("Windows") or system in _DESKTOP_SYSTEMS:
        return "desktop"
    if "Mobile" in text:
        return "mobile"
    return None


def _family(part: Any, limit: int) -> str | None:
    family = getattr(part, "family", None) if part is not None else None
    return family[:limit] if family and family != "Other" else None


def _version(part: Any) -> str | None:
    if part is None:
        return None
    numbers = []
    for number in (part.major, part.minor, part.patch, getattr(part, "patch_minor", None)):
        if not number:
            break
        numbers.append(number)
    return ".".join(numbers)[:32] or None
