"""The `fleet` subcommand of `python -m simulators` (`shouwang-sim`).

    python -m simulators fleet --rooms 55 --scale 1.0 --scenario quiet-night \\
        --duration 60 --speed 10 --seed 1 --broker mqtt://... --database postgresql://...
    python -m simulators fleet preload --events 500000 --rooms 55 --broker mqtt://...
    python -m simulators fleet rules --out rules.yaml --rooms 55 --scale 1.0 --seed 1

Exit codes: 0 the run passed (every event acked and, with `--database`, the oracle's
verdict), 1 it did not or a service failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Final

from simulators.fleet._broker import parse_broker_url
from simulators.fleet._fastpub import DEFAULT_WINDOW, PublishError
from simulators.fleet.agent import AgentSettings
from simulators.fleet.oracle import OracleError
from simulators.fleet.population import build_population
from simulators.fleet.preload import preload
from simulators.fleet.processes import run_processes
from simulators.fleet.runner import FleetOptions, run_fleet, write_rules
from simulators.fleet.scenarios import SCENARIOS
from wire import TopicSpace, WireError

__all__ = ["add_arguments", "run_from_arguments"]

DEFAULT_BROKER: Final = "mqtt://127.0.0.1:1883"


def _number(kind: type[int] | type[float], low: float, high: float) -> argparse._ActionType:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from exc
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low:g} and {high:g}")
        return value

    return parse


def _broker(text: str) -> str:
    try:
        parse_broker_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _prefix(text: str) -> str:
    try:
        TopicSpace(text)
    except WireError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--broker", type=_broker, default=DEFAULT_BROKER, help="mqtt://host:port")
    parser.add_argument(
        "--topic-prefix", type=_prefix, default="", help="topic namespace (tests); '' in prod"
    )
    parser.add_argument("--seed", type=int, default=1, help="everything random follows it")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")


def _add_population(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=_number(int, 1, 99), default=55, help="rooms (agents)")
    parser.add_argument(
        "--scale", type=_number(float, 0.001, 10), default=1.0, help="times the district's devices"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the fleet's options and its `preload` and `rules` subcommands to `parser`."""
    _add_common(parser)
    _add_population(parser)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="quiet-night")
    parser.add_argument(
        "--duration", type=_number(float, 0.1, 86_400), default=60.0, help="real seconds"
    )
    parser.add_argument(
        "--speed", type=_number(float, 0.01, 3600), default=10.0, help="simulated s per real s"
    )
    parser.add_argument("--database", help="the hub's PostgreSQL URL, for the oracle")
    parser.add_argument(
        "--links",
        action="store_true",
        help="the hub runs `fleet rules` (expect confirmed-intrusion)",
    )
    parser.add_argument("--processes", type=_number(int, 1, 64), default=1, help="fleet processes")
    parser.add_argument(
        "--drain", type=_number(float, 0, 86_400), default=120.0, help="s to wait for acks"
    )
    parser.add_argument(
        "--resend-s", type=_number(float, 0.1, 3600), default=30.0, help="first resend"
    )
    parser.add_argument(
        "--window", type=_number(int, 1, 1000), default=20, help="in flight per agent"
    )
    commands = parser.add_subparsers(dest="fleet_command", metavar="FLEET_COMMAND")
    load = commands.add_parser(
        "preload", help="publish N QoS 1 events for a stopped hub's session; report the rate"
    )
    _add_common(load)
    load.add_argument("--events", type=_number(int, 1, 100_000_000), default=500_000)
    load.add_argument("--rooms", type=_number(int, 1, 99), default=55, help="sites")
    load.add_argument(
        "--window", type=_number(int, 1, 65_535), default=DEFAULT_WINDOW, help="in flight"
    )
    rules = commands.add_parser("rules", help="write the hub's default rules plus the links")
    rules.add_argument("--out", type=Path, required=True)
    rules.add_argument("--seed", type=int, default=1)
    _add_population(rules)


def _write_json(path: Path | None, document: object) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def _fail(message: str) -> int:
    print(f"shouwang-sim fleet: {message}", file=sys.stderr)  # noqa: T201
    return 1


def _preload(args: argparse.Namespace) -> int:
    try:
        report = preload(
            args.broker,
            events=args.events,
            rooms=args.rooms,
            seed=args.seed,
            topic_prefix=args.topic_prefix,
            window=args.window,
        )
    except PublishError as exc:
        return _fail(str(exc))
    print(report.summary(), flush=True)  # noqa: T201 - the tool's output
    _write_json(args.json, report.as_dict())
    return 0


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        options = FleetOptions(
            broker_url=args.broker,
            database_url=args.database,
            rooms=args.rooms,
            scale=args.scale,
            scenario=args.scenario,
            duration_s=args.duration,
            speed=args.speed,
            seed=args.seed,
            topic_prefix=args.topic_prefix,
            hub_has_links=args.links,
            agent=AgentSettings(
                resend_initial_s=args.resend_s,
                resend_max_s=max(args.resend_s, 300.0),
                window=args.window,
            ),
            drain_s=args.drain,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        if args.processes > 1:
            report = run_processes(options, args.processes)
        else:
            report = asyncio.run(run_fleet(options))
    except (OracleError, TimeoutError, OSError) as exc:
        return _fail(f"{type(exc).__name__}: {exc}")
    print(report.summary(), flush=True)  # noqa: T201 - the tool's output
    _write_json(args.json, report.as_dict())
    return 0 if report.ok else 1


def _rules(args: argparse.Namespace) -> int:
    rooms = build_population(args.rooms, args.scale, args.seed)
    try:
        path = write_rules(args.out, rooms)
    except (ValueError, OSError) as exc:
        return _fail(str(exc))
    links = sum(len(room.links) for room in rooms)
    print(f"wrote the default rules and {links} door-camera links to {path}")  # noqa: T201
    return 0


def run_from_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run what the parsed `args` ask for; returns the exit code (bad usage exits 2)."""
    match args.fleet_command:
        case "preload":
            return _preload(args)
        case "rules":
            return _rules(args)
        case _:
            return _run(args, parser)
