"""Hub `kill -9` mid-stream: after restarts, no event lost, no row or alert doubled.

A hub killed between receiving and committing leaves the messages unacknowledged in its
persistent session; one killed between COMMIT and PUBACK gets them again and stores
nothing twice (`ON CONFLICT DO NOTHING`), and resent events never reach the rules, so an
alert's `count` is the number of distinct panics stored for its device.
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

HUB_BROKER_CONFIG = [
    "max_queued_messages 200000",
    "max_queued_bytes 0",
    "persistent_client_expiration 7d",
]
AGENTS = 2
EVENTS_PER_AGENT = 1_500
KILLS = 3
PANIC_DEVICES = ("p1", "p2", "p3")
DEVICES = {**dict.fromkeys(PANIC_DEVICES, "panic_alarm"), "l1": "door_lock", "l2": "door_lock"}
# Panics from three devices interleaved with door events.
PATTERN = [
    ("p1", "alarm.panic"),
    ("l1", "door.opened"),
    ("p2", "alarm.panic"),
    ("l2", "door.opened"),
    ("p3", "alarm.panic"),
    ("l1", "door.closed"),
    ("l2", "door.closed"),
]


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


def _query(database_url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(sql).fetchall()


@pytest.mark.timeout(180)
def test_hub_killed_mid_batch_loses_and_duplicates_nothing(
    database: str, tmp_path: Path, topic_prefix: str
) -> None:
    """Three hub SIGKILLs mid-stream: every 201 event stored once, one alert per panic device."""
    with PrivateMosquitto(extra_config=HUB_BROKER_CONFIG) as broker, ExitStack() as stack:
        endpoint = broker.endpoint
        hub = stack.enter_context(
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
            for k in range(1, KILLS + 1):
                mark = total * k // (KILLS + 1)
                deadline = time.monotonic() + 60
                while sum(map(len, sent)) < mark and any(t.is_alive() for t in threads):
                    assert time.monotonic() < deadline, f"stream stalled before kill {k}"
                    time.sleep(0.02)
                hub.kill()
                hub.start()
        finally:
            for thread in threads:
                thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "pushers did not finish"
        assert failures == []
        assert hub.starts == KILLS + 1

        expected = {event_id for ids in sent for event_id in ids}
        assert len(expected) == total
        stored = wait_for_ids(database, expected, within_s=60)
        assert expected - set(stored) == set(), "events the agents took (201) were lost"
        assert len(stored) == len(set(stored)) == total

        panics = _query(
            database,
            "SELECT site, device, count(DISTINCT id) FROM events"
            " WHERE type = 'alarm.panic' GROUP BY site, device ORDER BY site, device",
        )
        alerts = _query(
            database,
            "SELECT site, device, count(*), sum(count), max(revision),"
            " max(cardinality(event_ids)) FROM alerts WHERE rule = 'panic'"
            " GROUP BY site, device ORDER BY site, device",
        )
        assert len(panics) == AGENTS * len(PANIC_DEVICES)
        assert [(s, d, 1, n, n, n) for s, d, n in panics] == alerts
        assert (
            _query(
                database,
                "SELECT alert_id, revision FROM alert_outbox"
                " GROUP BY alert_id, revision HAVING count(*) > 1",
            )
            == []
        )
        # One transition per panic: `opened`, then an `updated` for each further one.
        per_alert = _query(
            database,
            "SELECT a.count, count(o.id) FROM alerts a JOIN alert_outbox o USING (alert_id)"
            " GROUP BY a.alert_id, a.count",
        )
        assert all(count == rows for count, rows in per_alert)
