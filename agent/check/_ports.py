"""Whether the agent could listen where its config says, and who holds a port if not.

A port already taken is fine when the running agent holds it (`check` beside a running
agent): the owner is found through /proc (Linux), which shows other users' processes
only to root, so the reason says when it cannot tell.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Final

from agent.check._report import Row

__all__ = ["probe_listen"]

_PROC: Final = Path("/proc")
_LISTEN: Final = "0A"  # TCP_LISTEN in /proc/net/tcp
_UNCONNECTED: Final = "07"  # a bound UDP socket


def probe_listen(check: str, host: str, port: int, *, udp: bool = False) -> Row:
    """Bind `host:port` (TCP, or UDP) and let go; a row saying whether the agent could."""
    transport = "udp" if udp else "tcp"
    target = f"{host}:{port}/{transport}"
    if port == 0:
        return Row.ok(check, target, "port 0: a free port is picked at start")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    try:
        with socket.socket(family, kind) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _in_use(check, target, port, transport)
        return Row.fail(check, target, _bind_reason(exc, host, port))
    return Row.ok(check, target, "free: the agent can listen here")


def _bind_reason(exc: OSError, host: str, port: int) -> str:
    match exc.errno:
        case errno.EADDRNOTAVAIL:
            reason = f"{host} is not an address of this box"
        case errno.EACCES:
            reason = f"port {port} needs privileges to bind"
        case _ if isinstance(exc, socket.gaierror):
            reason = f"{host!r} is not an address of this box: {exc.strerror}"
        case _:
            reason = f"cannot bind: {exc.strerror or exc}"
    return reason


def _in_use(check: str, target: str, port: int, transport: str) -> Row:
    owner = _owner(port, transport)
    if owner is None:
        detail = f"port {port} is in use by another process (run check as root to see which)"
        return Row.fail(check, target, detail)
    pid, command = owner
    if "agent" in command and " run" in command:
        return Row.ok(check, target, f"held by the running agent (pid {pid})")
    return Row.fail(check, target, f"port {port} is in use by pid {pid}: {command[:80]}")


def _owner(port: int, transport: str) -> tuple[int, str] | None:
    """The pid and command line of the process listening on `port`, if /proc shows it."""
    inodes = _socket_inodes(port, transport)
    if not inodes:
        return None
    for proc in _PROC.iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = str(fd.readlink())
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    raw = (proc / "cmdline").read_bytes()
                    return int(proc.name), raw.replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone, or another user's process
    return None


def _socket_inodes(port: int, transport: str) -> set[str]:
    state = _UNCONNECTED if transport == "udp" else _LISTEN
    inodes: set[str] = set()
    for table in (transport, f"{transport}6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == state
                and int(fields[1].rsplit(":")[-1], 16) == port
            ):
                inodes.add(fields[9])
    return inodes
