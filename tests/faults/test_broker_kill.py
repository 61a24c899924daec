"""Broker `kill -9` during a stream from five agents: every event stored exactly once.

Mosquitto loses the QoS 1 messages it accepted but had not autosaved when it is killed;
the end-to-end design covers that: the agents keep everything unacked in their outboxes
and resend it, and the hub stores a resend once (`ON CONFLICT DO NOTHING`).
"""

import threading
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.faults.processes import AgentProcess, HubProcess, wait_for_ids
from tests.harness import PrivateMosquitto

pytestmark = [pytest.mark.faults, pytest.mark.integration]

# The hub's session must hold what arrives while the broker restarts (docs/hub.md).
HUB_BROKER_CONFIG = [
    "max_queued_messages 200000",
    "max_queued_bytes 0",
    "persistent_client_expiration 7d",
]
AGENTS = 5
EVENTS_PER_AGENT = 2_000
KILLS = 5
# Every fourth event is a panic (P0); the rest are door events (P1).
PATTERN = [
    ("p1", "alarm.panic"),
    ("l1", "door.opened"),
    ("l2", "door.closed"),
    ("l1", "door.closed"),
]
DEVICES = {"p1": "panic_alarm", "l1": "door_lock", "l2": "door_lock"}


def _push_all(agent: AgentProcess, sent: list[str], failures: list[str]) -> None:
    """Post EVENTS_PER_AGENT events to `agent`, recording the ids it answered 201 for."""
    with agent.pusher() as pusher:
        for n in range(EVENTS_PER_AGENT):
            device, type_ = PATTERN[n % len(PATTERN)]
            status = pusher.push(device, type_, {"n": n})
            if status != 201:
                failures.append(f"{agent.site} event {n}: HTTP {status}")
            else:
                sent.append(pusher.stored[-1])


def _row_counts(database_url: str) -> tuple[int, int]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT id) FROM events").fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.timeout(180)
def test_broker_killed_five_times_loses_and_duplicates_nothing(
    database: str, tmp_path: Path, topic_prefix: str
) -> None:
    """Five broker SIGKILLs during 10,000 events from 5 agents leave exactly 10,000 rows."""
    with PrivateMosquitto(extra_config=HUB_BROKER_CONFIG) as broker, ExitStack() as stack:
        endpoint = broker.endpoint
        stack.enter_context(
            HubProcess(
                tmp_path / "hub", database_url=database, endpoint=endpoint, prefix=topic_prefix
            )
        )
        agents = [
            stack.enter_context(
                AgentProcess(
                    tmp_path / f"agent-{i}",
                    site=f"room-{i:02d}",
                    devices=DEVICES,
                    endpoint=endpoint,
                    prefix=topic_prefix,
                )
            )
            for i in range(AGENTS)
        ]
        sent: list[list[str]] = [[] for _ in agents]
        failures: list[str] = []
        threads = [
            threading.Thread(target=_push_all, args=(agent, ids, failures), daemon=True)
            for agent, ids in zip(agents, sent, strict=True)
        ]
        for thread in threads:
            thread.start()
        total = AGENTS * EVENTS_PER_AGENT
        try:
            # Kill at evenly spaced points of the stream's progress, not on a timer.
            for k in range(1, KILLS + 1):
                mark = total * k // (KILLS + 1)
                deadline = time.monotonic() + 60
                while sum(map(len, sent)) < mark and any(t.is_alive() for t in threads):
                    assert time.monotonic() < deadline, f"stream stalled before kill {k}"
                    time.sleep(0.02)
                broker.kill()
                broker.start()
        finally:
            for thread in threads:
                thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "pushers did not finish"
        assert failures == []

        expected = {event_id for ids in sent for event_id in ids}
        assert len(expected) == total
        stored = wait_for_ids(database, expected, within_s=60)
        assert expected - set(stored) == set(), "events the agents took (201) were lost"
        assert _row_counts(database) == (total, total)
