"""What is kept of a visitor's address: SALESMACHINE_IP_STORAGE.

- `full` (the default): `visit_ip` is stored as sent;
- `truncated`: the last octet of an IPv4 address and all but the first 48 bits of an IPv6
  address are zeroed (203.0.113.57 -> 203.0.113.0, 2001:db8:85a3:8d3:... -> 2001:db8:85a3::),
  as Google Analytics anonymizes addresses; a value that is not an address is not kept;
- `off`: no `visit_ip` is stored.

Geolocation happens before: the event's country (and city) are kept whatever the option.
"""

from __future__ import annotations

import ipaddress

from salesmachine_server.enrich.geo import parse_address

MODES = ("full", "truncated", "off")
IPV4_PREFIX = 24
IPV6_PREFIX = 48


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"SALESMACHINE_IP_STORAGE must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def truncate(text: str) -> str | None:
    """The address with its host part zeroed (/24, /48); None when it is not an address."""
    address = parse_address(text)
    if address is None:
        return None
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def kept(value: object, mode: str) -> object | None:
    """What to store of a `visit_ip` value under a mode (None: remove the key)."""
    if mode == "full":
        return value
    if mode == "off" or not isinstance(value, str):
        return None
    return truncate(value)
