"""The receiver's answers: ACK (``*ACK`` to an encrypted message), NAK and DUH, as frames.

- ACK echoes the sequence, receiver, line and account: the message is stored.
- NAK carries the receiver's time: the message's timestamp was outside the window, the
  panel should set its clock and send again. It echoes receiver and line, never the
  account, and is never encrypted (the panel may hold the wrong key).
- DUH says the message cannot be processed at all (unknown id token, undecryptable).
A frame with a bad CRC gets none of these: silence makes the panel send it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.drivers.sia.crypto import encrypt
from agent.drivers.sia.framing import seal

if TYPE_CHECKING:
    from datetime import datetime

    from agent.drivers.sia.framing import Header

__all__ = ["ack", "duh", "nak", "timestamp"]


def timestamp(moment: datetime) -> str:
    """A DC-09 timestamp, ``_HH:MM:SS,MM-DD-YYYY`` (UTC, as the standard has it)."""
    return moment.strftime("_%H:%M:%S,%m-%d-%Y")


def ack(header: Header, key: bytes | None, now: datetime) -> bytes:
    """The ACK of `header`'s message; encrypted with `key` when the message was."""
    if header.encrypted and key is not None:
        sealed = encrypt(key, f"]{timestamp(now)}".encode("ascii")).decode("ascii")
        return seal(f'"*ACK"{header.echo}[{sealed}'.encode("ascii"))
    return seal(f'"ACK"{header.echo}[]'.encode("ascii"))


def nak(header: Header, now: datetime) -> bytes:
    """The NAK of a message whose timestamp was outside the window, with the receiver's time."""
    return seal(f'"NAK"0000{header.receiver or "R0"}{header.line}A0[]{timestamp(now)}'.encode())


def duh(header: Header | None) -> bytes:
    """The DUH of a message the receiver cannot process at all."""
    echo = "0000L0" if header is None else header.echo
    return seal(f'"DUH"{echo}[]'.encode("ascii"))
