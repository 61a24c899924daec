"""Broker `kill -9` during a stream from five agents: every event stored exactly once.

Mosquitto loses the QoS 1 messages it accepted but had not autosaved when it is killed;
the end-to-end design covers that: the agents keep everything unacked in their outboxes
and resend it, and the hub stores a resend once (`ON CONFLICT DO NOTHING`).
"""

from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.faults.processes import HubProcess, wait_for_ids
from tests.faults.streams import HUB_BROKER_CONFIG, start_agents, stream_with_faults
from tests.harness import PrivateMosquitto

pytestmark = [pytest.mark.faults, pytest.mark.integration]

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
        agents = start_agents(
            stack,
            tmp_path,
            count=AGENTS,
            devices=DEVICES,
            endpoint=endpoint,
            prefix=topic_prefix,
        )

        def fault() -> None:
            broker.kill()
            broker.start()

        expected = stream_with_faults(
            agents,
            pattern=PATTERN,
            events_per_agent=EVENTS_PER_AGENT,
            faults=KILLS,
            fault=fault,
        )
        total = AGENTS * EVENTS_PER_AGENT
        stored = wait_for_ids(database, expected, within_s=60)
        assert expected - set(stored) == set(), "events the agents took (201) were lost"
        assert _row_counts(database) == (total, total)
