"""Hand-made MQTT 3.1.1 packets, for what a well-behaved client library will not send."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

__all__ = ["connack", "connect_packet", "publish_header", "read_exactly"]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value % 128, value // 128
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _string(value: str) -> bytes:
    data = value.encode()
    return len(data).to_bytes(2, "big") + data


def connect_packet(client_id: str, username: str | None, password: str | None) -> bytes:
    """A CONNECT (clean session, keepalive 60 s) with the given id and credentials."""
    flags = 0x02 | (0x80 if username is not None else 0) | (0x40 if password is not None else 0)
    body = _string("MQTT") + bytes([4, flags]) + (60).to_bytes(2, "big") + _string(client_id)
    if username is not None:
        body += _string(username)
    if password is not None:
        body += _string(password)
    return b"\x10" + _varint(len(body)) + body


def publish_header(topic: str, payload_size: int, *, packet_id: int | None = None) -> bytes:
    """The start of a PUBLISH (QoS 1 when `packet_id` is given, else 0); the payload follows."""
    variable = _string(topic) + (b"" if packet_id is None else packet_id.to_bytes(2, "big"))
    first = 0x32 if packet_id is not None else 0x30
    return bytes([first]) + _varint(len(variable) + payload_size) + variable


def connack(sock: socket.socket) -> int:
    """Read a CONNACK and return its return code (0 = accepted)."""
    header = _exactly(sock, 4)
    if header[0] != 0x20:
        raise ConnectionError(f"expected a CONNACK, got {header.hex()}")
    return header[3]


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """`size` bytes from `sock`; ConnectionError if it closes first."""
    return _exactly(sock, size)
