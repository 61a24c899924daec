"""Where the fleet connects: an `mqtt://user:password@host:port` URL as a value.

The fleet's one parser of broker URLs; a bad URL is a `ValueError` naming what is
wrong, which the command line turns into a usage error.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

__all__ = ["NODELAY", "Broker", "parse_broker_url"]

DEFAULT_PORT: Final = 1883
# Nagle's algorithm off, as the agent and the hub do (docs/delivery.md): with it, small
# QoS 1 publishes wait for the broker's delayed TCP ACK, ~40 ms per window of messages.
NODELAY: Final = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@dataclass(frozen=True, slots=True)
class Broker:
    """An MQTT broker the fleet connects to (plain TCP)."""

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The URL without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> Broker:
    """The broker at `url`, `mqtt://[user[:password]@]host[:port]`; else `ValueError`."""
    parts = urlsplit(url)
    if parts.scheme != "mqtt":
        raise ValueError(f"broker URL {url!r} must start with mqtt:// (TLS is not supported)")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r} has a bad port") from exc
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} names no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {url!r} must not have a path, query or fragment")
    return Broker(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
