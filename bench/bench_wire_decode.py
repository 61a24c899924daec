"""How fast the hub can turn event bytes into checked `wire.Event` values.

Generates realistic, varied event payloads (every kind, every type, SIA / Modbus /
camera / HTTP sources), then times, over several repeats:

- `json.loads` of the same bytes: the floor any JSON-speaking hub pays;
- `decode_event(payload, topic)`: size check, decode, full validation, topic agreement;
- `parse_topic(name)` and then `decode_event`: what ingest does per message;
- `decode(name, payload)`: the generic dispatching entry point.

Run: `.venv/bin/python bench/bench_wire_decode.py [--events N] [--repeats R] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

import wire
from wire import EventType, Kind

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

Scalar = str | int | float | bool | None

SEED = 20250301
DRIVER_OF_KIND = {
    Kind.DOOR_LOCK: "modbus",
    Kind.PANIC_ALARM: "sia",
    Kind.SHOP_GUARD: "sia",
    Kind.CONTACT: "sia",
    Kind.CAMERA: "camera",
    Kind.PANEL: "sia",
    Kind.HTTP_DEVICE: "http",
}


@dataclass(frozen=True, slots=True)
class Result:
    """One timed variant: best and median seconds for the whole batch, and events/s."""

    name: str
    best_s: float
    median_s: float
    events_per_s: float
    ratio_to_json_loads: float


def _source(rng: random.Random, driver: str) -> dict[str, Scalar]:
    """Raw identifiers as each driver would report them."""
    match driver:
        case "sia":
            return {
                "driver": "sia",
                "account": f"{rng.randrange(16**4):04X}",
                "zone": rng.randrange(1, 99),
                "code": rng.choice(["BA", "PA", "HA", "TA", "FA", "BR", "AT", "AR", "RP"]),
                "line": f"L{rng.randrange(1, 8)}",
                "receiver": "R1",
            }
        case "modbus":
            unit, address = rng.randrange(1, 248), 40001 + rng.randrange(64)
            return {"driver": "modbus", "unit": unit, "address": address}
        case "camera":
            return {"driver": "camera", "stream": "rtsp", "channel": rng.randrange(1, 16)}
        case _:
            remote = f"10.7.{rng.randrange(255)}.{rng.randrange(255)}"
            return {"driver": "http", "path": "/v1/lock/events", "remote": remote}


def _data(rng: random.Random, event_type: EventType) -> dict[str, Any]:
    """Type-specific fields, of the sizes drivers produce."""
    family = event_type.split(".")[0]
    match family:
        case "door":
            return {"door": rng.choice(["open", "closed"]), "held_s": rng.randrange(0, 600)}
        case "access":
            card = f"****{rng.randrange(10**4):04d}"
            return {"card": card, "reader": rng.randrange(1, 3), "method": "card"}
        case "motion":
            return {
                "score": round(rng.random(), 3),
                "region": [rng.randrange(640), rng.randrange(480), 64, 48],
                "snapshot": str(uuid.UUID(int=rng.getrandbits(128))),
            }
        case "battery":
            return {"level": round(rng.random(), 2), "volts": round(2.4 + rng.random(), 2)}
        case "unknown":
            raw = f"#{rng.randrange(10**4)}|N{rng.randrange(16**4):04X}"
            return {"raw": raw, "reason": "no mapping"}
        case _:
            return {"zone_name": f"Zone {rng.randrange(1, 99)}", "user": rng.randrange(0, 40)}


def generate(count: int) -> tuple[list[str], list[bytes]]:
    """`count` (topic, payload) pairs of varied, valid events from 55 sites."""
    rng = random.Random(SEED)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    epochs = {f"room-{n:02d}": uuid.UUID(int=rng.getrandbits(128), version=4) for n in range(55)}
    seqs = dict.fromkeys(epochs, 0)
    names, payloads = [], []
    for n in range(count):
        site = rng.choice(sorted(epochs))
        kind = rng.choice(list(Kind))
        event_type = rng.choice(list(EventType))
        device = f"{kind.value.replace('_', '-')}-{rng.randrange(5000):04d}"
        seqs[site] += 1
        event = wire.Event(
            v=1,
            id=wire.new_event_id(),
            site=site,
            device=device,
            kind=kind,
            type=event_type,
            at=wire.format_time(start + timedelta(milliseconds=37 * n)),
            epoch=epochs[site],
            seq=seqs[site],
            source=_source(rng, DRIVER_OF_KIND[kind]),
            data=_data(rng, event_type),
        )
        names.append(wire.DEFAULT_TOPICS.events(site, kind, device))
        payloads.append(wire.encode(event))
    return names, payloads


def _event_topic(name: str) -> wire.EventTopic:
    """The parsed events topic `name`, as ingest would get it."""
    topic = wire.parse_topic(name)
    if not isinstance(topic, wire.EventTopic):
        raise TypeError(name)
    return topic


def _time(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall time of `run` over `repeats` runs (after one warm-up)."""
    run()
    timings = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return min(timings), statistics.median(timings)


def measure(names: Sequence[str], payloads: Sequence[bytes], repeats: int) -> list[Result]:
    """Time each variant over the whole batch."""
    topics = [_event_topic(name) for name in names]
    pairs = list(zip(names, payloads, strict=True))
    checked = list(zip(payloads, topics, strict=True))
    variants: list[tuple[str, Callable[[], object]]] = [
        ("json.loads", lambda: [json.loads(p) for p in payloads]),
        ("msgspec.json.decode (untyped)", lambda: [msgspec.json.decode(p) for p in payloads]),
        (
            "decode_event(payload, topic)",
            lambda: [wire.decode_event(p, t) for p, t in checked],
        ),
        (
            "parse_topic + decode_event",
            lambda: [wire.decode_event(p, _event_topic(n)) for n, p in pairs],
        ),
        ("decode(name, payload)", lambda: [wire.decode(n, p) for n, p in pairs]),
    ]
    results: list[Result] = []
    baseline = 0.0
    for name, run in variants:
        best, median = _time(run, repeats)
        baseline = baseline or best
        results.append(Result(name, best, median, len(payloads) / best, best / baseline))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Generate, measure, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=20_000, help="payloads to generate")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per variant")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    names, payloads = generate(args.events)
    sizes = [len(p) for p in payloads]
    machine = (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, msgspec {msgspec.__version__}"
    )
    print(f"{len(payloads)} events, {statistics.mean(sizes):.0f} bytes mean, {max(sizes)} max")
    print(machine)
    print(f"best of {args.repeats} runs (median in brackets)")
    results = measure(names, payloads, args.repeats)
    for result in results:
        print(
            f"  {result.name:<32} {result.events_per_s:>11,.0f} events/s"
            f"  ({len(payloads) / result.median_s:,.0f})"
            f"  {result.best_s / len(payloads) * 1e6:6.2f} µs/event"
            f"  {result.ratio_to_json_loads:.2f}x json.loads time"
        )
    if args.json is not None:
        report = {
            "events": len(payloads),
            "mean_bytes": statistics.mean(sizes),
            "repeats": args.repeats,
            "machine": machine,
            "results": [asdict(result) for result in results],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
