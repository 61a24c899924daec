"""Standard Webhooks signatures (https://www.standardwebhooks.com/): sign and verify.

A secret reads `whsec_<base64 of 32 random bytes>`; the key is the decoded bytes. A
signature is `v1,` + base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{body}")),
and `webhook-signature` carries one per secret in use, separated by spaces (two during a
secret rotation). `verify` is exactly the consumer recipe of docs/alerting.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "SECRET_PREFIX",
    "InvalidSignature",
    "new_secret",
    "sign",
    "signature_header",
    "verify",
]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a marker, not a secret
SECRET_BYTES: Final = 32


class InvalidSignature(ValueError):  # noqa: N818 - the verdict, as in the standard's libraries
    """A webhook's headers do not prove it came from the hub, now, unchanged."""


def new_secret() -> str:
    """A fresh signing secret (`whsec_` + base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of `body` sent as `msg_id` at `timestamp`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    secrets_in_use: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` value: one signature per secret, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_in_use)


# -- the consumer recipe (docs/alerting.md shows this function verbatim) --------------
def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> None:
    """Raise InvalidSignature unless `body` with `headers` was signed with `secret`,
    at most `tolerance_s` seconds from `now`."""
    lower = {name.lower(): value for name, value in headers.items()}
    try:
        msg_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
        offered = lower["webhook-signature"].split(" ")
    except (KeyError, ValueError) as exc:
        message = "missing or malformed webhook headers"
        raise InvalidSignature(message) from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise InvalidSignature(f"timestamp {timestamp} is too far from now")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in offered:
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return
    message = "no signature matches"
    raise InvalidSignature(message)
