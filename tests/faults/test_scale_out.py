"""Three hubs on one shared subscription (`$share/hubs/...`), `kill -9`ed mid-run.

A private Mosquitto, three real `python -m hub run` processes in share group `hubs`
(MQTT 5, 5 s session expiry, docs/scale.md) and three real agents. Mid-stream one hub is
killed, then the one holding the rule clock's advisory lock. Every event the agents took
must be stored once and acked (the agents' outboxes empty); each expected alert raised
once, including a correlation and a duration whose events went to different hubs; the
surviving hub must take over the periodic duties within 10 s. The second scenario is
the fleet simulator's burglary over busy traffic (`simulators/fleet`), judged by its
oracle, with one of the three hubs killed while the fleet publishes.
"""

import json
import sqlite3
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from simulators.fleet.agent import AgentSettings
from simulators.fleet.population import build_population
from simulators.fleet.rates import Rates
from simulators.fleet.runner import FleetOptions, run_fleet, write_rules
from tests.faults.agent_support import wait_until
from tests.faults.processes import AgentProcess, HubProcess, wait_for_ids
from tests.faults.streams import HUB_BROKER_CONFIG, start_agents, stream_with_faults
from tests.harness import MqttEndpoint, PrivateMosquitto

pytestmark = [pytest.mark.faults, pytest.mark.integration]

HUBS = ("hub-a", "hub-b", "hub-c")
AGENTS = 3
EVENTS_PER_AGENT = 400
TAKEOVER_S = 10.0
HOLD_S = 2
DEVICES = {
    "p1": "panic_alarm",
    "d1": "door_lock",
    "c1": "camera",
    "x1": "panel",
    "x2": "panel",
}
PATTERN = [
    ("d1", "door.opened"),
    ("p1", "alarm.panic"),
    ("d1", "door.closed"),
    ("c1", "motion.stopped"),
]
RULES = f"""rules:
  - name: panic
    kind: immediate
    match: {{types: [alarm.panic]}}
    severity: critical
  - name: forced-then-motion
    kind: correlation
    first: {{types: [door.forced]}}
    then: {{types: [motion.started]}}
    within_s: 300
    severity: high
  - name: ac-lost
    kind: duration
    start: {{types: [power.ac_lost]}}
    stop: {{types: [power.ac_restored]}}
    for_s: {HOLD_S}
    severity: medium
"""


def shared_hub(
    directory: Path,
    hub_id: str,
    *,
    database: str,
    endpoint: MqttEndpoint,
    prefix: str,
    rules: Path | None = None,
) -> HubProcess:
    """A hub process in share group `hubs`, with `rules` (default: RULES) and a fast clock."""
    hub = HubProcess(
        directory, database_url=database, endpoint=endpoint, prefix=prefix, hub_id=hub_id
    )
    if rules is None:
        rules = directory / "rules.yaml"
        rules.write_text(RULES, encoding="utf-8")
    config = json.loads(hub.config_path.read_text(encoding="utf-8"))
    config["mqtt"].update(share_group="hubs", protocol="5", session_expiry_s=5)
    config["rules"] = {"path": str(rules), "tick_s": 0.5}
    config["status_interval_s"] = 1
    hub.config_path.write_text(json.dumps(config), encoding="utf-8")
    return hub


def duties(hub: HubProcess) -> str:
    """The `rules` component's detail of a running hub (`holds: rules; ...`)."""
    try:
        body = httpx.get(f"{hub.api}/health", timeout=2).json()
    except httpx.TransportError:
        return ""
    return str((body.get("components") or {}).get("rules", {}).get("detail") or "")


def holds_rules(hub: HubProcess) -> bool:
    """Whether `hub` ran the latest round of the rule clock."""
    return hub.alive and "holds: rules" in duties(hub)


def stored_here(hub: HubProcess) -> int:
    """Events this hub process stored (its `/metrics`): the share it got."""
    text = httpx.get(f"{hub.api}/metrics", timeout=2).text
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("shouwang_hub_events_stored_total{")
        )
    )


