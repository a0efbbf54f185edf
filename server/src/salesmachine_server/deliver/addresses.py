"""Where webhooks and Slack messages may go: public addresses only, checked after DNS.

A URL a user types into a playbook would otherwise let them make this server call what only it
can reach: its own admin ports, the database, the office network, a cloud's metadata service and
its credentials (server-side request forgery). So a URL is refused, when it is saved
(`check_url`) and again when it is sent (`resolve`, by deliver/webhooks.py), when its host
resolves to a loopback, private, link-local, shared, reserved or metadata address. The sender
then connects to the very address it checked (deliver/webhooks.py pins it), so a name that
resolved to a public address at the check and to 127.0.0.1 a moment later (DNS rebinding)
reaches nothing it should not. Every address a name resolves to must pass: a name that resolves
to one public and one private address is refused.

`SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS=1` allows loopback, private and link-local
addresses (a receiver on the same machine or network, as GitLab's "allow requests to the local
network"; the tests' receivers listen on 127.0.0.1). Metadata addresses stay refused even then:
no webhook is meant for them. Only http and https.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from salesmachine_server.settings import Settings

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata services (credentials of the machine's cloud role): AWS, GCP, Azure and most
# others (169.254.169.254, and AWS's IPv6 one), AWS ECS tasks, Alibaba, Oracle.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200", "192.0.0.192")
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SCHEMES = {"http": 80, "https": 443}


class AddressRefused(ValueError):
    """A URL deliveries may not go to; `reason` says why, in words, and `rule` in one word
    (scheme, url, resolves, metadata, loopback, link_local, private, public_address)."""

    def __init__(self, reason: str, rule: str = "public_address") -> None:
        super().__init__(reason)
        self.reason = reason
        self.rule = rule


class Unresolvable(AddressRefused):
    """The host does not resolve now: accepted when saved, a retry later when sending."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """A URL whose host resolved to `addresses`, each allowed: connect to one of these."""

    url: str
    host: str
    port: int
    addresses: tuple[str, ...]


def check_url(url: str, *, allow_private: bool | None = None) -> None:
    """Refuse (AddressRefused) a webhook or Slack URL that is not http(s) or whose host resolves
    to an address deliveries may not reach. `allow_private` None: the server setting
    SALESMACHINE_DELIVERY_ALLOW_PRIVATE_NETWORKS decides.

    A host that does not resolve now is accepted: it is checked again, resolved, at every send
    (a playbook may name an endpoint before its DNS exists; `https://hooks.example.com/cs` is the
    issue's own example)."""
    try:
        resolve(url, allow_private=allow_private)
    except Unresolvable:
        return


def resolve(url: str, *, allow_private: bool | None = None) -> Resolved:
    """The URL's host resolved, every address checked (module docstring); AddressRefused else."""
    if allow_private is None:
        allow_private = Settings.from_env().delivery_allow_private_networks
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"the URL cannot be read: {exc}", "url") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise AddressRefused(f"only http and https URLs are allowed, not {parts.scheme or 'none'!r}", "scheme")
    host = parts.hostname
    if not host:
        raise AddressRefused("the URL names no host", "url")
    port = port or SCHEMES[scheme]
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"the host {host!r} does not resolve ({exc})", "resolves") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0]).split("%", 1)[0]  # an IPv6 scope (%eth0) is no part of the address
        why = refused_because(ipaddress.ip_address(address), allow_private=allow_private)
        if why is not None:
            rule, words = why
            raise AddressRefused(f"{host} resolves to {address}, {words}", rule)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise Unresolvable(f"the host {host!r} resolves to no address", "resolves")
    return Resolved(url=url, host=host, port=port, addresses=tuple(addresses))


def refused_because(address: IpAddress, *, allow_private: bool) -> tuple[str, str] | None:
    """(rule, words) when deliveries may not go to `address`; None when they may."""
    for seen in _forms(address):
        if seen in METADATA:
            return "metadata", "a cloud metadata address"
    if allow_private:
        return None
    forms = _forms(address)
    if any(seen.is_loopback or seen.is_unspecified for seen in forms):
        return "loopback", "a loopback address (this machine)"
    if any(seen.is_link_local for seen in forms):
        return "link_local", "a link-local address"
    if any(seen.is_private for seen in forms):
        return "private", "a private network address"
    if not all(seen.is_global for seen in forms):
        return "public_address", "not a public address (shared, reserved or multicast)"
    return None


def _forms(address: IpAddress) -> list[IpAddress]:
    """The address and any IPv4 address it carries (mapped, 6to4, NAT64): ::ffff:127.0.0.1 is
    127.0.0.1 to the network stack."""
    forms: list[IpAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            forms.append(address.ipv4_mapped)
        if address.sixtofour is not None:
            forms.append(address.sixtofour)
        if address in NAT64:
            forms.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return forms
