"""PostgreSQL down under load: no ack while it is down, everything stored once afterwards.

While the database is away the hub retries its batch unacknowledged (docs/hub.md): no
PUBACK, so the broker sends it nothing beyond its in-flight window, and no agent ack, so
the agent's outbox only grows. The hub process itself keeps running throughout.
"""

import itertools
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.faults.processes import AgentProcess, HubProcess, wait_for_ids
from tests.harness import PrivateMosquitto, PrivatePostgres

pytestmark = [pytest.mark.faults, pytest.mark.integration]

# What the broker sends the hub unacknowledged at most: the hub's buffer bound.
INFLIGHT = 20
HUB_BROKER_CONFIG = [
    f"max_inflight_messages {INFLIGHT}",
    "max_queued_messages 200000",
    "max_queued_bytes 0",
    "persistent_client_expiration 7d",
]
OUTAGE_S = 8.0
PATTERN = [("p1", "alarm.panic"), ("l1", "door.opened"), ("l1", "door.closed")]
DEVICES = {"p1": "panic_alarm", "l1": "door_lock"}
RETRY_LINE = re.compile(r"batch of (\d+) not stored, will retry")


def _outbox_depth(agent: AgentProcess) -> int:
    """Events the agent holds unacked, read from its outbox file (read-only)."""
    path = agent.directory / "outbox.sqlite3"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0])


def _push_until(agent: AgentProcess, done: threading.Event, sent: list[str]) -> None:
    """Post events until `done` is set, a few hundred a second; record the 201 ids."""
    with agent.pusher() as pusher:
        n = 0
        while not done.is_set():
            device, type_ = PATTERN[n % len(PATTERN)]
            if pusher.push(device, type_, {"n": n}) == 201:
                sent.append(pusher.stored[-1])
            n += 1
            time.sleep(0.002)


def _poll(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {within_s} s: {what}"
        time.sleep(0.1)


def _health(hub: HubProcess) -> int:
    try:
        return httpx.get(f"{hub.api}/health", timeout=10).status_code
    except httpx.TransportError:
        return 0


@pytest.mark.timeout(180)
def test_database_outage_acks_nothing_then_stores_everything_once(
    tmp_path: Path, topic_prefix: str
) -> None:
    """PostgreSQL stopped under load: outbox never shrinks, hub stays up, then all stored once."""
    with (
        PrivatePostgres() as server,
        PrivateMosquitto(extra_config=HUB_BROKER_CONFIG) as broker,
        ExitStack() as stack,
    ):
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE shouwang")
        database = server.url.rsplit("/", 1)[0] + "/shouwang"
        hub = stack.enter_context(
            HubProcess(
                tmp_path / "hub",
                database_url=database,
                endpoint=broker.endpoint,
                prefix=topic_prefix,
            )
        )
        agent = stack.enter_context(
            AgentProcess(
                tmp_path / "agent",
                site="room-01",
                devices=DEVICES,
                endpoint=broker.endpoint,
                prefix=topic_prefix,
            )
        )
        pid = hub.pid
        done = threading.Event()
        sent: list[str] = []
        pusher = threading.Thread(target=_push_until, args=(agent, done, sent), daemon=True)
        pusher.start()
        stack.callback(pusher.join, 30)
        stack.callback(done.set)

        _poll(lambda: len(sent) >= 300, 30, "300 events taken before the outage")
        wait_for_ids(database, set(sent[:300]), within_s=30)
        server.stop()
        # An ack for a batch committed just before the stop may still be on its way.
        time.sleep(1.0)
        depths = [_outbox_depth(agent)]
        outage_end = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_end:
            time.sleep(0.25)
            depths.append(_outbox_depth(agent))
            assert hub.alive, "the hub process ended during the outage"
            assert hub.pid == pid
        assert all(a <= b for a, b in itertools.pairwise(depths)), depths
        assert depths[-1] > depths[0], "no event was taken during the outage"
        assert _health(hub) == 503, "the hub's /health did not report the outage"

        server.start()
        done.set()
        pusher.join(timeout=30)
        assert not pusher.is_alive()
        expected = set(sent)
        stored = wait_for_ids(database, expected, within_s=60)
        assert expected - set(stored) == set(), "events the agent took (201) were lost"
        assert len(stored) == len(set(stored)) == len(expected)
        _poll(lambda: _outbox_depth(agent) == 0, 30, "the agent's outbox emptied by acks")
        _poll(lambda: _health(hub) == 200, 30, "the hub's /health back to 200")
        assert hub.alive
        assert hub.pid == pid
        assert hub.starts == 1

        # Backpressure: what the hub took unacknowledged never passed the in-flight window.
        retried = [int(n) for n in RETRY_LINE.findall(hub.log_path.read_text(errors="replace"))]
        assert retried, "the hub never retried a batch"
        assert max(retried) <= INFLIGHT, retried
