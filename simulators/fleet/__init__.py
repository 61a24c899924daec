"""The fleet: many agents over MQTT speaking the v1 contract, scenarios, and the oracle.

Roles: `population` (devices per room from the district), `rates` and `traffic` (what
devices send and how often), `outbox` and `agent` (an emulated agent: status and LWT,
inventory, epoch/seq, acks and resends), `scenarios` (seeded stories with the alerts
they declare), `expect` (a model of the default rules), `runner` and `processes` (a
whole run, in one process or several), `report`, `oracle` (SQL checks of delivery and
alerts), `preload` (a broker preload for the drain benchmark), `cli` (the `fleet`
subcommand). docs/fleet.md is the guide.
"""

from simulators.fleet._broker import Broker, parse_broker_url
from simulators.fleet._fastpub import FastPublisher, PublishError
from simulators.fleet.agent import AgentSettings, FleetAgent
from simulators.fleet.expect import AlertKey, Expectations, expected_alerts
from simulators.fleet.oracle import OracleError, Verdict, check
from simulators.fleet.outbox import Outage, Record
from simulators.fleet.population import Room, build_population, load_district
from simulators.fleet.preload import PreloadReport, preload, room_id
from simulators.fleet.processes import run_processes
from simulators.fleet.rates import Rates
from simulators.fleet.report import FleetReport
from simulators.fleet.runner import FleetOptions, run_fleet, write_rules
from simulators.fleet.scenarios import SCENARIOS, Scenario, build_scenario

__all__ = [
    "SCENARIOS",
    "AgentSettings",
    "AlertKey",
    "Broker",
    "Expectations",
    "FastPublisher",
    "FleetAgent",
    "FleetOptions",
    "FleetReport",
    "OracleError",
    "Outage",
    "PreloadReport",
    "PublishError",
    "Rates",
    "Record",
    "Room",
    "Scenario",
    "Verdict",
    "build_population",
    "build_scenario",
    "check",
    "expected_alerts",
    "load_district",
    "parse_broker_url",
    "preload",
    "room_id",
    "run_fleet",
    "run_processes",
    "write_rules",
]
