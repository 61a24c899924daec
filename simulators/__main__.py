"""Command line of the simulators: `python -m simulators` or `shouwang-sim`.

- `demo`: the whole system on this machine and a scripted scenario (what `scripts/demo` runs);
- `http-device`: one HTTP push device (panic button, smart lock) posting to an agent;
- `door-controller`: Modbus TCP door controllers whose doors move at random;
- `alarm-panel`: one SIA DC-09 alarm panel reporting to an agent's receiver;
- `camera`: a labelled synthetic scene served as MJPEG over HTTP (or written to a file);
- `fleet`: many agents over MQTT playing a scenario, checked by the oracle; `fleet preload`
  fills a broker for the drain benchmark (docs/fleet.md).

Exit codes: 0 done, 1 a service or device failed, 2 bad usage.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import random
import signal
import sys
from collections.abc import Coroutine, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import wire
from simulators import alarm_panel
from simulators import camera as camera_sim
from simulators.demo import DemoOptions, run_demo
from simulators.demo.services import DemoServiceError
from simulators.door_controller import DoorController, DoorMap, Layout, RandomRates
from simulators.fleet import cli as fleet_cli
from simulators.http_device import HttpDevice, parse_script

TOKEN_VARIABLE = "SHOUWANG_DEVICE_TOKEN"  # noqa: S105 - the name of a variable, no secret


def build_parser() -> argparse.ArgumentParser:
    """The simulators' argument parser."""
    parser = argparse.ArgumentParser(
        prog="shouwang-sim",
        description=(
            "Shouwang simulators: alarm panels, door controllers, cameras and HTTP devices "
            "that speak their real protocols, and a fleet of agents over MQTT."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('shouwang')}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run the whole system and a scripted scenario")
    demo.add_argument("--state-dir", type=Path, default=Path(".shouwang/demo"))
    demo.add_argument("--quiet-s", type=float, default=60.0, help="quiet time before the panic")
    demo.add_argument("--once", action="store_true", help="stop after the scenario")
    demo.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "amqtt"],
        default="auto",
        help="auto: a private Mosquitto when installed, else the embedded amqtt",
    )
    device = commands.add_parser(
        "http-device", help=f"an HTTP push device; its token is read from ${TOKEN_VARIABLE}"
    )
    device.add_argument("--agent", required=True, help="the agent's HTTP push URL")
    device.add_argument("--device", required=True, help="the device id")
    plays = device.add_mutually_exclusive_group(required=True)
    plays.add_argument("--script", help="steps DELAY:TYPE,... e.g. '60:alarm.panic'")
    plays.add_argument("--random-mean-s", type=float, help="press at random, mean interval")
    device.add_argument("--types", default="door.opened,door.closed", help="types for --random")
    device.add_argument("--seed", type=int, default=1)
    doors = commands.add_parser(
        "door-controller", help="Modbus TCP door controllers (docs/devices.md has the map)"
    )
    doors.add_argument("--host", default="127.0.0.1")
    doors.add_argument("--port", type=int, default=5020, help="the first controller's port")
    doors.add_argument("--count", type=int, default=1, help="controllers, on consecutive ports")
    doors.add_argument("--doors", type=int, default=16, help="doors per controller")
    doors.add_argument("--device-id", type=int, default=1, help="the Modbus unit id")
    doors.add_argument("--layout", choices=[str(layout) for layout in Layout], default="discrete")
    doors.add_argument("--base", type=int, default=0, help="the map's first address")
    doors.add_argument("--passage-s", type=float, default=120.0, help="mean s between passages")
    doors.add_argument("--seed", type=int, default=1)
    panel = commands.add_parser(
        "alarm-panel", help=f"a SIA DC-09 panel; AES key from ${alarm_panel.KEY_VARIABLE}"
    )
    alarm_panel.add_arguments(panel)
    camera = commands.add_parser("camera", help="a camera: a labelled scene as MJPEG over HTTP")
    camera_sim.add_arguments(camera)
    fleet = commands.add_parser(
        "fleet", help="many agents over MQTT playing a scenario, checked by the oracle"
    )
    fleet_cli.add_arguments(fleet)
    fleet.set_defaults(fleet_parser=fleet)
    return parser


async def _door_controllers(args: argparse.Namespace) -> None:
    door_map = DoorMap(Layout(args.layout), args.base)
    rng = random.Random(args.seed)  # noqa: S311 - reproducible
    rates = RandomRates(passage_s=args.passage_s)
    async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tasks:
        for n in range(args.count):
            sim = DoorController(
                args.doors,
                device_id=args.device_id,
                host=args.host,
                port=args.port + n,
                door_map=door_map,
            )
            await stack.enter_async_context(sim)
            tasks.create_task(sim.run_random(random.Random(rng.getrandbits(64)), rates))  # noqa: S311
        print(f"{args.count} door controllers on {args.host}:{args.port}+", flush=True)  # noqa: T201


async def _device(args: argparse.Namespace, token: str) -> None:
    async with HttpDevice(args.agent, args.device, token) as dev:
        if args.script is not None:
            results = dev.run_script(parse_script(args.script))
        else:
            types = [wire.EventType(name) for name in args.types.split(",")]
            results = dev.run_random(types, args.random_mean_s, random.Random(args.seed))  # noqa: S311 - reproducible
        async for result in results:
            print(result.status, result.body, flush=True)  # noqa: T201 - the tool's output


def _run_until_signal(work: Coroutine[Any, Any, None]) -> None:
    """Run `work`; SIGINT and SIGTERM cancel it, so every context manager unwinds cleanly."""

    async def main() -> None:
        task = asyncio.current_task()
        if task is None:  # never inside a running coroutine; the check narrows the type
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await work

    asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulators' command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    match args.command:
        case None:
            parser.print_help()
            return 0
        case "demo":
            options = DemoOptions(
                args.state_dir.resolve(), args.quiet_s, stay=not args.once, broker=args.broker
            )
            work = run_demo(options)
        case "http-device":
            token = os.environ.get(TOKEN_VARIABLE)
            if not token:
                parser.error(f"set the device token in ${TOKEN_VARIABLE}")
            try:
                parse_script(args.script or "")
            except ValueError as exc:
                parser.error(str(exc))
            work = _device(args, token)
        case "door-controller":
            work = _door_controllers(args)
        case "alarm-panel":
            try:
                alarm_panel.parse_script(args.script or "", alarm_panel.Protocol(args.protocol))
            except ValueError as exc:
                parser.error(str(exc))
            work = alarm_panel.run_from_arguments(args, os.environ.get(alarm_panel.KEY_VARIABLE))
        case "camera":
            work = camera_sim.run_from_arguments(args)
        case "fleet":
            return fleet_cli.run_from_arguments(args, args.fleet_parser)
    failures: list[Exception] = []
    try:
        _run_until_signal(work)
    except* DemoServiceError as group:
        failures += group.exceptions
    for failure in failures:
        print(f"shouwang-sim: {failure}", file=sys.stderr)  # noqa: T201
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
