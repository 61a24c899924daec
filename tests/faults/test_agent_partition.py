"""A network partition between agent and broker while events keep coming: after it heals,
everything is delivered once, the alarms before the backlog, and each lane in order."""

import itertools
import time
from pathlib import Path

import pytest

from tests.faults.agent_support import DEVICES, Row, rows
from tests.faults.processes import AgentProcess, HubProcess, wait_for_ids
from tests.harness import FaultProxyFactory, MqttEndpoint

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SITE = "partition-site"
BACKLOG = [("door", "door.opened"), ("cam", "motion.started"), ("door", "door.closed")]


def _in_order(lane_rows: list[Row]) -> bool:
    """True when, by seq, the hub's `received_at` never goes back (ties: one batch)."""
    by_seq = sorted(lane_rows, key=lambda row: row.seq)
    return all(a.received_at <= b.received_at for a, b in itertools.pairwise(by_seq))


@pytest.mark.timeout(120)
def test_partition_heals_to_full_delivery_alarms_first_lanes_in_order(
    tmp_path: Path,
    database: str,
    mqtt_endpoint: MqttEndpoint,
    topic_prefix: str,
    fault_proxy: FaultProxyFactory,
) -> None:
    """Blackholed link with a P1/P2 backlog then P0: all stored once, P0 first, lanes in seq.

    `received_at` is the hub's transaction time, so events stored in one batch tie: the
    checks are "no backlog event was stored before any alarm" and "within a lane, sorted by
    seq, `received_at` never decreases".
    """
    proxy = fault_proxy(mqtt_endpoint.host, mqtt_endpoint.port)
    via_proxy = MqttEndpoint(
        host=proxy.host,
        port=proxy.port,
        username=mqtt_endpoint.username,
        password=mqtt_endpoint.password,
    )
    hub = HubProcess(
        tmp_path / "hub", database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix
    )
    agent = AgentProcess(
        tmp_path / "agent", site=SITE, devices=DEVICES, endpoint=via_proxy, prefix=topic_prefix
    )
    with hub, agent, agent.pusher() as device:
        assert device.push("door", "door.opened") == 201
        wait_for_ids(database, set(device.stored), within_s=15, site=SITE)
        before = set(device.stored)

        proxy.blackhole()
        for n in range(300):
            device_id, type_ = BACKLOG[n % len(BACKLOG)]
            assert device.push(device_id, type_) == 201
        backlog = set(device.stored) - before
        alarms = set()
        for _ in range(5):
            assert device.push("panic", "alarm.panic") == 201
            alarms.add(device.stored[-1])
        time.sleep(2.5)  # the partition lasts: publishes, a resend and a reconnect are lost
        assert not (backlog | alarms) & {row.id for row in rows(database, SITE)}

        proxy.pass_through()
        ids = wait_for_ids(database, set(device.stored), within_s=60, site=SITE)

    assert set(device.stored) <= set(ids)
    assert len(ids) == len(set(ids)), "an event was stored twice"
    stored = {row.id: row for row in rows(database, SITE)}
    last_alarm = max(stored[id_].received_at for id_ in alarms)
    first_backlog = min(stored[id_].received_at for id_ in backlog)
    assert last_alarm <= first_backlog, "the backlog was delivered before an alarm"
    for lane in (0, 1, 2):
        lane_rows = [stored[id_] for id_ in backlog | alarms if stored[id_].lane == lane]
        assert _in_order(lane_rows), f"lane P{lane} delivered out of seq order"
    assert {stored[id_].lane for id_ in backlog} == {1, 2}
