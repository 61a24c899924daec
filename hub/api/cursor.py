"""Opaque page cursors: the position of a page's last row, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import uuid

from hub.storage import Position
from wire import WireError, format_time, parse_time

__all__ = ["decode_cursor", "encode_cursor"]

_SEPARATOR = "|"


def encode_cursor(position: Position) -> str:
    """The cursor for the page that starts after `position`."""
    text = f"{format_time(position.at)}{_SEPARATOR}{position.id}"
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor stands for; `ValueError` if this API did not issue it."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        at, _, ident = text.partition(_SEPARATOR)
        return Position(at=parse_time(at), id=uuid.UUID(ident))
    except (ValueError, WireError, binascii.Error, UnicodeError) as exc:
        message = f"cursor {cursor[:80]!r} is not one this API issued"
        raise ValueError(message) from exc
