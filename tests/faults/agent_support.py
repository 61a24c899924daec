"""What the agent fault scenarios share: devices pushing from threads, and SQL oracles.

`PushLoop` is a device (or several) posting events to an agent from background threads
until stopped, riding out the agent's absence; the functions below read the hub's
documented schema (docs/schema.md) for the checks the scenarios make.
"""

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

import psycopg

from tests.faults.processes import AgentProcess

DEVICES = {"door": "door_lock", "panic": "panic_alarm", "cam": "camera"}
"""Devices of every agent in these scenarios: P1 door events, P0 alarms, P2 motion."""


class PushLoop:
    """`threads` devices posting `(device, type)` in turn to `agent` until stopped.

    A refused connection (the agent is down) or a 503 is simply retried later, as a real
    device would; `stored` holds every id the agent answered 201.
    """

    def __init__(
        self, agent: AgentProcess, kinds: Sequence[tuple[str, str]], *, threads: int = 3
    ) -> None:
        self._agent = agent
        self._kinds = kinds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"push-{n}", daemon=True)
            for n in range(threads)
        ]
        self.stored: list[str] = []
        self.statuses: dict[int, int] = {}

    def _run(self) -> None:
        with self._agent.pusher() as pusher:
            n = 0
            while not self._stop.is_set():
                device, type_ = self._kinds[n % len(self._kinds)]
                status = pusher.push(device, type_)
                n += 1
                with self._lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                if status != 201:
                    time.sleep(0.02)  # the agent is away: do not spin
            with self._lock:
                self.stored.extend(pusher.stored)

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


@dataclass(frozen=True, slots=True)
class Row:
    """One stored event, as the scenarios look at it."""

    id: str
    type: str
    lane: int
    seq: int
    received_at: datetime


def rows(database_url: str, site: str) -> list[Row]:
    """Every event of `site` stored by the hub, one entry per row."""
    query = "SELECT id::text, type, lane, seq, received_at FROM events WHERE site = %s"
    with psycopg.connect(database_url) as conn:
        return [Row(*row) for row in conn.execute(query, (site,))]


def repeated_seqs(database_url: str, site: str) -> list[tuple[str, int, int]]:
    """(epoch, seq, rows) for every (epoch, seq) stored more than once: must be none."""
    query = (
        "SELECT epoch::text, seq, count(*) FROM events WHERE site = %s "
        "GROUP BY epoch, seq HAVING count(*) <> 1"
    )
    with psycopg.connect(database_url) as conn:
        return [tuple(row) for row in conn.execute(query, (site,))]


def alert_counts(database_url: str, site: str, rule: str) -> list[int]:
    """The `count` of every alert of `rule` raised for `site`."""
    query = "SELECT count FROM alerts WHERE site = %s AND rule = %s"
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute(query, (site, rule))]


def wait_until(check: Callable[[], bool], what: str, *, within_s: float) -> None:
    """Poll `check` every 50 ms until it holds; fail naming `what` after `within_s`."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        time.sleep(0.05)
