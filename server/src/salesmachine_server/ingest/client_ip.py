"""The address a browser wrote from, kept as `visit_ip` on its events and pageviews (the
pipeline's visit IP step, pipeline.py, fills it in).

The browser library cannot know the visitor's public address, so the server fills `visit_ip`
from the connection on events and pageviews written with the token in the query or a form (the
browser's transports) that do not carry one. Server-side clients (Basic credentials) are left
alone: their connection is the customer's backend, not the visitor.

Behind a reverse proxy the connection is the proxy's, and the client is named in
`X-Forwarded-For`. That header is trusted only from the proxies listed in
`SALESMACHINE_TRUSTED_PROXIES` (IPs and CIDRs, comma-separated; empty by default): walking it
from the right, each hop added by a trusted proxy is skipped, and the first address that a
trusted proxy reported is the client. Anyone can send the header, so from anywhere else it is
ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from salesmachine_server.enrich.geo import parse_address

log = logging.getLogger("salesmachine")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def trusted_networks(spec: str) -> tuple[Network, ...]:
    """`"10.0.0.0/8, 192.0.2.7"` -> networks. An entry that is not an IP or a CIDR is ignored
    (and logged): trusting less than asked is the safe mistake."""
    networks = []
    for entry in spec.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            log.warning("SALESMACHINE_TRUSTED_PROXIES: %r is not an IP address or a CIDR; ignored", entry)
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as proxies write it: bare, `1.2.3.4:port`, `[v6]` or `[v6]:port`; the port
    is dropped here, the rest read as enrichment reads every address (geo.parse_address)."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    return parse_address(text)


def client_ip(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str | None:
    """The client's address: the peer, or, when the peer is a trusted proxy, the rightmost
    address of X-Forwarded-For (all its headers, in order) that no trusted proxy added."""
    current = _address(peer) if peer else None
    if current is None:
        return peer or None
    hops = [hop for header in forwarded_for for hop in header.split(",") if hop.strip()]
    while hops and any(current in network for network in trusted):
        previous = _address(hops.pop())
        if previous is None:  # garbage where a proxy should have written an address
            break
        current = previous
    return str(current)


def request_client_ip(scope: Mapping[str, Any], trusted_spec: str) -> str | None:
    client = scope.get("client")
    forwarded = [value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"]
    return client_ip(client[0] if client else None, forwarded, trusted_networks(trusted_spec))


def behind_trusted_proxy(scope: Mapping[str, Any], trusted_spec: str) -> bool:
    """Whether the connection comes from a proxy of SALESMACHINE_TRUSTED_PROXIES, whose
    X-Forwarded-* headers may then be believed."""
    client = scope.get("client")
    peer = _address(client[0]) if client else None
    return peer is not None and any(peer in network for network in trusted_networks(trusted_spec))
