"""The relay: outbox rows left undelivered (a crash after commit) go out at the next start."""

import uuid

import pytest

from hub import HubConfig
from hub.runtime import migrate_database
from tests.harness import MqttEndpoint
from tests.hub.conftest import running_hub
from tests.hub.support import SITE, eventually, rows, subscribed
from wire import AlertTransition, Severity, TopicSpace, Transition, encode

pytestmark = pytest.mark.integration

AT = "2025-03-01T08:15:02.123456Z"


async def test_undelivered_transitions_are_published_in_order_at_start(
    hub_config: HubConfig, mqtt_endpoint: MqttEndpoint, database: str
) -> None:
    """Two pending outbox rows of one alert go out in revision order and are stamped."""
    await migrate_database(database, wait=False)
    alert_id = uuid.uuid4()
    await rows(
        database,
        "INSERT INTO alerts (alert_id, rule, severity, site, device, revision, count, "
        "first_at, last_at, event_ids) VALUES (%s, 'panic', 'critical', %s, 'p1', 2, 2, "
        "%s, %s, '{}') RETURNING 1",
        [alert_id, SITE, AT, AT],
    )
    for revision, transition in ((1, Transition.OPENED), (2, Transition.UPDATED)):
        payload = encode(
            AlertTransition(
                v=1,
                alert_id=alert_id,
                revision=revision,
                transition=transition,
                rule="panic",
                severity=Severity.CRITICAL,
                site=SITE,
                device="p1",
                count=revision,
                first_at=AT,
                last_at=AT,
                event_ids=(),
            )
        )
        await rows(
            database,
            "INSERT INTO alert_outbox (alert_id, revision, transition, site, payload) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING 1",
            [alert_id, revision, transition.value, SITE, payload],
        )
    space = TopicSpace(hub_config.mqtt.topic_prefix)
    async with (
        subscribed(mqtt_endpoint, space.alerts(SITE)) as inbox,
        running_hub(hub_config, mqtt_endpoint),
    ):
        first = await inbox.take(space.alerts(SITE))
        second = await inbox.take(space.alerts(SITE))
        assert (first["revision"], second["revision"]) == (1, 2)
        await eventually(
            lambda: rows(database, "SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL"),
            until=lambda r: r == [(0,)],
            what="both rows stamped delivered",
        )