def query(database: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database) as conn:
        return conn.execute(sql, params).fetchall()


def outbox_depth(agent: AgentProcess) -> int:
    """Events the agent still holds (not yet acked by a hub)."""
    with sqlite3.connect(f"file:{agent.directory / 'outbox.sqlite3'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT count(*) FROM events").fetchone()
    return int(row[0])


def push(agent: AgentProcess, device: str, type_: str) -> str:
    with agent.pusher() as pusher:
        assert pusher.push(device, type_) == 201
        return pusher.stored[-1]


@pytest.mark.timeout(150)
def test_three_shared_hubs_lose_nothing_duplicate_nothing_and_take_over(
    database: str, tmp_path: Path, topic_prefix: str
) -> None:
    """Kill one hub, then the rule clock's holder: exactly-once storage, acks, alerts,
    and the survivor runs the periodic duties within 10 s."""
    with PrivateMosquitto(extra_config=HUB_BROKER_CONFIG) as broker, ExitStack() as stack:
        endpoint = broker.endpoint
        hubs = [
            stack.enter_context(
                shared_hub(
                    tmp_path / name, name, database=database, endpoint=endpoint, prefix=topic_prefix
                )
            )
            for name in HUBS
        ]
        agents = start_agents(
            stack, tmp_path, count=AGENTS, devices=DEVICES, endpoint=endpoint, prefix=topic_prefix
        )
        wait_until(lambda: any(map(holds_rules, hubs)), "a hub holds the rule clock", within_s=10)
        # A correlation pair per site, published back to back: the broker's round robin
        # sends them to different hubs.
        specials = {push(a, "d1", "door.forced") for a in agents}
        specials |= {push(a, "c1", "motion.started") for a in agents}
        # x2: AC lost and back at once, on different hubs: never an alert.
        specials |= {push(a, "x2", "power.ac_lost") for a in agents}
        specials |= {push(a, "x2", "power.ac_restored") for a in agents}
        killed: list[str] = []
        takeover: list[float] = []

        shares: list[int] = []

        def fault() -> None:
            if not killed:  # first: a hub that does not hold the rule clock
                shares.extend(stored_here(h) for h in hubs)
                victim = next(h for h in hubs if not holds_rules(h))
            else:  # then: the holder
                wait_until(lambda: any(map(holds_rules, hubs)), "a holder", within_s=10)
                victim = next(h for h in hubs if holds_rules(h))
            victim.kill()
            killed.append(json.loads(victim.config_path.read_text())["hub_id"])
            if len(killed) == 2:
                started = time.monotonic()
                survivors = [h for h in hubs if h.alive]
                wait_until(
                    lambda: any(map(holds_rules, survivors)),
                    "a surviving hub runs the rule clock",
                    within_s=TAKEOVER_S,
                )
                takeover.append(time.monotonic() - started)

        expected = stream_with_faults(
            agents, pattern=PATTERN, events_per_agent=EVENTS_PER_AGENT, faults=2, fault=fault
        )
        # x1: AC lost after both kills; only the survivor's clock can raise it.
        lost_at = time.monotonic()
        expected |= {push(a, "x1", "power.ac_lost") for a in agents} | specials
        stored = wait_for_ids(database, expected, within_s=60)
        assert expected - set(stored) == set(), "events the agents took (201) were lost"
        assert len(stored) == len(set(stored)), "an event was stored twice"
        wait_until(lambda: all(outbox_depth(a) == 0 for a in agents), "all acked", within_s=30)
        wait_until(
            lambda: (
                query(database, "SELECT count(*) FROM alerts WHERE rule = 'ac-lost'") == [(AGENTS,)]
            ),
            "the survivor's rule clock raised every held AC loss",
            within_s=HOLD_S + TAKEOVER_S,
        )
        duration_s = time.monotonic() - lost_at
        wait_until(
            lambda: (
                query(database, "SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL")
                == [(0,)]
            ),
            "the survivor relays every transition",
            within_s=TAKEOVER_S,
        )
        assert len(set(killed)) == 2
        assert len(takeover) == 1
        assert takeover[0] < TAKEOVER_S
        # Each hub stored part of the stream before the kills: the subscription is shared.
        assert all(n > 0 for n in shares), f"a hub stored nothing: {shares}"
        print(
            f"stored per hub before the kills {shares}; rule clock taken over in "
            f"{takeover[0]:.2f} s; AC loss after the kills alerted in {duration_s:.1f} s"
        )

        alerts = query(
            database,
            "SELECT rule, site, device, count(*), sum(count)::int FROM alerts"
            " GROUP BY rule, site, device ORDER BY rule, site, device",
        )
        panics = query(
            database,
            "SELECT site, count(DISTINCT id)::int FROM events WHERE type = 'alarm.panic'"
            " GROUP BY site ORDER BY site",
        )
        sites = [f"room-{i:02d}" for i in range(AGENTS)]
        assert [(r, s, d, n) for r, s, d, n, _ in alerts] == [
            *[("ac-lost", s, "x1", 1) for s in sites],
            *[("forced-then-motion", s, "d1", 1) for s in sites],
            *[("panic", s, "p1", 1) for s in sites],
        ]
        assert [(s, c) for r, s, _, _, c in alerts if r == "panic"] == panics
        assert [c for r, *_, c in alerts if r == "forced-then-motion"] == [2] * AGENTS
        assert (
            query(
                database,
                "SELECT alert_id, revision FROM alert_outbox GROUP BY alert_id, revision"
                " HAVING count(*) > 1",
            )
            == []
        )


