"""Mosquitto password files: `user:$7$ITERATIONS$SALT$HASH`, one line per user.

`$7$` is Mosquitto 2.0's PBKDF2-HMAC-SHA512 form: a 12-byte salt and a 64-byte hash,
both base64. The hashes are made here with `hashlib` rather than by `mosquitto_passwd -b`,
which would put every new password on a command line (visible in `ps` to other users of
the host); a test checks both agree. Passwords are random (`new_password`, 192 bits), so
the iteration count protects nothing a guess could reach; it stays near Mosquitto's own
default because the broker pays it on every CONNECT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Final

__all__ = ["ITERATIONS", "hash_password", "new_password", "parse_passwd", "render_passwd", "verify"]

ITERATIONS: Final = 1000
_SALT_BYTES: Final = 12
_TAG: Final = "7"


def new_password() -> str:
    """A fresh random password: 24 random bytes, URL-safe base64 (32 characters)."""
    return secrets.token_urlsafe(24)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The `$7$` hash Mosquitto checks `password` against."""
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"${_TAG}${iterations}${encoded[0]}${encoded[1]}"


def verify(password: str, hashed: str) -> bool:
    """Whether `password` matches the `$7$` hash `hashed` (constant-time compare)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != _TAG or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3]), base64.b64decode(parts[4])
    except ValueError:
        return False
    again = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]))
    return hmac.compare_digest(again, digest)


def parse_passwd(text: str) -> dict[str, str]:
    """User → hash from a password file's text; blank lines and `#` comments skipped."""
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        user, colon, hashed = line.partition(":")
        if not colon or not user:
            message = f"line {number} of the password file is not `user:hash`"
            raise ValueError(message)
        entries[user] = hashed
    return entries


def render_passwd(entries: dict[str, str]) -> str:
    """The password file's text, users sorted."""
    return "".join(f"{user}:{entries[user]}\n" for user in sorted(entries))
