"""Readiness probes that speak each service's own protocol.

A listening socket proves little (a SIGSTOPped broker still completes TCP handshakes in
the kernel), so the harness calls a service ready only when it answers: an MQTT CONNACK,
or a PostgreSQL session that runs a query.
"""

import secrets
import socket
import time

import psycopg

__all__ = ["CONNACK_REASONS", "mqtt_connack", "postgres_answers"]

# MQTT 3.1.1 CONNACK return codes (spec table 3.1).
CONNACK_REASONS: dict[int, str] = {
    0: "accepted",
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


def _mqtt_string(text: str) -> bytes:
    """A length-prefixed UTF-8 string as MQTT encodes it."""
    raw = text.encode("utf-8")
    return len(raw).to_bytes(2, "big") + raw


def _remaining_length(length: int) -> bytes:
    """MQTT's variable-length integer for a packet's remaining length."""
    out = bytearray()
    while True:
        length, digit = divmod(length, 128)
        out.append(digit | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _connect_packet(username: str | None, password: str | None) -> bytes:
    """An MQTT 3.1.1 CONNECT with a clean session and a random client id."""
    flags = 0x02  # clean session: the probe leaves no state on the broker
    payload = _mqtt_string(f"shouwang-probe-{secrets.token_hex(6)}")
    if username is not None:
        flags |= 0x80
        payload += _mqtt_string(username)
        if password is not None:
            flags |= 0x40
            payload += _mqtt_string(password)
    variable_header = _mqtt_string("MQTT") + bytes([4, flags]) + (10).to_bytes(2, "big")
    body = variable_header + payload
    return bytes([0x10]) + _remaining_length(len(body)) + body


def _receive_exactly(sock: socket.socket, count: int) -> bytes:
    """`count` bytes from `sock`, or ConnectionError if the peer closes first."""
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {count} bytes")
        data += chunk
    return data


def mqtt_connack(
    host: str,
    port: int,
    *,
    username: str | None = None,
    password: str | None = None,
    timeout: float = 2.0,
) -> int:
    """Send an MQTT CONNECT to host:port and return the CONNACK's return code (0 = accepted).

    Any CONNACK proves a broker is serving, even one that refuses these credentials.
    Raises OSError (refused, timed out, closed early) or ConnectionError (an answer that
    is not a CONNACK) when no broker answers within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        sock.sendall(_connect_packet(username, password))
        header = _receive_exactly(sock, 4)
        if header[0] != 0x20 or header[1] != 0x02:
            raise ConnectionError(f"expected a CONNACK from {host}:{port}, got {header.hex()}")
        return_code = header[3]
        if return_code == 0:
            sock.sendall(b"\xe0\x00")  # DISCONNECT, so the broker logs a clean goodbye
        return return_code


def postgres_answers(conninfo: str, *, timeout: float = 2.0) -> None:
    """Return once a session to `conninfo` runs `SELECT 1`; raise psycopg.Error otherwise.

    libpq rounds connect_timeout below 2 up to 2 seconds, so that is the real minimum.
    """
    with psycopg.connect(conninfo, connect_timeout=max(2, round(timeout))) as conn:
        conn.execute("SELECT 1")
