"""Small fleet runs against a real hub, Mosquitto and PostgreSQL, judged by the oracle."""

import dataclasses
from pathlib import Path

import psycopg
import pytest

from simulators.fleet.agent import AgentSettings
from simulators.fleet.expect import AlertKey
from simulators.fleet.population import build_population
from simulators.fleet.processes import run_processes
from simulators.fleet.rates import Rates
from simulators.fleet.runner import FleetOptions, run_fleet
from tests.harness import MqttEndpoint
from tests.simulators.fleet.support import fleet_hub

ROOMS, SCALE, SEED = 3, 0.05, 7
FAST = AgentSettings(resend_initial_s=2.0, resend_max_s=5.0, status_interval_s=5.0)
# Busy rooms, so that a few seconds of a few tiny rooms still make a thousand events.
BUSY = Rates(
    door_passages_per_hour=2000, contact_openings_per_hour=200, camera_motion_per_hour=2000
)


def options(
    mqtt_endpoint: MqttEndpoint, database: str, prefix: str, **changes: object
) -> FleetOptions:
    base = FleetOptions(
        broker_url=mqtt_endpoint.url,
        database_url=database,
        rooms=ROOMS,
        scale=SCALE,
        seed=SEED,
        scenario="burglary",
        duration_s=15.0,
        speed=20.0,
        topic_prefix=prefix,
        hub_has_links=True,
        agent=FAST,
        rates=BUSY,
        drain_s=30.0,
        settle_s=2.0,
        canary_s=5.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.integration
async def test_small_burglary_run_passes_the_oracle(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """A 3-room burglary stores every event once and raises exactly the expected alerts."""
    rooms = build_population(ROOMS, SCALE, SEED)
    with fleet_hub(
        tmp_path, database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix, rooms=rooms
    ):
        report = await run_fleet(options(mqtt_endpoint, database, topic_prefix))
    print(report.summary())
    assert report.verdict is not None
    assert report.verdict.ok, report.summary()
    assert report.unacked == 0
    assert report.generated > 500
    assert report.verdict.stored == report.generated
    burglary = [r for r in report.records if r.tag == "burglary"]
    assert len(burglary) == 4
    site, guard, door = burglary[0].site, burglary[0].device, burglary[1].device
    assert {
        AlertKey("intrusion", site, guard),
        AlertKey("door-forced", site, door),
        AlertKey("confirmed-intrusion", site, door),
    } <= set(report.verdict.raised)


@pytest.mark.integration
async def test_oracle_fails_on_a_missing_event_or_a_wrong_alert(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """The oracle fails on a deleted event row, an unexpected alert and a missing alert."""
    rooms = build_population(1, SCALE, SEED)
    with fleet_hub(
        tmp_path, database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix, rooms=rooms
    ):
        report = await run_fleet(
            options(mqtt_endpoint, database, topic_prefix, rooms=1, duration_s=6.0)
        )
    assert report.verdict is not None
    assert report.verdict.ok, report.summary()
    victim = report.records[len(report.records) // 2]
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute("DELETE FROM events WHERE id = %s", [victim.id])
    after = report.judge(database)
    assert not after.ok
    assert after.missing == (victim.id,)
    assert after.stored == report.generated - 1
    assert "missing events: " + str(victim.id) in after.summary()

    raised = report.verdict.raised[0]
    phantom = AlertKey("panic", victim.site, "panic-99")
    wrong = dataclasses.replace(
        report.expectations,
        required=(report.expectations.required - {raised}) | {phantom},
        allowed=report.expectations.allowed - {raised},
    )
    judged = report.judge(database, wrong)
    assert raised in judged.unexpected_alerts
    assert judged.missing_alerts == (phantom,)
    assert not judged.alerts_ok


@pytest.mark.integration
@pytest.mark.parametrize(
    "scenario", ["link-down", "flapping-agent", "reconnect-storm", "power-cut"]
)
async def test_fault_scenarios_still_deliver_everything_exactly_once(
    scenario: str, tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """Link down, flapping, a reconnect storm, a power cut: every event once, alerts as expected."""
    rooms = build_population(2, SCALE, SEED)
    with fleet_hub(
        tmp_path, database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix, rooms=rooms
    ):
        report = await run_fleet(
            options(
                mqtt_endpoint,
                database,
                topic_prefix,
                rooms=2,
                scenario=scenario,
                duration_s=10.0,
                speed=10.0,
            )
        )
    assert report.verdict is not None
    assert report.verdict.ok, report.summary()
    if scenario != "power-cut":
        assert report.outages, "the scenario cut no link"
        assert all(o.up_at is not None for o in report.outages)
    else:
        panels = {(r.site, r.device) for r in report.records if r.tag == "power"}
        assert {(k.site, k.device) for k in report.verdict.raised if k.rule == "ac-lost"} == panels


@pytest.mark.integration
def test_two_processes_split_the_rooms_and_are_judged_as_one(
    tmp_path: Path, database: str, mqtt_endpoint: MqttEndpoint, topic_prefix: str
) -> None:
    """Two fleet processes each play half of the rooms; the merged run passes the oracle."""
    rooms = build_population(2, SCALE, SEED)
    with fleet_hub(
        tmp_path, database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix, rooms=rooms
    ):
        run = options(mqtt_endpoint, database, topic_prefix, rooms=2, duration_s=6.0)
        report = run_processes(run, 2)
    assert report.verdict is not None
    assert report.verdict.ok, report.summary()
    assert sorted(report.sites) == ["room-01", "room-02"]
    assert len(set(report.epochs)) == 2
    assert report.generated == len(report.records) > 100
