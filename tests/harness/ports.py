"""Free loopback TCP ports for the private services the harness starts."""

import random
import socket

__all__ = ["free_port"]

# Below the kernel's ephemeral range (32768-60999 on Linux), so the many outgoing
# connections a test run makes cannot take a port between its choice and its bind.
_LOW, _HIGH = 20000, 32000
# Ports already handed out by this process: a private service may not have bound its
# port yet when the next one is chosen, so a bind probe alone would hand it out twice.
_handed_out: set[int] = set()
_rng = random.SystemRandom()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on now and this process never handed out.

    Raises OSError when 200 random candidates are all taken.
    """
    for _ in range(200):
        port = _rng.randrange(_LOW, _HIGH)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise OSError(f"no free TCP port on {host} in {_LOW}-{_HIGH} after 200 tries")
