"""What receiving costs the hub before any database work: CPU per QoS 1 message, by client.

Three subscribers drain the same preload (N district events queued for a persistent QoS 1
session, `bench._preload`) from a private `BenchMosquitto`, acknowledging each message
as they go, and storing nothing:

1. `aiomqtt` as the hub's link uses it (`hub/mqtt.py`): paho 2 under aiomqtt on an
   asyncio loop, manual PUBACK (`client._client.ack`) per message;
2. the same, also classifying each message as ingest does (`hub.inbound.classify`:
   topic parse, envelope decode and checks);
3. `paho` alone: `loop()` driven from one thread, manual PUBACK in `on_message`;
4. `mosquitto_sub -c -q 1` (the C client), the baseline.

Reported per subscriber: messages/s and CPU microseconds per message (this process's CPU
time for 1-3, the child's for 4), which holds on a busy machine where messages/s do not.

Run: `PYTHONPATH=. .venv/bin/python bench/bench_mqtt_receive.py [--events N] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests.*` and the packages

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import wire
from bench import _preload
from bench._rig import BenchMosquitto, mosquitto_sub, run_quiet
from hub.inbound import classify

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

PREFIX = "bench-receive/"
TOPICS = wire.TopicSpace(PREFIX)


async def _aiomqtt_drain(host: str, port: int, count: int, *, classifying: bool) -> None:
    client = aiomqtt.Client(host, port, identifier="bench-aiomqtt", clean_session=False, timeout=30)
    client._client.manual_ack_set(on=True)  # as hub/mqtt.py does
    async with client:
        await client.subscribe(TOPICS.all_events(), qos=1)
        seen = 0
        async for message in client.messages:
            if classifying:
                body = message.payload if isinstance(message.payload, bytes) else b""
                classify(TOPICS, message.topic.value, body)
            client._client.ack(message.mid, message.qos)
            seen += 1
            if seen == count:
                return


def _aiomqtt(*, classifying: bool) -> Callable[[BenchMosquitto, int], None]:
    def drain(broker: BenchMosquitto, count: int) -> None:
        asyncio.run(_aiomqtt_drain(broker.host, broker.port, count, classifying=classifying))

    return drain


def _paho(broker: BenchMosquitto, count: int) -> None:
    done, seen = threading.Event(), 0

    def on_message(client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal seen
        client.ack(message.mid, message.qos)
        seen += 1
        if seen == count:
            done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-paho", clean_session=False)
    client.manual_ack_set(on=True)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(TOPICS.all_events(), qos=1)
    while not done.is_set():
        client.loop(0.1)
    client.disconnect()


def _subscribe_only(broker: BenchMosquitto, client_id: str) -> None:
    """Create the persistent session `client_id` (subscribed), then leave."""
    run_quiet(mosquitto_sub(broker.endpoint, client_id, TOPICS.all_events(), "-E"), 30)


CLIENT_IDS = {
    "aiomqtt (as the hub)": "bench-aiomqtt",
    "aiomqtt + classify": "bench-aiomqtt",
    "paho alone": "bench-paho",
    "mosquitto_sub (C)": "bench-c",
}


def measure(name: str, broker: BenchMosquitto, count: int) -> dict[str, Any]:
    """Preload `count` events for the session of `name`, then drain them; the figures."""
    _subscribe_only(broker, CLIENT_IDS[name])
    messages = _preload.district_events(count, rooms=55, seed=7, topics=TOPICS)
    _preload.publish(broker.endpoint, messages)
    drains = {
        "aiomqtt (as the hub)": _aiomqtt(classifying=False),
        "aiomqtt + classify": _aiomqtt(classifying=True),
        "paho alone": _paho,
    }
    if name in drains:
        cpu, start = time.process_time(), time.perf_counter()
        drains[name](broker, count)
        seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    else:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = mosquitto_sub(broker.endpoint, CLIENT_IDS[name], TOPICS.all_events())
        seconds = run_quiet([*command, "-C", str(count)], 600)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {
        "subscriber": name,
        "messages": count,
        "per_s": round(count / seconds, 1),
        "cpu_us_per_message": round(cpu_s / count * 1e6, 1),
    }


def run(count: int) -> list[dict[str, Any]]:
    """Every subscriber on one broker, one after another."""
    with BenchMosquitto() as broker:
        return [measure(name, broker, count) for name in CLIENT_IDS]


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print; optionally write the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    results = run(args.events)
    for one in results:
        print(
            f"{one['subscriber']:22s} {one['per_s']:10,.0f} msg/s "
            f"{one['cpu_us_per_message']:7.1f} µs CPU/msg"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
