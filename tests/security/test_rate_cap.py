"""The hub's per-site ingest rate cap: a flooding site is capped, its P0 events and the
other sites' events go through, and what was capped is not lost (the agent resends it)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from agent import Draft, Link, Outbox
from hub import HubConfig
from hub.ratecap import SiteRateCap
from tests.agent.support import DOOR, SITE, eventually, make_config
from tests.hub.conftest import running_hub
from tests.hub.support import client, dump, event, rows, subscribed
from wire import EventType, Kind

if TYPE_CHECKING:
    from pathlib import Path

    from tests.harness import MqttEndpoint

FLOOD, OTHER = "room-flood", "room-calm"


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_gives_its_burst_then_its_rate() -> None:
    """`burst` takes at once, then one per 1/rate seconds, never more than the burst."""
    clock = FakeClock()
    cap = SiteRateCap(2.0, 3, clock=clock)
    assert [cap.take("a") for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert [cap.take("a"), cap.take("a")] == [True, False]
    clock.now += 3600
    assert sum(cap.take("a") for _ in range(10)) == 3


def test_sites_have_buckets_of_their_own() -> None:
    """An empty bucket of one site leaves another site's full."""
    cap = SiteRateCap(1.0, 2, clock=FakeClock())
    assert [cap.take("a") for _ in range(3)] == [True, True, False]
    assert [cap.take("b") for _ in range(2)] == [True, True]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 5), (1.0, 0)])
def test_a_cap_that_takes_nothing_is_refused(rate: float, burst: int) -> None:
    """A rate or burst that could never let a message through is a ValueError."""
    with pytest.raises(ValueError, match="rate cap"):
        SiteRateCap(rate, burst)


def _config(database: str, endpoint: MqttEndpoint, prefix: str, **ingest: Any) -> HubConfig:
    return HubConfig.model_validate(
        {
            "hub_id": f"test-{uuid.uuid4().hex[:12]}",
            "database": {"url": database, "pool_min": 1, "pool_max": 3},
            "mqtt": {
                "host": endpoint.host,
                "port": endpoint.port,
                "username": endpoint.username,
                "password": endpoint.password,
                "topic_prefix": prefix,
                "reconnect_max_s": 0.5,
                "timeout_s": 2.0,
            },
            "api": {"port": 0},
            "ingest": {"batch_wait_ms": 20, **ingest},
        }
    )


def _seqs(acks: list[dict[str, Any]]) -> set[int]:
    return {s for ack in acks for a, b in ack["ranges"] for s in range(a, b + 1)}


@pytest.mark.integration
async def test_a_flooding_site_is_capped_while_p0_and_other_sites_go_through(
    database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """60 routine events from one site: about its burst is stored and acked, the rest is
    counted as capped and not acked; its alarms and another site's events are all taken."""
    config = _config(database, mqtt_endpoint, topic_prefix, site_rate_per_s=1, site_burst=10)
    async with running_hub(config, mqtt_endpoint) as hub:
        space = hub.space
        acks = space.ack(FLOOD), space.ack(OTHER)
        async with subscribed(mqtt_endpoint, *acks) as inbox, client(mqtt_endpoint) as agent:
            started = time.monotonic()
            for seq in range(1, 61):
                payload = event(seq=seq, site=FLOOD, type="test.periodic")
                await agent.publish(
                    space.events(FLOOD, Kind.PANIC_ALARM, "panic-0031"), dump(payload), qos=1
                )
            for seq in (61, 62, 63):
                payload = event(seq=seq, site=FLOOD, type="alarm.panic")
                await agent.publish(
                    space.events(FLOOD, Kind.PANIC_ALARM, "panic-0031"), dump(payload), qos=1
                )
            for seq in range(1, 6):
                payload = event(
                    seq=seq, site=OTHER, type="door.opened", kind="door_lock", device="door-1"
                )
                await agent.publish(
                    space.events(OTHER, Kind.DOOR_LOCK, "door-1"), dump(payload), qos=1
                )

            async def everything_expected_acked() -> bool:
                flood, other = _seqs(inbox.on(acks[0])), _seqs(inbox.on(acks[1]))
                return {61, 62, 63} <= flood and other == set(range(1, 6))

            await eventually(everything_expected_acked, "P0 and the calm site's events acked")
            await asyncio.sleep(0.3)  # any late ack of the flood would show now
            elapsed = time.monotonic() - started
        routine_acked = _seqs(inbox.on(acks[0])) - {61, 62, 63}
        stored = await rows(
            database, "SELECT seq FROM events WHERE site = %s AND type = 'test.periodic'", [FLOOD]
        )
        assert {s for (s,) in stored} == routine_acked
        assert 10 <= len(routine_acked) <= 10 + elapsed * 1 + 1
        assert hub.stats.capped == 60 - len(routine_acked)
        capped = hub.metrics.registry.get_sample_value(
            "shouwang_hub_ingest_capped_total", {"site": FLOOD}
        )
        assert capped == hub.stats.capped
        other_stored = await rows(database, "SELECT count(*) FROM events WHERE site = %s", [OTHER])
        assert other_stored == [(5,)]


@pytest.mark.integration
async def test_capped_events_are_resent_by_the_agent_until_all_are_stored(
    database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str, tmp_path: Path
) -> None:
    """An agent with 40 events behind a cap of 20/s (burst 5): its resends get them all in."""
    config = _config(database, mqtt_endpoint, topic_prefix, site_rate_per_s=20, site_burst=5)
    section = {
        "host": mqtt_endpoint.host,
        "port": mqtt_endpoint.port,
        "topic_prefix": topic_prefix,
        "client_id": f"agent-{uuid.uuid4().hex[:12]}",
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.5,
    }
    if mqtt_endpoint.username is not None:
        section["username"] = mqtt_endpoint.username
        section["password"] = mqtt_endpoint.password
    delivery = {"resend_initial_s": 0.2, "resend_max_s": 0.4}
    agent_config = make_config(tmp_path, mqtt=section, delivery=delivery)
    async with (
        running_hub(config, mqtt_endpoint) as hub,
        Outbox(agent_config.outbox.path, site=SITE) as outbox,
    ):
        for _ in range(40):
            draft = Draft(DOOR, Kind.DOOR_LOCK, EventType.DOOR_OPENED, {"driver": "test"})
            await outbox.append(draft)
        async with Link(agent_config, outbox, version="9.9.9", started_at=datetime.now(UTC)):

            async def drained() -> bool:
                return not await outbox.pending()

            await eventually(drained, "every capped event resent and acked", within_s=20)
        assert hub.stats.capped > 0
        assert await rows(database, "SELECT count(*) FROM events WHERE site = %s", [SITE]) == [
            (40,)
        ]
