"""DC-09 framing: the CRC, cutting a byte stream into frames, reading a frame's header.

A frame is ``LF CRC(4 hex) 0LLL(4 hex) "ID" seq [Rrcvr] Lline [#acct] [data…] CR``.
The CRC (CRC-16/ARC) and the length cover the bytes from the first ``"`` to the end
(before the CR). A frame whose CRC or length is wrong is a transmission error: it gets
no answer at all, so the panel sends it again.

`FrameSplitter` takes TCP segments as they come (several frames in one, one frame over
several, garbage in between) and yields whole frames; anything it cannot frame is
dropped and counted, never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "MAX_FRAME",
    "FrameError",
    "FrameSplitter",
    "Header",
    "Token",
    "crc16",
    "parse_frame",
    "parse_header",
    "seal",
]

LF: Final = 0x0A
CR: Final = 0x0D
MAX_BODY: Final = 0x0FFF
"""The length field is ``0LLL``: at most 4,095 bytes from the first quote to the end."""
MAX_FRAME: Final = MAX_BODY + 8  # CRC and length ahead of the body; LF and CR excluded

_HEADER: Final = re.compile(
    rb'"(?P<star>\*?)(?P<id>[^"]{1,16})"'
    rb"(?P<echo>(?P<seq>\d{4})"
    rb"(?P<receiver>R[0-9A-Fa-f]{1,6})?"
    rb"(?P<line>L[0-9A-Fa-f]{1,6})"
    rb"(?:#(?P<account>[0-9A-Fa-f]{3,16}))?)"
    rb"\[(?P<rest>.*)",
    re.DOTALL,
)


def _crc_row(byte: int) -> int:
    # CRC-16/ARC: polynomial 0x8005 reflected (0xA001), initial value 0, no final XOR.
    crc = byte
    for _ in range(8):
        crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


_CRC_TABLE: Final = tuple(_crc_row(byte) for byte in range(256))


class Token(StrEnum):
    """The id tokens a receiver knows (a leading ``*`` marks encryption, kept apart)."""

    SIA_DCS = "SIA-DCS"
    ADM_CID = "ADM-CID"
    NULL = "NULL"  # a link test: no event, supervision only


class FrameError(ValueError):
    """A frame that is not DC-09: a bad CRC, a wrong length, a header that does not parse."""


def crc16(data: bytes) -> int:
    """CRC-16/ARC of `data` (the DC-09 frame CRC)."""
    crc = 0
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def seal(body: bytes) -> bytes:
    """`body` as a whole frame: LF, its CRC and length, the body, CR."""
    return b"\n%04X%04X%s\r" % (crc16(body), len(body), body)


def parse_frame(frame: bytes) -> bytes:
    """The body of `frame` (between LF and CR, both stripped) once its CRC and length check.

    Raises `FrameError` when they do not: such a frame gets no answer.
    """
    if len(frame) < 9 or frame[8:9] != b'"':
        raise FrameError(f"not a DC-09 frame: {frame[:24]!r}")
    try:
        crc, length = int(frame[0:4], 16), int(frame[4:8], 16)
    except ValueError as exc:
        raise FrameError(f"CRC or length is not hex: {frame[:8]!r}") from exc
    body = frame[8:]
    if length != len(body):
        raise FrameError(f"length field says {length}, the body has {len(body)} bytes")
    if crc != crc16(body):
        raise FrameError(f"CRC {crc:04X} does not match the body's {crc16(body):04X}")
    return body


@dataclass(frozen=True, slots=True)
class Header:
    """What precedes the data of a frame: the id token, sequence, receiver, line, account.

    `rest` is everything after the ``[`` that opens the data: plain data, x-data and the
    timestamp, or the hex ciphertext of an encrypted frame. Receiver, line and account
    are upper-cased; `echo` keeps sequence, receiver, line and account exactly as sent,
    for the answer to repeat.
    """

    encrypted: bool
    token: str
    seq: str
    receiver: str | None
    line: str
    account: str | None
    rest: bytes
    echo: str


def parse_header(body: bytes) -> Header:
    """The header of a frame body whose CRC checked; `FrameError` if it does not parse."""
    found = _HEADER.fullmatch(body)
    if found is None:
        raise FrameError(f"not a DC-09 header: {body[:40]!r}")
    try:
        token = found["id"].decode("ascii")
    except UnicodeDecodeError as exc:
        raise FrameError(f"the id token is not ASCII: {found['id']!r}") from exc
    account = found["account"]
    receiver = found["receiver"]
    return Header(
        encrypted=bool(found["star"]),
        token=token,
        seq=found["seq"].decode(),
        receiver=None if receiver is None else receiver.decode().upper(),
        line=found["line"].decode().upper(),
        account=None if account is None else account.decode().upper(),
        rest=found["rest"],
        echo=found["echo"].decode(),
    )


class FrameSplitter:
    """Cuts a byte stream into frames between LF and CR; drops and counts what is not one.

    Bytes before an LF are garbage. An LF inside a frame starts the frame again (the
    bytes before it were garbage too). A frame longer than `MAX_FRAME` is dropped.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._max = max_frame
        self._buffer = bytearray()
        self._in_frame = False
        self.dropped = 0
        """Bytes discarded so far: garbage, and frames that were too long."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The whole frames `data` completes (without their LF and CR), in order."""
        start = 0
        while start < len(data):
            if not self._in_frame:
                lf = data.find(b"\n", start)
                if lf < 0:
                    self.dropped += len(data) - start
                    return
                self.dropped += lf - start
                self._in_frame, self._buffer = True, bytearray()
                start = lf + 1
                continue
            cr = data.find(b"\r", start)
            lf = data.find(b"\n", start)
            if lf >= 0 and (cr < 0 or lf < cr):  # a new frame begins before this one ended
                self.dropped += len(self._buffer) + lf - start + 1
                self._buffer = bytearray()
                start = lf + 1
                continue
            end = len(data) if cr < 0 else cr
            self._buffer += data[start:end]
            if len(self._buffer) > self._max:
                self.dropped += len(self._buffer)
                self._in_frame, self._buffer = False, bytearray()
                start = end
                continue
            if cr < 0:
                return
            self._in_frame = False
            yield bytes(self._buffer)
            self._buffer = bytearray()
            start = cr + 1
