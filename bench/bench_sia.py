"""How many SIA frames one receiver ACKs per second, and how long a panel waits for its ACK.

Every ACK means the event is durable in the outbox (WAL, `synchronous=FULL`), so the
figures include the fsync; concurrent panels share transactions (group commit). The
panels are the simulator, over TCP on loopback, in the same process and event loop as
the receiver (their frames are built before the clock starts). Each panel sends a
Contact ID burglary, waits for its ACK, and sends the next. Targets: ≥ 2,000 frames/s,
p99 frame→ACK < 20 ms.

`--json FILE` also writes the figures with a same-run baseline: the outbox alone taking
the same number of events from as many concurrent appenders (`bench_outbox_append`), the
durable store's ceiling the receiver sits on.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_sia.py [--panels K] [--frames N]
[--encrypted] [--json FILE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench.*`

from agent import AgentConfig, Outbox
from agent.drivers.sia import SiaReceiver
from bench.bench_outbox_append import concurrent
from simulators.alarm_panel import AlarmPanel, cid, encode_key

KEY = "0123456789ABCDEF0123456789ABCDEF"


def config(directory: Path, panels: int, *, encrypted: bool) -> AgentConfig:
    """A site whose receiver serves `panels` accounts, each its own panel device."""
    key = {"key": KEY} if encrypted else {}
    accounts = [
        {"account": f"{n + 1:04X}", "device": f"panel-{n:04d}", **key} for n in range(panels)
    ]
    devices = [
        {"id": f"panel-{n:04d}", "kind": "panel", "driver": "sia", "checkin_s": 3600}
        for n in range(panels)
    ]
    devices.append({"id": "sia-receiver", "kind": "panel", "driver": "sia", "checkin_s": 3600})
    return AgentConfig.model_validate(
        {
            "site": "room-07",
            "mqtt": {"host": "127.0.0.1"},
            "outbox": {"path": str(directory / "outbox.sqlite3")},
            "sia": {
                "host": "127.0.0.1",
                "port": 0,
                "udp": False,
                "state_path": str(directory / "sia.sqlite3"),
                "unknown_device": "sia-receiver",
                "accounts": accounts,
            },
            "devices": devices,
        }
    )


async def panel_loop(port: int, account: str, frames: int, key: bytes | None) -> list[float]:
    """One panel sending `frames` frames one after another; each frame's seconds to ACK.

    The frames are built by the simulator up front, and answers are checked by their id
    token only, so that the panels' own CPU stays out of the receiver's figures.
    """
    builder = AlarmPanel("127.0.0.1", port, account, key=key)
    batch = [builder.frame(cid(1, 130, zone=n % 8 + 1), seq=n % 9999 + 1) for n in range(frames)]
    latencies: list[float] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for n, frame in enumerate(batch):
            started = time.perf_counter()
            writer.write(frame)
            answer = await reader.readuntil(b"\r")
            latencies.append(time.perf_counter() - started)
            if b'ACK"' not in answer[:16]:
                raise RuntimeError(f"panel {account}: frame {n} answered {answer!r}")
    finally:
        writer.close()
        await writer.wait_closed()
    return latencies


async def run(panels: int, frames: int, *, encrypted: bool) -> tuple[float, list[float], int]:
    """Frames ACKed per second, every latency, and the outbox transactions used."""
    with tempfile.TemporaryDirectory(prefix="bench-sia-") as directory:
        agent = config(Path(directory), panels, encrypted=encrypted)
        assert agent.sia is not None
        key = encode_key(KEY) if encrypted else None
        async with (
            Outbox(agent.outbox.path, site=agent.site) as outbox,
            SiaReceiver(agent.sia, agent.devices, outbox) as receiver,
        ):
            port = receiver.ports.tcp
            assert port is not None
            started = time.perf_counter()
            async with asyncio.TaskGroup() as tasks:
                loops = [
                    tasks.create_task(panel_loop(port, f"{n + 1:04X}", frames, key))
                    for n in range(panels)
                ]
            elapsed = time.perf_counter() - started
            stored = len(await outbox.pending())
            if stored != panels * frames:
                raise RuntimeError(f"{stored} events stored for {panels * frames} frames")
            latencies = [latency for task in loops for latency in task.result()]
            return panels * frames / elapsed, latencies, outbox.append_transactions


async def figures(panels: int, frames: int, *, encrypted: bool) -> dict[str, float]:
    """The receiver's figures and, as the baseline, the outbox alone at the same concurrency."""
    rate, latencies, transactions = await run(panels, frames, encrypted=encrypted)
    cuts = statistics.quantiles(latencies, n=100)
    with tempfile.TemporaryDirectory(prefix="bench-sia-outbox-") as directory:
        alone, _ = await concurrent(Path(directory) / "o.sqlite3", panels * frames, panels)
    return {
        "panels": panels,
        "frames": panels * frames,
        "encrypted": encrypted,
        "frames_per_s": round(rate, 1),
        "latency_ms_p50": round(cuts[49] * 1000, 2),
        "latency_ms_p99": round(cuts[98] * 1000, 2),
        "latency_ms_max": round(max(latencies) * 1000, 2),
        "outbox_transactions": transactions,
        "baseline_outbox_alone_per_s": round(alone, 1),
        "ratio": round(rate / alone, 3),
    }


async def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=20)
    parser.add_argument("--frames", type=int, default=300, help="frames per panel")
    parser.add_argument("--encrypted", action="store_true", help="AES-256 frames and *ACKs")
    parser.add_argument("--json", type=Path, help="also write the figures (with a baseline)")
    args = parser.parse_args()
    if args.json is not None:
        result = await figures(args.panels, args.frames, encrypted=args.encrypted)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, indent=2))
        return
    rate, latencies, transactions = await run(args.panels, args.frames, encrypted=args.encrypted)
    cuts = statistics.quantiles(latencies, n=100)
    mode = "AES-256" if args.encrypted else "plain"
    print(f"{args.panels} panels x {args.frames} frames ({mode}, TCP, ADM-CID)")
    print(f"ACKed:   {rate:10,.0f} frames/s  ({transactions} outbox transactions)")
    print(
        f"latency: p50 {cuts[49] * 1000:6.2f} ms   p99 {cuts[98] * 1000:6.2f} ms"
        f"   max {max(latencies) * 1000:6.2f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
