"""Hub `kill -9` mid-stream: after restarts, no event lost, no row or alert doubled.

A hub killed between receiving and committing leaves the messages unacknowledged in its
persistent session; one killed between COMMIT and PUBACK gets them again and stores
nothing twice (`ON CONFLICT DO NOTHING`), and resent events never reach the rules, so an
alert's `count` is the number of distinct panics stored for its device.
"""

from contextlib import ExitStack
from pathlib import Path

import psycopg
import pytest

from tests.faults.processes import HubProcess, wait_for_ids
from tests.faults.streams import HUB_BROKER_CONFIG, start_agents, stream_with_faults
from tests.harness import PrivateMosquitto

pytestmark = [pytest.mark.faults, pytest.mark.integration]

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
        agents = start_agents(
            stack,
            tmp_path,
            count=AGENTS,
            devices=DEVICES,
            endpoint=endpoint,
            prefix=topic_prefix,
        )

        def fault() -> None:
            hub.kill()
            hub.start()

        expected = stream_with_faults(
            agents,
            pattern=PATTERN,
            events_per_agent=EVENTS_PER_AGENT,
            faults=KILLS,
            fault=fault,
        )
        total = AGENTS * EVENTS_PER_AGENT
        assert hub.starts == KILLS + 1
        stored = wait_for_ids(database, expected, within_s=60)
        assert expected - set(stored) == set(), "events the agents took (201) were lost"
        assert len(stored) == len(set(stored)) == total

        panics = _query(
            database,
            "SELECT site, device, count(DISTINCT id) FROM events"
            " WHERE type = 'alarm.panic' GROUP BY site, device ORDER BY site, device",
        )
        # One alert per panic button holding every press once; its revisions are at most
        # one per press plus its escalations (presses in one batch are one repeat).
        alerts = _query(
            database,
            "SELECT site, device, count(*), sum(count)::int, max(cardinality(event_ids)),"
            " bool_and(revision BETWEEN 1 AND count + escalations)"
            " FROM alerts WHERE rule = 'panic' GROUP BY site, device ORDER BY site, device",
        )
        assert len(panics) == AGENTS * len(PANIC_DEVICES)
        assert [(s, d, 1, n, n, True) for s, d, n in panics] == alerts
        assert (
            _query(
                database,
                "SELECT alert_id, revision FROM alert_outbox"
                " GROUP BY alert_id, revision HAVING count(*) > 1",
            )
            == []
        )
        # `opened`, then at most one `updated` per further press (a batch's presses are
        # one), plus escalations: every transition queued once, none lost.
        per_alert = _query(
            database,
            "SELECT a.count, a.escalations, count(o.id), max(o.revision), a.revision"
            " FROM alerts a JOIN alert_outbox o USING (alert_id)"
            " GROUP BY a.alert_id, a.count, a.escalations, a.revision",
        )
        for count, escalations, rows, last, revision in per_alert:
            assert isinstance(count, int)
            assert isinstance(escalations, int)
            assert isinstance(rows, int)
            assert 1 <= rows <= count + escalations
            assert last == revision == rows
