"""The first rule end to end: a panic opens an alert, a repeat updates it, a resend does not."""

from typing import Any

import pytest

from hub import Hub, HubConfig
from tests.harness import MqttEndpoint
from tests.hub.conftest import running_hub
from tests.hub.support import SITE, client, dump, event, rows, subscribed
from wire import Kind

pytestmark = pytest.mark.integration


def _panic_topic(hub: Hub, device: str) -> str:
    return hub.space.events(SITE, Kind.PANIC_ALARM, device)


async def test_panic_opens_an_alert_and_a_repeat_updates_it(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """First panic → alert row and `opened`; second → `updated`, count 2, revision 2."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.alerts(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        first = event(seq=1, device="panic-0031", at="2025-03-01T08:15:02.123456Z")
        second = event(seq=2, device="panic-0031", at="2025-03-01T08:16:00.000000Z")
        await agent.publish(_panic_topic(hub, "panic-0031"), dump(first), qos=1)
        opened = await inbox.take(hub.space.alerts(SITE))
        assert {k: opened[k] for k in ("transition", "rule", "severity", "site", "device")} == {
            "transition": "opened",
            "rule": "panic",
            "severity": "critical",
            "site": SITE,
            "device": "panic-0031",
        }
        assert (opened["revision"], opened["count"], opened["event_ids"]) == (1, 1, [first["id"]])
        assert opened["first_at"] == opened["last_at"] == first["at"]

        await agent.publish(_panic_topic(hub, "panic-0031"), dump(second), qos=1)
        updated = await inbox.take(hub.space.alerts(SITE))
        assert updated["alert_id"] == opened["alert_id"]
        assert (updated["transition"], updated["revision"], updated["count"]) == ("updated", 2, 2)
        assert updated["event_ids"] == [first["id"], second["id"]]
        assert (updated["first_at"], updated["last_at"]) == (first["at"], second["at"])

        stored = await rows(database, "SELECT alert_id, state, revision, count FROM alerts")
        assert [(str(a), s, r, c) for a, s, r, c in stored] == [(opened["alert_id"], "open", 2, 2)]
        outbox = await rows(
            database, "SELECT revision, transition, delivered_at IS NOT NULL FROM alert_outbox"
        )
        assert sorted(outbox) == [(1, "opened", True), (2, "updated", True)]


async def test_resent_panic_and_other_devices(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """A resent panic (same id) changes nothing; another device's panic is its own alert."""
    async with (
        running_hub(hub_config, mqtt_endpoint) as hub,
        subscribed(mqtt_endpoint, hub.space.alerts(SITE), hub.space.ack(SITE)) as inbox,
        client(mqtt_endpoint) as agent,
    ):
        panic = event(seq=1, device="panic-0031")
        await agent.publish(_panic_topic(hub, "panic-0031"), dump(panic), qos=1)
        await inbox.take(hub.space.alerts(SITE))
        await inbox.take(hub.space.ack(SITE))
        await agent.publish(_panic_topic(hub, "panic-0031"), dump(panic), qos=1)
        resend_ack = await inbox.take(hub.space.ack(SITE))
        assert resend_ack["ranges"] == [[1, 1]]  # duplicates are acked too

        other = event(seq=2, device="panic-0032")
        await agent.publish(_panic_topic(hub, "panic-0032"), dump(other), qos=1)
        opened = await inbox.take(hub.space.alerts(SITE))
        assert (opened["transition"], opened["device"], opened["count"]) == (
            "opened",
            "panic-0032",
            1,
        )
        alerts: list[Any] = await rows(
            database, "SELECT device, revision, count FROM alerts ORDER BY device"
        )
        assert alerts == [("panic-0031", 1, 1), ("panic-0032", 1, 1)]
        assert inbox.on(hub.space.alerts(SITE)) == []
