"""The preload: valid v1 events queued by the broker for a stopped hub, drained after."""

import time
from pathlib import Path

import psycopg
import pytest

from simulators.fleet import preload
from simulators.fleet.population import build_population
from tests.harness import PrivateMosquitto
from tests.simulators.fleet.support import fleet_hub

EVENTS, ROOMS = 3000, 3


def _stored(database: str) -> dict[str, tuple[int, int]]:
    """Per epoch: (rows, distinct ids)."""
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "SELECT epoch::text, count(*), count(DISTINCT id) FROM events GROUP BY epoch"
        ).fetchall()
    return {epoch: (n, distinct) for epoch, n, distinct in rows}


# Mosquitto's default max_queued_messages (1,000) would drop most of a preload.
BROKER_CONFIG = ("max_queued_messages 100000", "max_queued_bytes 0")


@pytest.mark.integration
def test_a_stopped_hubs_session_queues_the_preload_and_the_hub_drains_it(
    tmp_path: Path, database: str, topic_prefix: str
) -> None:
    """A preload for a stopped hub is stored exactly once, seqs 1..n per epoch, on restart."""
    with (
        PrivateMosquitto(extra_config=BROKER_CONFIG) as broker,
        fleet_hub(
            tmp_path,
            database_url=database,
            endpoint=broker.endpoint,
            prefix=topic_prefix,
            rooms=build_population(ROOMS, 0.01, 1),
            ingest={"site_rate_per_s": 100_000, "site_burst": 100_000},
        ) as hub,
    ):
        hub.stop()
        report = preload(broker.url, events=EVENTS, rooms=ROOMS, seed=3, topic_prefix=topic_prefix)
        assert _stored(database) == {}
        hub.start()
        deadline = time.monotonic() + 30
        expected = {str(report.epochs[site]): (n, n) for site, n in report.counts.items()}
        while (stored := _stored(database)) != expected and time.monotonic() < deadline:
            time.sleep(0.2)
    assert stored == expected
    assert report.events == sum(report.counts.values()) == EVENTS
    assert report.rooms == ROOMS
    assert report.rate_per_s > 0
    assert report.cpu_s > 0
    assert "events/s" in report.summary()
    with psycopg.connect(database) as conn:
        (bad,) = conn.execute("SELECT count(*) FROM dead_letters").fetchone() or (0,)
        (seqs,) = conn.execute("SELECT max(seq) FROM events").fetchone() or (0,)
    assert bad == 0
    assert seqs == max(report.counts.values())


def test_preload_refuses_bad_arguments() -> None:
    """Zero events, too many rooms and a non-MQTT URL are refused before connecting."""
    with pytest.raises(ValueError, match="events"):
        preload("mqtt://127.0.0.1:1", events=0)
    with pytest.raises(ValueError, match="rooms"):
        preload("mqtt://127.0.0.1:1", events=1, rooms=100)
    with pytest.raises(ValueError, match="mqtt://"):
        preload("http://127.0.0.1:1", events=1)
