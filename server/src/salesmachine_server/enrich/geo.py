"""Where an IP address is.

Every address gets a scope: `public`, or one of `private` (RFC 1918, carrier-grade NAT, IPv6
unique local), `loopback`, `link_local`, `multicast`, `unspecified`, `reserved` (documentation,
benchmarking, future use and the rest of the special-purpose registry) or `invalid` (not an
address). Only a public address is located, never guessed: its country comes from iptocc,
which ships the Regional Internet Registries' allocation data in its wheel; region, city and
coordinates come from a MaxMind-format .mmdb file (GeoLite2-City, DB-IP City Lite...) when
SALESMACHINE_GEOIP_DB names one. When the file knows the address, its country is used with its
city so that the two agree; iptocc answers for the rest.

Lookups are cached (LRU by address text): traffic comes from far fewer addresses than events.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from typing import Any

import iptocc
import maxminddb

from salesmachine_server.domain.enrichment import Location

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IANA's special-purpose address registries, by scope. Anything else is public, except IPv6
# outside 2000::/3 (global unicast), which is not allocated: reserved.
_SPECIAL = {
    "unspecified": ("0.0.0.0/32", "::/128"),
    "loopback": ("127.0.0.0/8", "::1/128"),
    "link_local": ("169.254.0.0/16", "fe80::/10"),
    "multicast": ("224.0.0.0/4", "ff00::/8"),
    # RFC 1918; carrier-grade NAT (RFC 6598), a provider's private network; IPv6 unique local.
    "private": ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"),
    "reserved": (
        "0.0.0.0/8",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",  # this network, IETF, documentation, 6to4 relay, benchmarking, future
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "fec0::/10",
    ),
}


def _ranges(version: int) -> tuple[list[int], list[tuple[int, str]]]:
    """Sorted starts and (end, scope) of the special ranges of one IP version; where two start
    together the wider comes first, so that the narrower (0.0.0.0/32 in 0.0.0.0/8) is found."""
    spans = sorted(
        (
            (int(n.network_address), int(n.broadcast_address), scope)
            for scope, texts in _SPECIAL.items()
            for n in map(ipaddress.ip_network, texts)
            if n.version == version
        ),
        key=lambda span: (span[0], span[0] - span[1]),
    )
    return [start for start, _, _ in spans], [(end, scope) for _, end, scope in spans]


_V4, _V6 = _ranges(4), _ranges(6)
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


CACHE_SIZE = 65_536


def parse_address(text: str) -> Address | None:
    """An address as clients send it (surrounding blanks, `[v6]`, IPv4-mapped IPv6 as IPv4)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def scope_of(address: Address) -> str:
    """The address's scope, by a binary search over the special ranges (ipaddress's is_global
    and is_private walk their lists on every call: several times slower, and this runs per
    cache miss). The ranges are disjoint but for one nesting (0.0.0.0/32 in 0.0.0.0/8), the
    wider sorted first: the nearest range starting at or before the address, else the one
    before it, is the only one that can hold it."""
    value = int(address)
    starts, spans = _V4 if address.version == 4 else _V6
    index = bisect.bisect_right(starts, value) - 1
    for candidate in (index, index - 1):
        if candidate >= 0 and value <= spans[candidate][0]:
            return spans[candidate][1]
    if address.version == 6 and address not in _GLOBAL_UNICAST:
        return "reserved"
    return "public"


class Geolocator:
    """Addresses -> Locations, with iptocc and, optionally, a .mmdb file for cities."""

    def __init__(self, mmdb_path: str | None = None, cache_size: int = CACHE_SIZE) -> None:
        self.mmdb_path = mmdb_path or None
        # Raises (FileNotFoundError, maxminddb.InvalidDatabaseError) at start-up, not per event.
        self._reader = maxminddb.open_database(self.mmdb_path) if self.mmdb_path else None
        self.locate = functools.lru_cache(maxsize=cache_size)(self._locate)

    def _locate(self, text: str) -> Location:
        address = parse_address(text)
        if address is None:
            return Location("invalid")
        scope = scope_of(address)
        if scope != "public":
            return Location(scope)
        found = self._from_mmdb(address) if self._reader is not None else None
        if found is not None and found.country is not None:
            return found
        # The text as sent when it is the plain dotted form (spares str(address)), else the address.
        plain = text.strip()
        plain = plain if address.version == 4 and plain[:1].isdigit() and ":" not in plain else str(address)
        country = iptocc.country_code(plain)
        if found is not None:  # a city without a country in the file: iptocc's country
            return Location("public", country, found.region, found.city, found.latitude, found.longitude)
        return Location("public", country)

    def _from_mmdb(self, address: Address) -> Location | None:
        assert self._reader is not None
        try:
            record = self._reader.get(address)
        except ValueError:  # an IPv6 address in an IPv4-only file
            return None
        if not isinstance(record, dict):
            return None
        return _mmdb_location(record)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _mmdb_location(record: dict[str, Any]) -> Location:
    """MaxMind's City layout (also DB-IP's and IPinfo's lite files), or flat keys."""
    country = _iso(record.get("country")) or _iso(record.get("registered_country")) or _text(record.get("country_code"))
    subdivisions = record.get("subdivisions")
    region = _name(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else _text(record.get("region"))
    city = _name(record.get("city"))
    found = record.get("location")
    location: dict[str, Any] = found if isinstance(found, dict) else record
    return Location(
        "public",
        country.upper() if country and len(country) == 2 else None,
        _clip(region),
        _clip(city),
        _number(location.get("latitude")),
        _number(location.get("longitude")),
    )


def _iso(value: Any) -> str | None:
    return _text(value.get("iso_code")) if isinstance(value, dict) else None


def _name(value: Any) -> str | None:
    """The English name of a city or subdivision (`{"names": {"en": ...}}`), or a bare string."""
    if isinstance(value, dict):
        names = value.get("names")
        if isinstance(names, dict):
            return _text(names.get("en")) or next((n for n in names.values() if isinstance(n, str) and n), None)
        return _text(value.get("name"))
    return _text(value)


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _clip(value: str | None) -> str | None:
    return value[:255] if value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
