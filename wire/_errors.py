"""The errors `wire` raises, all of them `ValueError`s.

::

    ValueError
     └── WireError               anything the wire contract refuses (also a bad time string)
          ├── TopicError         a topic name (or a topic builder argument) outside the contract
          └── PayloadError       a payload the hub must dead-letter, with the reason
               ├── PayloadTooLarge   over the topic's size limit; carries `size` and `limit`
               ├── PayloadInvalid    not JSON, wrong shape, a bad field; carries `path` and `reason`
               └── TopicMismatch     the topic names a site/kind/device the payload does not;
                                     carries `field`, `topic_value` and `payload_value`

Decoding never lets anything else escape: msgspec's errors and a `RecursionError` on
absurdly nested JSON become `PayloadInvalid`. Messages quote the offending value, cut to
`MAX_QUOTE` characters so a 64 KiB string never ends up in a log line.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "PayloadError",
    "PayloadInvalid",
    "PayloadTooLarge",
    "TopicError",
    "TopicMismatch",
    "WireError",
    "quote",
]

MAX_QUOTE: Final = 80


def quote(value: object, limit: int = MAX_QUOTE) -> str:
    """`repr(value)`, cut to about `limit` characters with a marker saying how much was cut."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


class WireError(ValueError):
    """Something the wire contract refuses."""


class TopicError(WireError):
    """A topic name, or an argument of a topic builder, that the contract does not allow."""


class PayloadError(WireError):
    """A payload the hub cannot take as it is: it goes to the dead letters with this reason."""


class PayloadTooLarge(PayloadError):  # noqa: N818 - the contract's names read as verdicts
    """A payload over its topic's size limit (checked before any decoding)."""

    def __init__(self, *, what: str, size: int, limit: int) -> None:
        super().__init__(f"{what} payload is {size} bytes, over the {limit}-byte limit")
        self.size = size
        self.limit = limit


class PayloadInvalid(PayloadError):  # noqa: N818 - see PayloadTooLarge
    """A payload that is not the JSON the contract describes.

    `path` is where it went wrong, in msgspec's notation (`$` is the whole document,
    `$.lanes.p0`, `$.ranges[3]`); `reason` says what is wrong there.
    """

    def __init__(self, *, what: str, path: str, reason: str) -> None:
        super().__init__(f"invalid {what} payload at {path}: {reason}")
        self.path = path
        self.reason = reason


class TopicMismatch(PayloadError):  # noqa: N818 - see PayloadTooLarge
    """A payload whose site, kind or device differs from the one its topic names."""

    def __init__(self, *, what: str, field: str, topic_value: str, payload_value: str) -> None:
        super().__init__(
            f"{what} topic says {field} {quote(topic_value)} "
            f"but the payload says {quote(payload_value)}"
        )
        self.field = field
        self.topic_value = topic_value
        self.payload_value = payload_value
