"""Small helpers the private-service classes share."""

import os
import signal
from pathlib import Path

__all__ = ["log_tail", "signal_all"]


def log_tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of the log at `path`, or a note that there is none yet."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"({path} is empty)"


def signal_all(pids: list[int], signum: signal.Signals) -> None:
    """Send `signum` to each pid that still exists."""
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
