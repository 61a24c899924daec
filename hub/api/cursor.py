"""Opaque page cursors: the position of a page's last row, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
import uuid

from hub.storage import Position
from hub.storage.sites import DeviceKey
from wire import WireError, format_time, is_valid_id, parse_time

__all__ = ["decode_cursor", "decode_device_cursor", "encode_cursor", "encode_device_cursor"]

_SEPARATOR = "|"


def encode_cursor(position: Position) -> str:
    """The cursor for the page that starts after `position`."""
    return _encode(f"{format_time(position.at)}{_SEPARATOR}{position.id}")


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def _decode(cursor: str) -> str:
    padded = cursor + "=" * (-len(cursor) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")


def _refused(cursor: str) -> ValueError:
    return ValueError(f"cursor {cursor[:80]!r} is not one this API issued")


def decode_cursor(cursor: str) -> Position:
    """The position a cursor stands for; `ValueError` if this API did not issue it."""
    try:
        at, _, ident = _decode(cursor).partition(_SEPARATOR)
        return Position(at=parse_time(at), id=uuid.UUID(ident))
    except (ValueError, WireError, binascii.Error, UnicodeError) as exc:
        raise _refused(cursor) from exc


def encode_device_cursor(key: DeviceKey) -> str:
    """The cursor for the page of devices that starts after `key`."""
    return _encode(f"{key.site}{_SEPARATOR}{key.device}")


def decode_device_cursor(cursor: str) -> DeviceKey:
    """The device key a cursor stands for; `ValueError` if this API did not issue it."""
    try:
        site, _, device = _decode(cursor).partition(_SEPARATOR)
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise _refused(cursor) from exc
    if not (is_valid_id(site) and is_valid_id(device)):
        raise _refused(cursor)
    return DeviceKey(site=site, device=device)