FLEET_ROOMS, FLEET_SCALE, FLEET_SEED = 3, 0.05, 11
FLEET_KILL_AFTER_S = 6.0


@pytest.mark.timeout(120)
async def test_fleet_burglary_on_three_shared_hubs_one_killed_passes_the_oracle(
    database: str, tmp_path: Path, topic_prefix: str
) -> None:
    """The fleet's burglary over busy traffic on three shared hubs, one `kill -9`ed while
    it publishes: the oracle finds every event stored once and exactly the expected
    alerts (the correlation among them), and nothing is left unacked."""
    rooms = build_population(FLEET_ROOMS, FLEET_SCALE, FLEET_SEED)
    rules = write_rules(tmp_path / "fleet-rules.yaml", rooms)
    with PrivateMosquitto(extra_config=HUB_BROKER_CONFIG) as broker, ExitStack() as stack:
        endpoint = broker.endpoint
        hubs = [
            shared_hub(
                tmp_path / name,
                name,
                database=database,
                endpoint=endpoint,
                prefix=topic_prefix,
                rules=rules,
            )
            for name in HUBS
        ]
        for hub in hubs:
            stack.enter_context(hub)
        killer = threading.Timer(FLEET_KILL_AFTER_S, hubs[1].kill)
        killer.start()
        stack.callback(killer.cancel)
        report = await run_fleet(
            FleetOptions(
                broker_url=endpoint.url,
                database_url=database,
                rooms=FLEET_ROOMS,
                scale=FLEET_SCALE,
                seed=FLEET_SEED,
                scenario="burglary",
                duration_s=15.0,
                speed=20.0,
                topic_prefix=topic_prefix,
                hub_has_links=True,
                agent=AgentSettings(resend_initial_s=2.0, resend_max_s=5.0, status_interval_s=5.0),
                rates=Rates(
                    door_passages_per_hour=2000,
                    contact_openings_per_hour=200,
                    camera_motion_per_hour=2000,
                ),
                drain_s=40.0,
                settle_s=2.0,
                canary_s=5.0,
            )
        )
        assert not hubs[1].alive, "the hub was not killed during the run"
    print(report.summary())
    assert report.verdict is not None
    assert report.verdict.ok, report.summary()
    assert report.unacked == 0
    assert report.generated > 500
    assert any(key.rule == "confirmed-intrusion" for key in report.verdict.raised)
