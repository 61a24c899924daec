"""One webhook attempt: check the destination again, sign, POST, read a bounded answer.

The request goes to the address `destinations.resolve` just checked (the URL's host is
replaced by it; `Host` and TLS SNI keep the name, so certificates are still verified for
the name), so a DNS answer that changes between the check and the connection cannot
point the hub elsewhere. Redirects are not followed, proxies from the environment are
not used, and connections are not reused (one connection per checked address).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import httpx

from hub.notify.destinations import DestinationRefused, check_url, resolve
from hub.notify.signing import signature_header

if TYPE_CHECKING:
    from hub.config import WebhooksConfig
    from hub.notify.destinations import DestinationPolicy
    from hub.storage.webhook_queue import Outgoing

__all__ = ["EXCERPT_BYTES", "Outcome", "Result", "make_client", "outcome_of", "send"]

EXCERPT_BYTES: Final = 4096
"""How much of a receiver's answer is read and kept in the delivery log."""

USER_AGENT: Final = "shouwang-hub-webhooks/1"


class Outcome(StrEnum):
    """What an attempt means for its message."""

    DELIVERED = "delivered"  # a 2xx
    GONE = "gone"  # a 410: the receiver asks us to stop; the endpoint is disabled
    RETRY = "retry"  # anything else: another 4xx/5xx, a 3xx, a timeout, a refused address


@dataclass(frozen=True, slots=True)
class Result:
    """What one attempt got: a status code, or an error (never both)."""

    status_code: int | None
    error: str | None
    duration_ms: int
    excerpt: str | None

    @property
    def outcome(self) -> Outcome:
        """The consequence of this result."""
        return outcome_of(self.status_code)


def outcome_of(status_code: int | None) -> Outcome:
    """Delivered on 2xx, gone on 410, retried otherwise (no answer included)."""
    match status_code:
        case int() if 200 <= status_code < 300:
            return Outcome.DELIVERED
        case 410:
            return Outcome.GONE
        case _:
            return Outcome.RETRY


def make_client(config: WebhooksConfig) -> httpx.AsyncClient:
    """The HTTP client of the webhook relay: bounded timeouts, no redirects, no proxies."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            connect=config.connect_timeout_s,
            read=config.read_timeout_s,
            write=config.read_timeout_s,
            pool=config.connect_timeout_s,
        ),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=config.max_in_flight, max_keepalive_connections=0),
    )


def _excerpt(data: bytes) -> str | None:
    if not data:
        return None
    # PostgreSQL text cannot hold NUL; the log is for people, so replace it.
    return data[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


async def _post(
    client: httpx.AsyncClient, message: Outgoing, policy: DestinationPolicy
) -> tuple[int, bytes]:
    """POST the signed message to its checked address: (status, start of the body)."""
    destination = check_url(message.url, policy)
    address = await resolve(destination, policy)
    url = httpx.URL(destination.url).copy_with(host=str(address))
    timestamp = int(time.time())
    headers = {
        "Host": urlsplit(destination.url).netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Accept-Encoding": "identity",
        "webhook-id": message.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            message.secrets, message.webhook_id, timestamp, message.payload
        ),
    }
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    request = client.build_request(
        "POST", url, content=message.payload, headers=headers, extensions=extensions
    )
    response = await client.send(request, stream=True)
    try:
        body = b""
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) >= EXCERPT_BYTES:
                break
    finally:
        await response.aclose()
    return response.status_code, body


async def send(
    client: httpx.AsyncClient, message: Outgoing, policy: DestinationPolicy, total_s: float
) -> Result:
    """One attempt to deliver `message`, within `total_s` seconds; never raises for what
    the receiver, the network or DNS do."""
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    body = b""
    try:
        async with asyncio.timeout(total_s):
            status_code, body = await _post(client, message, policy)
    except DestinationRefused as exc:
        error = f"destination refused: {exc}"
    except TimeoutError:
        error = f"no answer within {total_s:g} s"
    except httpx.TimeoutException as exc:
        error = f"timeout: {type(exc).__name__}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1024]
    duration_ms = round((time.monotonic() - started) * 1000)
    return Result(
        status_code=status_code, error=error, duration_ms=duration_ms, excerpt=_excerpt(body)
    )
