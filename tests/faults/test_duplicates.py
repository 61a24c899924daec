"""A duplicate storm: every event published three times, and all of it replayed again after
a restart, as an agent does on reconnect. The hub stores one row per event and its rules
see each event once."""

import asyncio
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

import wire
from tests.faults.agent_support import alert_counts, wait_until
from tests.faults.processes import HubProcess, wait_for_ids
from tests.harness import MqttEndpoint

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SITE = "storm-site"
PANICS = 10
DOORS = 20
COPIES = 3


def _events(
    epoch: uuid.UUID, *, first_seq: int = 1, panics: int = PANICS, doors: int = DOORS
) -> list[wire.Event]:
    """`panics` alarms on one panic button, then `doors` door events, seq upwards."""
    at = wire.format_time(datetime.now(UTC))
    kinds = [(wire.Kind.PANIC_ALARM, "panic-1", wire.EventType.ALARM_PANIC)] * panics + [
        (wire.Kind.DOOR_LOCK, "door-1", wire.EventType.DOOR_OPENED)
    ] * doors
    return [
        wire.Event(
            v=1,
            id=wire.new_event_id(),
            site=SITE,
            device=device,
            kind=kind,
            type=type_,
            at=at,
            epoch=epoch,
            seq=seq,
            source={"driver": "test"},
            data={},
        )
        for seq, (kind, device, type_) in enumerate(kinds, start=first_seq)
    ]


async def _publish(
    endpoint: MqttEndpoint, prefix: str, events: Sequence[wire.Event], *, shuffle: bool
) -> None:
    """Publish every event COPIES times (QoS 1), in order or shuffled."""
    space = wire.TopicSpace(prefix)
    messages = [
        (space.events(event.site, event.kind, event.device), wire.encode(event))
        for event in events
        for _ in range(COPIES)
    ]
    if shuffle:
        random.shuffle(messages)
    async with aiomqtt.Client(
        endpoint.host,
        endpoint.port,
        username=endpoint.username,
        password=endpoint.password,
        identifier=f"storm-{uuid.uuid4().hex[:12]}",
    ) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


@pytest.mark.timeout(120)
def test_duplicate_storm_stores_one_row_and_one_alert_count_per_event(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """Each event thrice, all replayed thrice after a restart: one row per id, one count each."""
    events = _events(uuid.uuid4())
    expected = {str(event.id) for event in events}
    hub = HubProcess(
        tmp_path / "hub", database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix
    )
    with hub:
        asyncio.run(_publish(mqtt_endpoint, topic_prefix, events, shuffle=False))
        ids = wait_for_ids(database, expected, within_s=30, site=SITE)
        assert sorted(ids) == sorted(expected)
        wait_until(
            lambda: alert_counts(database, SITE, "panic") == [PANICS], "the alert", within_s=10
        )

        # The replay an agent makes after a restart: the same bytes, again, in any order,
        # then one new event. The hub takes one publisher's messages in order, so once
        # that one is stored every copy before it has been through ingest and the rules.
        hub.stop()
        hub.start()
        asyncio.run(_publish(mqtt_endpoint, topic_prefix, events, shuffle=True))
        (barrier,) = _events(events[0].epoch, first_seq=len(events) + 1, panics=0, doors=1)
        asyncio.run(_publish(mqtt_endpoint, topic_prefix, [barrier], shuffle=False))
        expected.add(str(barrier.id))
        ids = wait_for_ids(database, expected, within_s=30, site=SITE)

    assert sorted(ids) == sorted(expected), "a duplicate was stored"
    assert alert_counts(database, SITE, "panic") == [PANICS]
