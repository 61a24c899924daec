"""A flapping link (reset every couple of seconds) under a steady stream of events:
nothing is lost, reconnects wait at least `reconnect_min_s` and are jittered, and the
in-flight window is never exceeded.

The agent runs in-process (`agent.runtime.Agent`) behind the real fault proxy, to a real
broker and a real hub process, so that its link's in-flight counters can be read.
"""

import asyncio
import contextlib
import functools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agent import AgentConfig, Link
from agent.runtime import Agent
from tests.faults.agent_support import DEVICES
from tests.faults.processes import HubProcess, wait_for_ids
from tests.harness import FaultProxy, FaultProxyFactory, MqttEndpoint

pytestmark = [pytest.mark.faults, pytest.mark.integration]

SITE = "flapping-site"
RESETS = 6
WINDOW = 10
RECONNECT_MIN_S = 1.0
KINDS = [("door", "door.opened"), ("cam", "motion.started"), ("panic", "alarm.panic")]


def _config(tmp_path: Path, proxy: FaultProxy, endpoint: MqttEndpoint, prefix: str) -> AgentConfig:
    """An agent for `SITE` whose broker is the proxy, with a small in-flight window."""
    mqtt = {
        "host": proxy.host,
        "port": proxy.port,
        "topic_prefix": prefix,
        "client_id": f"agent-{SITE}-{prefix.strip('/').replace('/', '-')}",
        "reconnect_min_s": RECONNECT_MIN_S,
        "reconnect_max_s": 4,
        "timeout_s": 2,
        "keepalive_s": 5,
        **({"username": endpoint.username} if endpoint.username else {}),
        **({"password": endpoint.password} if endpoint.password else {}),
    }
    return AgentConfig.model_validate(
        {
            "site": SITE,
            "mqtt": mqtt,
            "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
            "delivery": {"max_inflight": WINDOW, "resend_initial_s": 2, "resend_max_s": 5},
            "http": {"port": 0},
            "devices": [
                {
                    "id": device,
                    "kind": kind,
                    "driver": "http",
                    "token": f"token-{device}-0123456789",
                    "checkin_s": 300,
                }
                for device, kind in DEVICES.items()
            ],
        }
    )


async def _push_until(stop: asyncio.Event, port: int, stored: list[str]) -> None:
    """Post events round the devices until `stop`; keep the ids answered 201."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        n = 0
        while not stop.is_set():
            device, type_ = KINDS[n % len(KINDS)]
            n += 1
            response = await client.post(
                f"/v1/devices/{device}/events",
                json={"type": type_},
                headers={"Authorization": f"Bearer token-{device}-0123456789"},
            )
            if response.status_code == 201:
                stored.append(response.json()["id"])
            await asyncio.sleep(0.005)


async def _until(check: Callable[[], bool], what: str, within_s: float) -> None:
    """Poll `check` every 10 ms without blocking the loop; fail naming `what`."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        await asyncio.sleep(0.01)


def _accepted_beyond(proxy: FaultProxy, count: int) -> bool:
    return proxy.stats().connections_accepted > count


def _sessions_beyond(link: Link, count: int) -> bool:
    return link.connections > count


@pytest.mark.timeout(120)
async def test_flapping_link_loses_nothing_backs_off_with_jitter_within_the_window(
    tmp_path: Path,
    database: str,
    mqtt_endpoint: MqttEndpoint,
    topic_prefix: str,
    fault_proxy: FaultProxyFactory,
) -> None:
    """Resets every ~2 s while pushing: all stored once, reconnects ≥ 1 s apart and jittered."""
    proxy = fault_proxy(mqtt_endpoint.host, mqtt_endpoint.port)
    config = _config(tmp_path, proxy, mqtt_endpoint, topic_prefix)
    stored: list[str] = []
    gaps: list[float] = []
    with HubProcess(
        tmp_path / "hub", database_url=database, endpoint=mqtt_endpoint, prefix=topic_prefix
    ):
        async with Agent(config) as agent:
            link, http = agent.link, agent.http
            assert http is not None
            await _until(lambda: link.connections == 1, "the first connection", 10)
            stop = asyncio.Event()
            pushing = asyncio.create_task(_push_until(stop, http.port, stored))
            try:
                for _ in range(RESETS):
                    await asyncio.sleep(1.0)  # spacing the faults: let events flow
                    accepted, sessions = proxy.stats().connections_accepted, link.connections
                    reset_at = time.monotonic()
                    proxy.reset()
                    await _until(
                        functools.partial(_accepted_beyond, proxy, accepted),
                        "the agent reconnecting",
                        10,
                    )
                    gaps.append(time.monotonic() - reset_at)
                    await _until(
                        functools.partial(_sessions_beyond, link, sessions), "a session", 10
                    )
            finally:
                stop.set()
                with contextlib.suppress(httpx.TransportError):
                    await pushing
            ids = await asyncio.to_thread(
                wait_for_ids, database, set(stored), within_s=60, site=SITE
            )
            peak = link.peak_inflight

    assert len(stored) > 200
    assert set(stored) <= set(ids), f"{len(set(stored) - set(ids))} events lost"
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert min(gaps) >= RECONNECT_MIN_S, gaps
    assert max(gaps) - min(gaps) > 0.1, f"reconnect delays not jittered: {gaps}"
    assert statistics.pstdev(gaps) > 0
    assert 1 < peak <= WINDOW
