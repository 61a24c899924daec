"""Where a webhook may point: the URL rules and the address rules (SSRF protection).

A URL is checked when the webhook is registered (`check_url`) and its host's addresses
before every attempt (`resolve`: DNS may have changed), and the attempt then connects to
the address that was checked, not to a fresh lookup. Refused unless the configuration's
`allow_networks` contains them: loopback, private (RFC 1918, ULA), link-local, CGNAT
(100.64.0.0/10), multicast, unspecified, reserved and every other non-global range, and
IPv6 forms that embed such an IPv4 address (mapped, 6to4, Teredo).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

import httpx

__all__ = [
    "MAX_URL_LENGTH",
    "Destination",
    "DestinationPolicy",
    "DestinationRefused",
    "address_refusal",
    "check_url",
    "resolve",
]

MAX_URL_LENGTH: Final = 2048
_RESOLVE_TIMEOUT_S: Final = 5.0
_MAX_ADDRESSES: Final = 16

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT: Final = ipaddress.IPv4Network("100.64.0.0/10")

# The first property that holds names the refusal; the order goes from most to least
# specific, so 127.0.0.1 is "loopback", not "private".
_CATEGORIES: Final = (
    ("unspecified", lambda ip: ip.is_unspecified),
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("CGNAT", lambda ip: ip in _CGNAT),
    ("reserved", lambda ip: ip.is_reserved),
    ("private", lambda ip: ip.is_private),
    ("not global", lambda ip: not ip.is_global),
)


class DestinationRefused(ValueError):  # noqa: N818 - a verdict
    """A webhook URL or one of its host's addresses is not allowed; says which and why."""


@dataclass(frozen=True, slots=True)
class DestinationPolicy:
    """What the hub's configuration allows beyond public https destinations."""

    allow_networks: tuple[IPNetwork, ...] = ()
    allow_http: bool = False


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked webhook URL, split into what a request needs."""

    url: str
    scheme: str
    host: str
    port: int
    literal: IPAddress | None
    """The host as an address, when the URL names one."""


def _embedded(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_refusal(ip: IPAddress, policy: DestinationPolicy) -> str | None:
    """Why a webhook may not connect to `ip` (`"loopback"`, ...), or None if it may."""
    if any(ip in network for network in policy.allow_networks if network.version == ip.version):
        return None
    inner = _embedded(ip)
    if inner is not None:
        reason = address_refusal(inner, policy)
        if reason is not None:
            return f"{reason} (embedded in {ip})"
    for name, test in _CATEGORIES:
        if test(ip):
            return name
    return None


def _split(url: str) -> SplitResult:
    if len(url) > MAX_URL_LENGTH:
        message = f"the URL is longer than {MAX_URL_LENGTH} characters"
        raise DestinationRefused(message)
    if not url.isascii():
        message = "the URL must be ASCII (write a host name in its xn-- form)"
        raise DestinationRefused(message)
    if any(c.isspace() or not c.isprintable() for c in url):
        message = "the URL contains white space or control characters"
        raise DestinationRefused(message)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        httpx.URL(url)  # what the attempt will parse must parse now
    except (ValueError, httpx.InvalidURL) as exc:
        raise DestinationRefused(f"not a valid URL: {exc}") from exc
    return parts


def check_url(url: str, policy: DestinationPolicy) -> Destination:
    """The destination `url` names; `DestinationRefused` if its form is not allowed, or
    it names an address that is refused (host names are checked by `resolve`)."""
    parts = _split(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused(f"the scheme must be https, not {parts.scheme!r}")
    if parts.scheme == "http" and not policy.allow_http:
        message = "the scheme must be https (plain http is not allowed by the hub)"
        raise DestinationRefused(message)
    if "@" in parts.netloc:
        message = "the URL must not carry a user name or password"
        raise DestinationRefused(message)
    if parts.fragment:
        message = "the URL must not have a fragment"
        raise DestinationRefused(message)
    host = parts.hostname
    if not host:
        message = "the URL has no host"
        raise DestinationRefused(message)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = address_refusal(literal, policy)
        if reason is not None:
            raise DestinationRefused(f"{literal} is a {reason} address")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Destination(url=url, scheme=parts.scheme, host=host, port=port, literal=literal)


async def resolve(destination: Destination, policy: DestinationPolicy) -> IPAddress:
    """The address to connect to: every address the host resolves to must be allowed
    (one refused address refuses the host); `DestinationRefused` otherwise."""
    if destination.literal is not None:
        reason = address_refusal(destination.literal, policy)
        if reason is not None:
            raise DestinationRefused(f"{destination.literal} is a {reason} address")
        return destination.literal
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT_S):
            found = await loop.getaddrinfo(
                destination.host, destination.port, type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError) as exc:
        raise DestinationRefused(f"{destination.host!r} does not resolve: {exc}") from exc
    addresses = [ipaddress.ip_address(info[4][0]) for info in found][:_MAX_ADDRESSES]
    if not addresses:
        raise DestinationRefused(f"{destination.host!r} has no address")
    for ip in addresses:
        reason = address_refusal(ip, policy)
        if reason is not None:
            raise DestinationRefused(f"{destination.host!r} resolves to {ip}, a {reason} address")
    return addresses[0]
