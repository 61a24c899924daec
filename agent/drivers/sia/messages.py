"""The data of a DC-09 message: its block, x-data, timestamp, and the codes it reports.

After the ``[`` that opens it (and, for an encrypted frame, after decryption), a
message reads ``data] [x-data]… _HH:MM:SS,MM-DD-YYYY``. The data may repeat the
account (``#1234|…``). Contact ID data is ``QEEE PP ZZZ`` (qualifier, event code,
partition, zone or user); SIA-DCS data is ``N`` then ``/``-separated fields:
``ri`` area, ``id`` user, ``ti`` time, and codes (``BA015``: code BA, zone 15).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from agent.drivers.sia.codes import Reading, contact_id, sia_dcs

__all__ = ["Content", "ContentError", "Signal", "parse_content", "read_contact_id", "read_sia_dcs"]

_CONTENT: Final = re.compile(
    r"(?P<data>[^\]]*)\]"
    r"(?P<extended>(?:\[[^\]]*\])*)"
    r"(?:_(?P<timestamp>\d\d:\d\d:\d\d,\d\d-\d\d-\d{4}))?"
)
_EXTENDED: Final = re.compile(r"\[([^\]]*)\]")
_ACCOUNT_PREFIX: Final = re.compile(r"#(?P<account>[0-9A-Fa-f]{3,16})\|")
_CONTACT_ID: Final = re.compile(
    r"(?P<qualifier>\d)(?P<code>\d{3}) (?P<partition>\d{2}) (?P<number>\d{3})"
)
_SIA_FIELD: Final = re.compile(
    r"(?:ri(?P<area>\d{1,4}))?"
    r"(?:ti(?P<time>\d\d:\d\d))?"
    r"(?:id(?P<user>\d{1,5}))?"
    r"(?:(?P<code>[A-Z]{2})(?P<number>\d{0,5}))?"
    r"(?:\^(?P<text>[^^]{0,64})\^)?"
)


class ContentError(ValueError):
    """Message data that is not DC-09 (no closing ``]``, a timestamp that is not a time)."""


@dataclass(frozen=True, slots=True)
class Content:
    """A message's data block (account prefix removed), its x-data, and its timestamp."""

    data: str
    extended: tuple[str, ...]
    timestamp: datetime | None


@dataclass(frozen=True, slots=True)
class Signal:
    """One code a message reports: the code as sent, its reading (None: unmapped) and number.

    `number` is the zone or user number that came with the code (which one, the reading's
    subject says); `partition` is the Contact ID partition or the SIA area.
    """

    code: str
    reading: Reading | None
    number: int | None
    partition: int | None
    user: int | None = None


def parse_content(text: str) -> Content:
    """The content after the ``[`` of a (decrypted) message; `ContentError` if malformed."""
    found = _CONTENT.fullmatch(text)
    if found is None:
        raise ContentError(f"not DC-09 message data: {text[:64]!r}")
    timestamp = None
    if found["timestamp"] is not None:
        try:
            timestamp = datetime.strptime(found["timestamp"], "%H:%M:%S,%m-%d-%Y").replace(
                tzinfo=UTC
            )
        except ValueError as exc:
            raise ContentError(f"not a time: {found['timestamp']!r}") from exc
    data = found["data"]
    if prefix := _ACCOUNT_PREFIX.match(data):
        data = data[prefix.end() :]
    return Content(
        data=data,
        extended=tuple(_EXTENDED.findall(found["extended"])),
        timestamp=timestamp,
    )


def read_contact_id(data: str) -> tuple[Signal, ...]:
    """The one event of Contact ID data ``QEEE PP ZZZ``; empty if it is not that."""
    found = _CONTACT_ID.fullmatch(data.strip())
    if found is None:
        return ()
    qualifier, code = int(found["qualifier"]), int(found["code"])
    return (
        Signal(
            code=f"{qualifier}{code:03d}",
            reading=contact_id(qualifier, code),
            number=int(found["number"]),
            partition=int(found["partition"]),
        ),
    )


def read_sia_dcs(data: str) -> tuple[Signal, ...]:
    """Every code of SIA-DCS data (``Nri1/BA015/BR016``); empty if a field does not parse."""
    body = data.removeprefix("N")
    signals: list[Signal] = []
    area: int | None = None
    user: int | None = None
    for field in body.split("/"):
        found = _SIA_FIELD.fullmatch(field)
        if found is None:
            return ()
        if found["area"] is not None:
            area = int(found["area"])
        if found["user"] is not None:
            user = int(found["user"])
        code = found["code"]
        if code is not None:
            number = int(found["number"]) if found["number"] else None
            signals.append(Signal(code, sia_dcs(code), number, area, user))
    return tuple(signals)
