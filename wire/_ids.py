"""Identifier rules: site and device ids, rule names, and UUIDv7 event ids.

Site and device ids are lowercase ASCII so that they are safe as MQTT topic levels, as
MQTT usernames, in file names and in URLs without escaping. A leading `_` is reserved for
the contract's own levels (`shouwang/v1/_hub/...`), so no site can collide with them.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
import uuid
from typing import Annotated, Final

import msgspec

__all__ = [
    "ID_PATTERN",
    "RULE_PATTERN",
    "DeviceId",
    "SiteId",
    "is_valid_id",
    "new_event_id",
]

# `\Z`, not `$`: `$` also matches before a trailing newline, and "site\n" is not an id.
# `[0-9]`, not `\d`: `\d` matches every Unicode digit.
ID_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}\Z"
RULE_PATTERN: Final = r"^[a-z0-9][a-z0-9_.-]{0,127}\Z"

_ID_RE: Final = re.compile(ID_PATTERN)

SiteId = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="monitoring room")]
DeviceId = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="unique per site")]


def is_valid_id(value: str) -> bool:
    """Whether `value` is a valid site or device id (`[a-z0-9][a-z0-9_-]{0,63}`)."""
    return _ID_RE.match(value) is not None


class _Uuid7Source:
    """RFC 9562 UUIDv7 with monotonic ordering within the process (method 2).

    The 74 bits after the 48-bit millisecond timestamp are random; within one millisecond
    (or when the wall clock steps back) the previous value is incremented instead, so ids
    made by one process sort in the order they were made.
    """

    _RANDOM_BITS: Final = 74

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_random = 0

    def reset(self) -> None:
        """Forget the last id: a forked child must not continue its parent's sequence."""
        self._lock = threading.Lock()
        self._last_ms = 0
        self._last_random = 0

    def next(self) -> uuid.UUID:
        """A fresh UUIDv7, greater than every one this source made before."""
        now_ms = time.time_ns() // 1_000_000
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._last_random = secrets.randbits(self._RANDOM_BITS)
            else:
                self._last_random += 1
                if self._last_random >> self._RANDOM_BITS:
                    # 2**74 ids in one millisecond will not happen; borrow the next one anyway.
                    self._last_ms += 1
                    self._last_random = secrets.randbits(self._RANDOM_BITS)
            ms, rand = self._last_ms, self._last_random
        rand_a, rand_b = rand >> 62, rand & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
        return uuid.UUID(int=value)


_SOURCE: Final = _Uuid7Source()
os.register_at_fork(after_in_child=_SOURCE.reset)


def new_event_id() -> uuid.UUID:
    """A new event id: a UUIDv7 (RFC 9562), time-ordered and monotonic within the process."""
    return _SOURCE.next()
