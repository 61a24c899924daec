"""Several hubs on one broker and one database: what is shared, and who leads each duty."""

import psycopg
import pytest

from hub.config import parse_config
from hub.errors import ConfigError
from hub.health import Duties, Health
from hub.leases import Leases
from hub.runtime import subscriptions_for
from wire import TopicSpace

URL = "postgresql://hub@localhost/shouwang"


def test_a_single_hub_shares_nothing() -> None:
    """Without a group every filter is a plain subscription, as before."""
    subs = subscriptions_for(TopicSpace("t/"), None)
    assert not any(s.startswith("$share/") for s in subs)
    assert "t/shouwang/v1/+/events/#" in subs


def test_a_share_group_shares_events_and_snapshots_only() -> None:
    """Events and snapshots go to one hub of the group; retained topics to every hub."""
    subs = subscriptions_for(TopicSpace("t/"), "hubs")
    assert subs == (
        "$share/hubs/t/shouwang/v1/+/events/#",
        "$share/hubs/t/shouwang/v1/+/snapshots/#",
        "t/shouwang/v1/+/state/#",
        "t/shouwang/v1/+/inventory",
        "t/shouwang/v1/+/status",
    )


def _config(mqtt: str) -> str:
    return f"database: {{url: '{URL}'}}\nmqtt: {mqtt}\n"


def test_share_group_with_mqtt5_needs_a_short_session() -> None:
    """MQTT 5 with a day's session expiry would leave a dead hub its turn for a day."""
    with pytest.raises(ConfigError, match="session_expiry_s 86400 is above 60 with share_group"):
        parse_config(_config("{share_group: hubs, protocol: '5'}"), environ={})
    config = parse_config(
        _config("{share_group: hubs, protocol: '5', session_expiry_s: 10}"), environ={}
    )
    assert config.mqtt.share_group == "hubs"
    assert parse_config(_config("{share_group: hubs}"), environ={}).mqtt.protocol == "3.1.1"


@pytest.mark.parametrize("group", ["a/b", "a+", "#", ""])
def test_a_share_group_is_one_topic_level(group: str) -> None:
    """The group is a level of `$share/{group}/...`: no `/`, `+`, `#`, not empty."""
    with pytest.raises(ConfigError, match="share_group"):
        parse_config(_config(f"{{share_group: '{group}'}}"), environ={})


def test_duties_say_who_holds_what() -> None:
    """Held and standby duties appear in the rules and relay components' details."""
    duties = Duties()
    assert duties.describe(("rules",)) is None
    duties.record("rules", held=True)
    duties.record("retention", held=False)
    duties.record("relay", held=False)
    assert duties.describe(("rules", "retention")) == "holds: rules; standby: retention"
    health = Health(duties=duties)
    health.rules.beat()
    parts = health.components()
    assert parts.rules.detail == "holds: rules; standby: retention"
    assert parts.relay.detail == "standby: relay"


async def _backend(leases: Leases) -> int:
    conn = await leases._connection()
    row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.integration
async def test_one_hub_leads_a_duty_and_another_takes_over_when_it_dies(database: str) -> None:
    """The first to claim keeps the lease; when its session dies the other gets it."""
    a = Leases(database, hub_id="hub-a", duties=Duties())
    b = Leases(database, hub_id="hub-b", duties=Duties())
    try:
        assert await a.claim("rules")
        assert not await b.claim("rules")
        assert await a.claim("rules")  # kept, round after round
        assert await b.claim("relay")
        assert b.duties.held == {"rules": False}
        pid = await _backend(a)
        async with await psycopg.AsyncConnection.connect(database, autocommit=True) as admin:
            # With a timeout the call waits until the backend has exited (and its locks with it).
            await admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        assert await b.claim("rules")  # the killed session's locks are gone
        assert not await a.claim("rules")  # it notices and stands down
        await b.close()
        assert await a.claim("rules")  # a clean stop hands the lease on at once
    finally:
        await a.close()
        await b.close()
