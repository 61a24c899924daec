"""Ingest end to end: a plain MQTT client publishes, the hub stores, dead-letters and acks."""

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import SecretStr

from hub import Hub, HubConfig
from tests.harness import FaultProxy, FaultProxyFactory, MqttEndpoint
from tests.hub.conftest import running_hub
from tests.hub.support import (
    EPOCH,
    SITE,
    client,
    dump,
    event,
    eventually,
    forget_session,
    rows,
    subscribed,
)
from wire import SIZE_LIMITS, EventTopic, Kind

pytestmark = pytest.mark.integration

PANIC = "panic-0031"


def _topic(hub: Hub, device: str = PANIC, kind: Kind = Kind.PANIC_ALARM) -> str:
    return hub.space.events(SITE, kind, device)


async def _count(database: str, table: str) -> int:
    return int((await rows(database, f"SELECT count(*) FROM {table}"))[0][0])


async def test_valid_events_are_stored_once_and_acked(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """Three events and a resend of one: three rows, one device row, acks covering 1-3."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.ack(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        events = [
            event(seq=seq, type="test.periodic", at=f"2025-03-01T08:15:0{seq}.000000Z")
            for seq in (1, 2, 3)
        ]
        for payload in [*events, events[1]]:
            await agent.publish(_topic(hub), dump(payload), qos=1)
        acked: set[int] = set()
        while acked != {1, 2, 3}:
            ack = await inbox.take(hub.space.ack(SITE))
            assert ack["epoch"] == str(EPOCH)
            acked.update(s for a, b in ack["ranges"] for s in range(a, b + 1))
        stored = await rows(database, "SELECT id, seq, received_at IS NOT NULL FROM events")
        assert sorted((str(i), s, r) for i, s, r in stored) == sorted(
            (e["id"], e["seq"], True) for e in events
        )
        device = await rows(
            database,
            "SELECT kind, last_seen, last_event_id, last_type, online, inventoried "
            "FROM devices WHERE site = %s AND device = %s",
            [SITE, PANIC],
        )
        kind, last_seen, last_id, last_type, online, inventoried = device[0]
        assert (kind, last_type, online, inventoried) == (
            "panic_alarm",
            "test.periodic",
            True,
            False,
        )
        assert str(last_id) == events[2]["id"]
        assert last_seen.isoformat().startswith("2025-03-01T08:15:03")
        assert await _count(database, "dead_letters") == 0
        assert hub.stats.events_new == 3
        assert hub.stats.events_duplicate == 1


def _with(**changes: Any) -> dict[str, Any]:
    payload = event(seq=41, type="test.periodic")
    payload.update(changes)
    return payload


# (case, topic under the prefix or None for the device's own, payload, error, words, acked)
BAD_INPUTS: list[tuple[str, str | None, bytes, str, str, bool]] = [
    ("malformed JSON", None, b"{not json", "PayloadInvalid", "malformed", False),
    ("wrong types", None, dump(_with(seq="41")), "PayloadInvalid", "$.seq", False),
    (
        "oversize",
        None,
        dump(_with(data={"blob": "x" * SIZE_LIMITS[EventTopic]})),
        "PayloadTooLarge",
        "limit",
        True,
    ),
    ("unknown kind", None, dump(_with(kind="robot")), "PayloadInvalid", "robot", True),
    ("unknown type", None, dump(_with(type="alarm.zombie")), "PayloadInvalid", "zombie", True),
    ("site mismatch", None, dump(_with(site="room-99")), "TopicMismatch", "site", True),
    ("kind mismatch", None, dump(_with(kind="camera")), "TopicMismatch", "kind", True),
    ("device mismatch", None, dump(_with(device="door-1")), "TopicMismatch", "device", True),
    (
        "bad topic",
        f"shouwang/v1/{SITE}/events/robot/{PANIC}",
        dump(_with()),
        "TopicError",
        "robot",
        True,
    ),
]


@pytest.mark.parametrize(
    ("topic", "payload", "error", "words", "acked"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS],
)
async def test_bad_input_is_dead_lettered_and_the_next_event_stored(  # noqa: PLR0917
    hub_config: HubConfig,
    mqtt_endpoint: MqttEndpoint,
    database: str,
    topic: str | None,
    payload: bytes,
    error: str,
    words: str,
    acked: bool,
) -> None:
    """Bad input → one dead letter with the reason (acked if readable); ingest goes on."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.ack(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        name = _topic(hub) if topic is None else hub.space.prefix + topic
        await agent.publish(name, payload, qos=1)
        valid = event(seq=42, type="test.periodic")
        await agent.publish(_topic(hub), dump(valid), qos=1)

        stored = await eventually(
            lambda: rows(database, "SELECT id FROM events"), what="the valid event stored"
        )
        assert [str(r[0]) for r in stored] == [valid["id"]]
        letters = await rows(
            database, "SELECT topic, site, error, reason, seq, size, payload FROM dead_letters"
        )
        assert len(letters) == 1
        letter_topic, site, letter_error, reason, seq, size, kept = letters[0]
        assert (letter_topic, site, letter_error) == (name, SITE, error)
        assert words in reason
        assert size == len(payload)
        assert bytes(kept) == payload[: SIZE_LIMITS[EventTopic]]
        assert seq == (41 if acked else None)
        seqs: set[int] = set()
        while 42 not in seqs or (acked and 41 not in seqs):
            ack = await inbox.take(hub.space.ack(SITE))
            seqs.update(s for a, b in ack["ranges"] for s in range(a, b + 1))
        assert seqs == ({41, 42} if acked else {42})
        assert hub.stats.dead_letters == 1


async def test_row_the_database_refuses_is_dead_lettered_alone(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """A `\\u0000` in data (valid JSON, refused by jsonb) is dead-lettered; its batch is kept."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.ack(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        poison = event(seq=1, type="test.periodic", data={"note": "nul \u0000 inside"})
        good = event(seq=2, type="test.periodic")
        await agent.publish(_topic(hub), dump(poison), qos=1)
        await agent.publish(_topic(hub), dump(good), qos=1)
        seqs: set[int] = set()
        while seqs != {1, 2}:
            ack = await inbox.take(hub.space.ack(SITE))
            seqs.update(s for a, b in ack["ranges"] for s in range(a, b + 1))
        assert [str(r[0]) for r in await rows(database, "SELECT id FROM events")] == [good["id"]]
        letters = await rows(database, "SELECT error, reason, seq FROM dead_letters")
        assert [(e, s) for e, _, s in letters] == [("StorageRefused", 1)]
        assert "database refused" in letters[0][1]


async def test_inventory_marks_devices_and_replaces_the_previous_one(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """An inventory marks its devices inventoried; the next one unmarks the ones it drops."""
    async with running_hub(hub_config, mqtt_endpoint) as hub, client(mqtt_endpoint) as agent:
        devices = [
            {"id": "door-0042", "kind": "door_lock", "checkin_s": 300, "label": "Block 3"},
            {"id": PANIC, "kind": "panic_alarm", "checkin_s": 3600},
        ]
        first = {"v": 1, "site": SITE, "at": "2025-03-01T06:00:01.000000Z", "devices": devices}
        second = {**first, "at": "2025-03-01T07:00:01.000000Z", "devices": devices[:1]}
        query = "SELECT device, kind, label, checkin_s, inventoried FROM devices ORDER BY device"
        await agent.publish(hub.space.inventory(SITE), dump(first), qos=1)
        listed = await eventually(lambda: rows(database, query), until=lambda r: len(r) == 2)
        assert listed == [
            ("door-0042", "door_lock", "Block 3", 300, True),
            (PANIC, "panic_alarm", None, 3600, True),
        ]
        await agent.publish(hub.space.inventory(SITE), dump(second), qos=1)
        await eventually(
            lambda: rows(database, query),
            until=lambda r: [d[4] for d in r] == [True, False],
            what="the dropped device unmarked",
        )
        site = await rows(database, "SELECT inventory_count FROM sites WHERE site = %s", [SITE])
        assert site == [(1,)]


def _agent_status(state: str) -> dict[str, Any]:
    lane = {"depth": 0, "bytes": 0, "shed": 0}
    return {
        "v": 1,
        "site": SITE,
        "state": state,
        "reason": None,
        "version": "0.1.0",
        "started_at": "2025-03-01T06:00:00.000000Z",
        "clock": "2025-03-01T08:15:30.000412Z",
        "epoch": str(EPOCH),
        "degraded": False,
        "lanes": {"p0": lane, "p1": lane, "p2": lane},
        "drivers": {"sia": {"state": "ok", "detail": None}},
    }


async def test_agent_status_and_state_update_sites_and_devices(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """An agent status fills the site's row; a device state fills the device's."""
    async with running_hub(hub_config, mqtt_endpoint) as hub, client(mqtt_endpoint) as agent:
        await agent.publish(hub.space.status(SITE), dump(_agent_status("online")), qos=1)
        state = {
            "v": 1,
            "site": SITE,
            "device": "door-0042",
            "kind": "door_lock",
            "at": "2025-03-01T08:15:02.301877Z",
            "online": False,
            "state": {"door": "open", "locked": False},
        }
        await agent.publish(hub.space.state(SITE, Kind.DOOR_LOCK, "door-0042"), dump(state), qos=1)
        site = await eventually(
            lambda: rows(
                database,
                "SELECT state, epoch, status->>'version', last_status_at IS NOT NULL FROM sites",
            ),
            until=lambda r: len(r) == 1 and r[0][0] is not None,
        )
        assert site == [("online", EPOCH, "0.1.0", True)]
        device = await eventually(
            lambda: rows(database, "SELECT kind, last_state, online, inventoried FROM devices")
        )
        assert device == [("door_lock", {"door": "open", "locked": False}, False, False)]
        await agent.publish(hub.space.status(SITE), dump(_agent_status("offline")), qos=1)
        await eventually(
            lambda: rows(database, "SELECT state FROM sites"),
            until=lambda r: r == [("offline",)],
            what="the LWT's offline recorded",
        )


def _through_proxy(
    config: HubConfig, fault_proxy: FaultProxyFactory
) -> tuple[FaultProxy, HubConfig]:
    """`config` with its database reached through a fault proxy of this test's own."""
    url = config.database.url.get_secret_value()
    parts = urlsplit(url)
    assert parts.hostname is not None
    proxy = fault_proxy(parts.hostname, parts.port or 5432)
    proxied = urlunsplit(
        parts._replace(netloc=f"{parts.netloc.rpartition('@')[0]}@127.0.0.1:{proxy.port}")
    )
    database = config.database.model_copy(
        update={"url": SecretStr(proxied), "connect_timeout_s": 0.5}
    )
    return proxy, config.model_copy(update={"database": database})


@pytest.mark.faults
async def test_database_down_means_no_ack_until_it_is_stored(
    hub_config: HubConfig,
    mqtt_endpoint: MqttEndpoint,
    database: str,
    fault_proxy: FaultProxyFactory,
) -> None:
    """With the database unreachable the hub keeps running and acks nothing; then it catches up."""
    proxy, config = _through_proxy(hub_config, fault_proxy)
    async with (
        running_hub(config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.ack(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        proxy.drop()
        panic = event(seq=5)
        await agent.publish(_topic(hub), dump(panic), qos=1)

        async def trouble() -> str | None:
            return hub.health.ingest.detail

        await eventually(
            trouble,
            until=lambda d: d is not None and "database unavailable" in d,
            what="ingest reporting the database unavailable",
        )
        assert inbox.on(hub.space.ack(SITE)) == []
        assert hub.stats.retries >= 1
        proxy.pass_through()
        ack = await inbox.take(hub.space.ack(SITE), within_s=20)
        assert ack["ranges"] == [[5, 5]]
        stored = await rows(database, "SELECT id FROM events")
        assert [str(r[0]) for r in stored] == [panic["id"]]
        assert await _count(database, "alerts") == 1


async def test_messages_published_while_the_hub_is_down_wait_in_its_session(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """The hub's persistent session keeps QoS 1 events for it across a restart."""
    first = Hub(hub_config)
    try:
        async with first:
            assert await first.wait_connected(10.0)
        async with client(mqtt_endpoint) as agent:
            missed = event(seq=9, type="test.periodic")
            await agent.publish(_topic(first), dump(missed), qos=1)
        async with running_hub(hub_config, mqtt_endpoint):
            stored = await eventually(lambda: rows(database, "SELECT id FROM events"))
            assert [str(r[0]) for r in stored] == [missed["id"]]
    finally:
        await forget_session(mqtt_endpoint, first.client_id, first.space)


@pytest.mark.faults
async def test_message_a_hub_took_but_never_stored_is_redelivered_by_the_broker(
    hub_config: HubConfig,
    mqtt_endpoint: MqttEndpoint,
    database: str,
    fault_proxy: FaultProxyFactory,
) -> None:
    """The broker's PUBACK waits for the commit: a hub stopped mid-retry loses nothing."""
    proxy, config = _through_proxy(hub_config, fault_proxy)
    first = Hub(config)
    try:
        async with first:
            assert await first.wait_connected(10.0)
            proxy.drop()
            async with client(mqtt_endpoint) as agent:
                held = event(seq=3, type="test.periodic")
                await agent.publish(_topic(first), dump(held), qos=1)

            async def retries() -> int:
                return first.stats.retries

            await eventually(retries, what="the hub holding the event, retrying the database")
        proxy.pass_through()
        async with running_hub(config, mqtt_endpoint):
            stored = await eventually(lambda: rows(database, "SELECT id FROM events"))
            assert [str(r[0]) for r in stored] == [held["id"]]
    finally:
        await forget_session(mqtt_endpoint, first.client_id, first.space)


async def test_mqtt_5_session_works_the_same(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """Over MQTT 5 (session expiry instead of clean_session) an event is stored and acked."""
    mqtt = hub_config.mqtt.model_copy(update={"protocol": "5", "session_expiry_s": 60})
    config = hub_config.model_copy(update={"mqtt": mqtt})
    async with (
        running_hub(config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.ack(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        sent = event(seq=11, type="test.periodic")
        await agent.publish(_topic(hub), dump(sent), qos=1)
        assert (await inbox.take(hub.space.ack(SITE)))["ranges"] == [[11, 11]]
        assert [str(r[0]) for r in await rows(database, "SELECT id FROM events")] == [sent["id"]]
