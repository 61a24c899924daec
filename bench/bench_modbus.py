"""CPU of the Modbus poller: 32 controllers x 16 doors polled at 4 Hz by one process.

The simulated controllers run in a child process (their CPU is not the agent's); they
move their doors at random (one passage per door every `--passage-s` on average), so
events flow into a real outbox. The parent measures its own CPU time
(`time.process_time()`) over `--seconds` twice: first idle with the controllers running
(the baseline: an event loop doing nothing), then running `ModbusPoller` with a state
board drained as the link would. It reports each as a share of one core, their ratio,
the polls achieved against the 128/s asked, and the child's CPU in both phases.

Run: `.venv/bin/python bench/bench_modbus.py [--seconds 20] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import AgentConfig, Outbox
from agent.drivers.modbus import ModbusPoller
from agent.state import StateBoard
from simulators.door_controller import INPUTS, DoorController, DoorMap, RandomRates

if TYPE_CHECKING:
    from collections.abc import Callable

SITE = "bench"


def free_ports(count: int) -> list[int]:
    """`count` loopback ports free right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


async def serve(ports: list[int], doors: int, passage_s: float) -> None:
    """The child: controllers on `ports`; on each stdin line, print the CPU time so far."""
    rng = random.Random(1)
    sims = [DoorController(doors, port=port) for port in ports]
    movers = []
    for sim in sims:
        await sim.start()
        seed = rng.getrandbits(64)
        movers.append(
            asyncio.create_task(sim.run_random(random.Random(seed), RandomRates(passage_s)))
        )
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        print(time.process_time(), flush=True)
        if line.strip() == "stop":
            break
    for mover in movers:
        mover.cancel()
    await asyncio.gather(*movers, return_exceptions=True)
    for sim in sims:
        await sim.stop()


def config(ports: list[int], doors: int, outbox: Path, interval_s: float) -> AgentConfig:
    """An agent config with every controller of `ports` and its doors (the default map)."""
    door_map = DoorMap()
    controllers: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    for c, port in enumerate(ports):
        entries = []
        for d in range(doors):
            device = f"door-{c:02d}-{d:02d}"
            entry: dict[str, Any] = {"device": device}
            for name in INPUTS:
                _, address, _ = door_map.address(d, name)
                entry[name] = {"table": "discrete_input", "address": address}
            entries.append(entry)
            devices.append(
                {"id": device, "kind": "door_lock", "driver": "modbus", "checkin_s": 300}
            )
        controllers.append(
            {"host": "127.0.0.1", "port": port, "poll_interval_s": interval_s, "doors": entries}
        )
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": {"host": "127.0.0.1"},
            "outbox": {"path": str(outbox)},
            "modbus": {"controllers": controllers},
            "devices": devices,
        }
    )


class Child:
    """The controllers' process, asked for its CPU time over a pipe."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def cpu(self, command: str = "cpu") -> float:
        """The child's CPU seconds so far."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()
        return float(await self.process.stdout.readline())


async def measure(
    seconds: float, child: Child, probe: Callable[[], int] = lambda: 0
) -> tuple[float, float, float, int]:
    """(own CPU s, child CPU s, wall s, growth of `probe`) over `seconds`."""
    theirs = await child.cpu()
    own, wall, start = time.process_time(), time.perf_counter(), probe()
    await asyncio.sleep(seconds)
    own, wall, grown = time.process_time() - own, time.perf_counter() - wall, probe() - start
    return own, await child.cpu() - theirs, wall, grown


async def drain(board: StateBoard) -> None:
    """Take the board's changes as the link would (publishing is not measured)."""
    while True:
        await board.changed()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Both phases; the figures."""
    ports = free_ports(args.controllers)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--serve",
        ",".join(map(str, ports)),
        "--doors",
        str(args.doors),
        "--passage-s",
        str(args.passage_s),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    child = Child(process)
    assert process.stdout is not None
    assert (await process.stdout.readline()).strip() == b"ready"
    try:
        idle_cpu, idle_child, idle_wall, _ = await measure(args.seconds, child)
        with tempfile.TemporaryDirectory() as tmp:
            agent = config(ports, args.doors, Path(tmp) / "outbox.sqlite3", 1 / args.hz)
            assert agent.modbus is not None
            board = StateBoard(SITE, capacity=len(agent.devices))
            async with (
                Outbox(agent.outbox.path, site=SITE) as outbox,
                ModbusPoller(agent.modbus, agent.devices, outbox, states=board) as poller,
                asyncio.TaskGroup() as tasks,
            ):
                drainer = tasks.create_task(drain(board))
                await asyncio.sleep(2)  # connected and settled
                seq = outbox.last_seq
                poll_cpu, poll_child, poll_wall, polls = await measure(
                    args.seconds, child, lambda: sum(c.polls for c in poller.controllers)
                )
                events = outbox.last_seq - seq
                offline = sum(c.offline for c in poller.controllers)
                drainer.cancel()
    finally:
        await child.cpu("stop")
        await process.wait()
    poll_share, idle_share = poll_cpu / poll_wall, idle_cpu / idle_wall
    return {
        "controllers": args.controllers,
        "doors": args.controllers * args.doors,
        "hz": args.hz,
        "seconds": round(poll_wall, 2),
        "polls_per_s": round(polls / poll_wall, 1),
        "polls_per_s_asked": args.controllers * args.hz,
        "events": events,
        "controllers_offline": offline,
        "poller_cpu_share": round(poll_share, 4),
        "baseline_cpu_share": round(idle_share, 6),
        "ratio": round(poll_share / idle_share, 1) if idle_share else None,
        "simulators_cpu_share_polled": round(poll_child / poll_wall, 4),
        "simulators_cpu_share_idle": round(idle_child / idle_wall, 5),
    }


def main() -> None:
    """Parse the arguments; serve (the child) or measure (the parent) and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controllers", type=int, default=32)
    parser.add_argument("--doors", type=int, default=16)
    parser.add_argument("--hz", type=float, default=4.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--passage-s", type=float, default=120.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve([int(p) for p in args.serve.split(",")], args.doors, args.passage_s))
        return
    figures = asyncio.run(run(args))
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    print(
        f"poller: {figures['poller_cpu_share']:.1%} of a core "
        f"(baseline {figures['baseline_cpu_share']:.2%}; target < 25 %)"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
